//! Exact row counts read from a custom-format archive as it streams by:
//! each table's data is COPY text, one line per row, so counting lines per
//! `TABLE DATA` block gives the rows the dump holds, without a second scan
//! of every table on the server.
//!
//! The layout (PostgreSQL's `pg_backup_archiver.c` / `pg_backup_custom.c`):
//! a header, the table of contents, then data blocks: a block type byte, the
//! entry's dump id, and length-prefixed chunks ending with a zero length.
//! Integers are a sign byte and `int_size` little-endian bytes; strings are
//! an integer length (-1 for none) and their bytes. Only archive versions
//! 1.14 to 1.16 (pg_dump 12 to 17) are read; any other is an error and the
//! caller counts on the server instead.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

const MAGIC: &[u8] = b"PGDMP";
const BLOCK_DATA: u8 = 1;
const BLOCK_BLOBS: u8 = 3;

/// Why an archive's rows could not be counted.
#[derive(Debug)]
pub struct Unreadable(pub String);

pub type Parsed<T> = std::result::Result<T, Unreadable>;

struct Reader<R> {
    inner: R,
    int_size: usize,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> Parsed<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| Unreadable(format!("the archive ended early: {e}")))?;
        Ok(buf)
    }

    fn byte(&mut self) -> Parsed<u8> {
        Ok(self.bytes::<1>()?[0])
    }

    fn int(&mut self) -> Parsed<i64> {
        let negative = self.byte()? != 0;
        let mut value: i64 = 0;
        for shift in 0..self.int_size {
            value |= i64::from(self.byte()?) << (8 * shift);
        }
        if !negative {
            return Ok(value);
        }
        // i64::MIN has no positive counterpart: a hostile stream must not overflow.
        value
            .checked_neg()
            .ok_or_else(|| Unreadable("an integer in the archive is out of range".into()))
    }

    fn string(&mut self) -> Parsed<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        // TOC strings are SQL definitions: far below this, unless the stream is not what it claims.
        const LONGEST: i64 = 256 << 20;
        if len > LONGEST {
            return Err(Unreadable(format!("a {len}-byte string in the table of contents")));
        }
        let mut buf = vec![0u8; len as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| Unreadable(format!("the archive ended early: {e}")))?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn skip(&mut self, len: u64) -> Parsed<()> {
        let copied = std::io::copy(&mut (&mut self.inner).take(len), &mut std::io::sink())
            .map_err(|e| Unreadable(format!("reading the archive: {e}")))?;
        if copied < len {
            return Err(Unreadable("the archive ended inside a data chunk".into()));
        }
        Ok(())
    }

    /// Counts the rows of one data block's chunks: its lines, less the
    /// end-of-data marker `\.` and the blank lines pg_dump writes after it.
    fn count_lines(&mut self) -> Parsed<u64> {
        let mut lines = 0;
        // The block's last bytes, to recognise the marker at its end.
        let mut tail: Vec<u8> = Vec::with_capacity(16);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let len = self.int()?;
            if len == 0 {
                break;
            }
            let mut left = u64::try_from(len).map_err(|_| Unreadable("bad chunk length".into()))?;
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                self.inner
                    .read_exact(&mut buf[..want])
                    .map_err(|e| Unreadable(format!("the archive ended inside a data chunk: {e}")))?;
                lines += buf[..want].iter().filter(|&&b| b == b'\n').count() as u64;
                tail.extend_from_slice(&buf[want.saturating_sub(8)..want]);
                tail.drain(..tail.len().saturating_sub(8));
                left -= want as u64;
            }
        }
        Ok(lines - marker_lines(&tail))
    }
}

/// How many of the lines at the end of `tail` (a block's last bytes) are
/// the end-of-data marker and the blank lines after it. A row can never be
/// `\.` alone: COPY escapes a backslash in data as `\\`.
fn marker_lines(tail: &[u8]) -> u64 {
    let blanks = tail.iter().rev().take_while(|&&b| b == b'\n').count();
    let before = &tail[..tail.len() - blanks];
    if blanks > 0 && before.ends_with(b"\\.") {
        let at_line_start = before.len() == 2 || before[before.len() - 3] == b'\n';
        if at_line_start {
            return blanks as u64;
        }
    }
    0
}

