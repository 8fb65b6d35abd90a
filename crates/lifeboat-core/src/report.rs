//! The restore-test report ([`RestoreTestReport`]) as a document an auditor
//! files: a self-contained HTML page, or a PDF in the standard Helvetica
//! font (nothing embedded, so it opens anywhere). Both say the same lines.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::error::{Error, Result};
use crate::ops::report::{RestoreTestReport, TestEntry};
use crate::paths::write_whole_file;

/// Writes `report` to `path`, as a PDF or an HTML page by its extension,
/// whole or not at all; an existing file is replaced only with `overwrite`.
pub fn write(report: &RestoreTestReport, path: &std::path::Path, overwrite: bool) -> Result<()> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("pdf") => pdf(report),
        Some("html" | "htm") => html(report).into_bytes(),
        _ => return Err(Error::InvalidInput(format!("{}: name an .html or .pdf file", path.display()))),
    };
    write_whole_file(path, overwrite, |out| out.write_all(&bytes).map_err(Error::Output))
}

const TIME: &str = "%Y-%m-%d %H:%M UTC";

fn title(report: &RestoreTestReport) -> String {
    format!(
        "Lifeboat restore tests, {} to {}",
        report.since.format("%Y-%m-%d"),
        report.generated_at.format("%Y-%m-%d")
    )
}

fn overview(report: &RestoreTestReport) -> String {
    format!(
        "Repository {}. {} drills and restores, {} passed, {} failed. Generated {}.",
        report.repository_id,
        report.entries.len(),
        report.passed(),
        report.entries.len() - report.passed(),
        report.generated_at.format(TIME)
    )
}

fn kind(entry: &TestEntry) -> &'static str {
    match entry.kind {
        crate::catalog::RunKind::Drill => "Drill",
        _ => "Restore",
    }
}

/// The facts of one entry, one per line.
fn facts(entry: &TestEntry) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {} - {}",
        kind(entry),
        entry.started_at.format(TIME),
        if entry.passed() { "PASSED" } else { "FAILED" }
    )];
    lines.push(entry.summary.clone());
    match (&entry.snapshot_id, &entry.sha256) {
        (Some(id), Some(sha)) => lines.push(format!(
            "Snapshot {id} of {} taken {}, SHA-256 {sha}",
            entry.snapshot_name.as_deref().unwrap_or("?"),
            entry.snapshot_time.map(|t| t.format(TIME).to_string()).unwrap_or_default()
        )),
        (Some(id), None) => lines.push(format!("Snapshot {id} (since removed from the repository)")),
        _ => {}
    }
    if let Some(target) = &entry.target {
        lines.push(format!("Restored on {target}"));
    }
    lines
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report as one HTML page (inline style, no scripts, every text escaped).
pub fn html(report: &RestoreTestReport) -> String {
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
         body{{font-family:sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:.5em 0 1.5em}} \
         td,th{{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}} \
         .passed{{color:#176117}} .failed{{color:#a11}} code{{font-size:.9em}}</style></head><body>\n\
         <h1>{title}</h1>\n<p>{overview}</p>\n",
        title = escape(&title(report)),
        overview = escape(&overview(report))
    );
    if report.entries.is_empty() {
        page.push_str("<p>No drill or restore ran in this period.</p>\n");
    }
    for entry in &report.entries {
        let (class, verdict) = if entry.passed() {
            ("passed", "PASSED")
        } else {
            ("failed", "FAILED")
        };
        page.push_str(&format!(
            "<h2>{} {} <span class=\"{class}\">{verdict}</span></h2>\n<ul>\n",
            kind(entry),
            entry.started_at.format(TIME)
        ));
        for line in facts(entry).iter().skip(1) {
            page.push_str(&format!("<li>{}</li>\n", escape(line)));
        }
        page.push_str("</ul>\n");
        if !entry.checks.is_empty() {
            page.push_str("<table><tr><th>Check</th><th>Outcome</th><th>Detail</th></tr>\n");
            for check in &entry.checks {
                let (class, outcome) = if check.passed { ("passed", "passed") } else { ("failed", "failed") };
                page.push_str(&format!(
                    "<tr><td>{}</td><td class=\"{class}\">{outcome}</td><td>{}</td></tr>\n",
                    escape(&check.name),
                    escape(&check.detail)
                ));
            }
            page.push_str("</table>\n");
        }
    }
    page.push_str("</body></html>\n");
    page
}

/// A4 in points, and the layout of its text.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const BODY: f32 = 9.0;
const LEADING: f32 = 12.5;
/// Characters of body text a line holds at this size (Helvetica averages
/// about half an em a character).
const LINE_CHARS: usize = 100;

/// A line of the PDF: its size, and whether it starts a new block.
struct Line {
    size: f32,
    text: String,
    gap_before: bool,
}

fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        // A word longer than a line (a SHA-256) is cut.
        let mut word = word.to_string();
        while word.chars().count() > width {
            let cut: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(cut);
        }
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// The text in the standard fonts' WinAnsi encoding: Latin-1 characters
/// as they are, anything else as `?` (names and messages are shown, not
/// relied on).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok().filter(|b| *b >= 0x20).unwrap_or(b'?'))
        .collect()
}