/// One entry of an archive's table of contents: what `pg_restore -l`
/// lists, with the dump ids each entry depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TocEntry {
    pub dump_id: i64,
    /// `TABLE`, `TABLE DATA`, `INDEX`, `FK CONSTRAINT`, ...
    pub desc: String,
    /// The schema, empty for objects outside one.
    pub namespace: String,
    /// The object's name (for a column default, "table column").
    pub tag: String,
    pub dependencies: Vec<i64>,
}

/// Reads an archive's header and table of contents, and nothing after.
pub fn table_of_contents(input: impl Read) -> Parsed<Vec<TocEntry>> {
    let mut r = Reader { inner: input, int_size: 4 };
    read_toc(&mut r)
}

fn read_toc<R: Read>(r: &mut Reader<R>) -> Parsed<Vec<TocEntry>> {
    if r.bytes::<5>()? != *MAGIC {
        return Err(Unreadable("not a custom-format archive".into()));
    }
    let [major, minor, _rev] = r.bytes::<3>()?;
    if major != 1 || !(14..=16).contains(&minor) {
        return Err(Unreadable(format!(
            "archive version {major}.{minor} is not one this Lifeboat reads"
        )));
    }
    let [int_size, off_size, _format] = r.bytes::<3>()?;
    if !(1..=8).contains(&int_size) {
        return Err(Unreadable(format!("unexpected integer size {int_size}")));
    }
    r.int_size = usize::from(int_size);
    if minor >= 15 {
        r.byte()?; // compression algorithm
    } else {
        r.int()?; // compression level
    }
    for _ in 0..7 {
        r.int()?; // creation time
    }
    for _ in 0..3 {
        r.string()?; // database name, server version, pg_dump version
    }

    let count = r.int()?;
    // Each entry takes dozens of bytes: a count far past any schema is a damaged stream.
    const MOST_ENTRIES: i64 = 50_000_000;
    if !(0..=MOST_ENTRIES).contains(&count) {
        return Err(Unreadable(format!("{count} entries in the table of contents")));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let dump_id = r.int()?;
        r.int()?; // has a data dumper
        r.string()?; // table oid
        r.string()?; // oid
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        r.int()?; // section
        for _ in 0..3 {
            r.string()?; // definition, drop statement, copy statement
        }
        let namespace = r.string()?.unwrap_or_default();
        r.string()?; // tablespace
        r.string()?; // table access method
        if minor >= 16 {
            r.int()?; // relkind
        }
        r.string()?; // owner
        r.string()?; // "false": WITH OIDS
        let mut dependencies = Vec::new();
        while let Some(dependency) = r.string()? {
            // pg_dump writes each as a decimal id; anything else names nothing.
            if let Ok(id) = dependency.trim().parse() {
                dependencies.push(id);
            }
        }
        r.byte()?; // data offset: flag
        r.skip(u64::from(off_size))?; // data offset
        entries.push(TocEntry {
            dump_id,
            desc,
            namespace,
            tag,
            dependencies,
        });
    }
    Ok(entries)
}