/// The report as a PDF document.
pub fn pdf(report: &RestoreTestReport) -> Vec<u8> {
    let mut lines = vec![Line {
        size: 15.0,
        text: title(report),
        gap_before: false,
    }];
    let body = |text: &str, gap_before: bool, lines: &mut Vec<Line>| {
        for (i, part) in wrapped(text, LINE_CHARS).into_iter().enumerate() {
            lines.push(Line {
                size: BODY,
                text: part,
                gap_before: gap_before && i == 0,
            });
        }
    };
    body(&overview(report), true, &mut lines);
    if report.entries.is_empty() {
        body("No drill or restore ran in this period.", true, &mut lines);
    }
    for entry in &report.entries {
        let facts = facts(entry);
        lines.push(Line {
            size: 11.0,
            text: facts[0].clone(),
            gap_before: true,
        });
        for fact in &facts[1..] {
            body(fact, false, &mut lines);
        }
        for check in &entry.checks {
            let outcome = if check.passed { "passed" } else { "FAILED" };
            body(&format!("- {}: {outcome}. {}", check.name, check.detail), false, &mut lines);
        }
    }

    // Pages: each as many lines as fit between the margins.
    let mut pages: Vec<Vec<(f32, &Line)>> = vec![Vec::new()];
    let mut y = PAGE.1 - MARGIN;
    for line in &lines {
        let step = line.size + (LEADING - BODY) + if line.gap_before { LEADING } else { 0.0 };
        if y - step < MARGIN {
            pages.push(Vec::new());
            y = PAGE.1 - MARGIN;
        }
        y -= step;
        pages.last_mut().expect("a page").push((y, line));
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(4 + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let count = pages.len();
    for (number, (page_lines, id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(*id);
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();
        let mut content = Content::new();
        for (y, line) in page_lines {
            content.begin_text();
            content.set_font(Name(b"F1"), line.size);
            content.next_line(MARGIN, *y);
            content.show(Str(&win_ansi(&line.text)));
            content.end_text();
        }
        let footer = format!("page {} of {count}", number + 1);
        content.begin_text();
        content.set_font(Name(b"F1"), 8.0);
        content.next_line(MARGIN, MARGIN / 2.0);
        content.show(Str(footer.as_bytes()));
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_and_lines_wrap_within_the_width() {
        let sha = "a".repeat(64);
        let lines = wrapped(&format!("Snapshot of shop, SHA-256 {sha} verified"), 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), format!("Snapshotofshop,SHA-256{sha}verified"));
        assert_eq!(wrapped("", 30), vec![String::new()]);
    }

    #[test]
    fn text_outside_latin_1_becomes_a_question_mark() {
        assert_eq!(win_ansi("café ✓\n"), b"caf\xe9 ??".to_vec());
    }
}