/// Reads a whole custom-format archive from `input` and returns the row
/// count of every table it holds data for, keyed `schema.table`.
pub fn count_rows(input: impl Read) -> Parsed<BTreeMap<String, u64>> {
    let mut r = Reader { inner: input, int_size: 4 };
    let tables: HashMap<i64, String> = read_toc(&mut r)?
        .into_iter()
        .filter(|e| e.desc == "TABLE DATA")
        .map(|e| (e.dump_id, format!("{}.{}", e.namespace, e.tag)))
        .collect();

    let mut counts = BTreeMap::new();
    loop {
        let mut block = [0u8; 1];
        match r.inner.read(&mut block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(Unreadable(format!("reading the archive: {e}"))),
        }
        let dump_id = r.int()?;
        match block[0] {
            BLOCK_DATA => {
                let lines = r.count_lines()?;
                if let Some(table) = tables.get(&dump_id) {
                    *counts.entry(table.clone()).or_insert(0) += lines;
                }
            }
            BLOCK_BLOBS => {
                // Large objects: an oid, its chunks, ... until an oid of 0.
                while r.int()? != 0 {
                    r.count_lines()?;
                }
            }
            other => return Err(Unreadable(format!("unknown data block type {other}"))),
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(out: &mut Vec<u8>, value: i64) {
        out.push(u8::from(value < 0));
        out.extend_from_slice(&value.unsigned_abs().to_le_bytes()[..4]);
    }

    fn string(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            None => int(out, -1),
            Some(s) => {
                int(out, s.len() as i64);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn entry(out: &mut Vec<u8>, id: i64, tag: &str, desc: &str, namespace: &str) {
        int(out, id);
        int(out, 1);
        string(out, Some("1259"));
        string(out, Some("16384"));
        string(out, Some(tag));
        string(out, Some(desc));
        int(out, 3);
        for s in [
            Some(""),
            Some(""),
            Some("COPY x FROM stdin;\n"),
            Some(namespace),
            None,
            Some("heap"),
        ] {
            string(out, s);
        }
        string(out, Some("postgres"));
        string(out, Some("false"));
        string(out, Some("5"));
        string(out, None);
        out.push(1);
        out.extend_from_slice(&[0; 8]);
    }

    /// A hand-built version 1.14 archive: two tables, one empty, and a large object.
    fn archive(version_minor: u8) -> Vec<u8> {
        let mut out = b"PGDMP".to_vec();
        out.extend_from_slice(&[1, version_minor, 0, 4, 8, 1]);
        int(&mut out, 0);
        for _ in 0..7 {
            int(&mut out, 1);
        }
        for s in ["shop", "15.18", "15.18"] {
            string(&mut out, Some(s));
        }
        int(&mut out, 4);
        entry(&mut out, 10, "orders", "TABLE", "sales");
        entry(&mut out, 20, "orders", "TABLE DATA", "sales");
        entry(&mut out, 21, "empty", "TABLE DATA", "public");
        entry(&mut out, 30, "BLOBS", "BLOBS", "");
        for (id, rows) in [(20, vec!["1\ta\n", "2\tline\\nbreak\n", "3\tc\n"]), (21, vec![])] {
            out.push(BLOCK_DATA);
            int(&mut out, id);
            for row in rows.into_iter().chain(["\\.\n\n\n"]) {
                int(&mut out, row.len() as i64);
                out.extend_from_slice(row.as_bytes());
            }
            int(&mut out, 0);
        }
        out.push(BLOCK_BLOBS);
        int(&mut out, 30);
        int(&mut out, 16500);
        int(&mut out, 6);
        out.extend_from_slice(b"lo\nlo\n");
        int(&mut out, 0);
        int(&mut out, 0);
        out
    }

    #[test]
    fn counts_rows_per_table_and_ignores_large_objects() {
        let counts = count_rows(archive(14).as_slice()).unwrap();
        assert_eq!(
            counts,
            BTreeMap::from([("public.empty".to_string(), 0), ("sales.orders".to_string(), 3)])
        );
    }

    #[test]
    fn the_end_of_data_marker_is_not_a_row() {
        assert_eq!(marker_lines(b"\\.\n\n\n"), 3);
        assert_eq!(marker_lines(b"x\n\\.\n\n\n"), 3);
        assert_eq!(marker_lines(b"x\n\\.\n"), 1);
        assert_eq!(marker_lines(b"1\tab\\.\n"), 0, "a row ending in an escaped backslash and a dot");
        assert_eq!(marker_lines(b"1\tabc\n"), 0);
    }

    #[test]
    fn unknown_versions_and_truncated_archives_are_errors() {
        assert!(count_rows(archive(13).as_slice()).unwrap_err().0.contains("1.13"));
        let whole = archive(14);
        assert!(count_rows(&whole[..whole.len() - 10]).is_err());
        assert!(count_rows(&b"not an archive"[..]).is_err());
    }

    #[test]
    fn an_integer_that_cannot_be_negated_is_an_error_not_an_overflow() {
        // Header with 8-byte integers; the compression level is -(2^63).
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 14, 0, 8, 8, 0]);
        bytes.push(1);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
        let err = count_rows(bytes.as_slice()).unwrap_err();
        assert!(err.0.contains("out of range"), "{}", err.0);
    }
}
