//! What `check` tells the admin about each kind of damage, pinned as insta
//! snapshots: the errors, the warnings, which snapshots are affected and
//! what to do. A change to any of these messages shows up as a snapshot
//! diff to review (`cargo insta review`, or `INSTA_UPDATE=always`).
//!
//! Ids are random (nonces make every pack and manifest name new), so they
//! are replaced by `<id>` and times by `<time>`; everything else is exact.
//! The chunker is keyed per repository, so each backup here is smaller than
//! the smallest chunk: one chunk whatever the key. How a backup's few blobs
//! spread over packs depends on which worker thread takes them, so pack
//! counts, byte counts (2 digits or more) and repeated lines are left out,
//! and errors and warnings are sorted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::check::{check, CheckOptions, CheckReport};
use lifeboat_core::repo::store::{put, PutOptions};
use lifeboat_core::repo::{keys, Repository};
use lifeboat_testkit::files_under;

/// Dump-like text below the smallest chunk size (512 bytes here).
fn version(n: u32) -> Vec<u8> {
    (0..12u32)
        .map(|row| format!("{row}\tcustomer {n}\n"))
        .collect::<String>()
        .into_bytes()
}

/// The files under `folder` of the repository at `root`, sorted.
fn files_in(root: &Path, folder: &str) -> BTreeSet<PathBuf> {
    files_under(&root.join(folder)).into_iter().collect()
}

/// What one backup wrote: its packs and its index files.
struct Written {
    packs: BTreeSet<PathBuf>,
    index: BTreeSet<PathBuf>,
}

/// A repository with two snapshots of `db` (the second the same data, so
/// sharing the first's chunk) and one of `other`, and a second key slot.
/// Returns what each backup wrote, in order.
fn pristine(root: &Path) -> (Repository, Vec<Written>) {
    let repo = lifeboat_testkit::small_repository_with_packs_of(root, 4 << 20);
    keys::add_passphrase(&repo, "a second passphrase", "second").unwrap();
    let mut written = Vec::new();
    for (tag, data) in [("db", version(1)), ("db", version(1)), ("other", version(3))] {
        let (packs, index) = (files_in(root, "data"), files_in(root, "index"));
        let options = PutOptions {
            tag: tag.into(),
            ..Default::default()
        };
        put(&repo, &mut data.as_slice(), &options, &NoProgress).unwrap();
        written.push(Written {
            packs: files_in(root, "data").difference(&packs).cloned().collect(),
            index: files_in(root, "index").difference(&index).cloned().collect(),
        });
    }
    (repo, written)
}

/// The report as the admin reads it, made the same on every run.
fn render(report: &CheckReport) -> String {
    let mut text = format!(
        "healthy: {}\nsnapshots: {}, blobs: {}, data read: {}\naffected snapshots: {}\n",
        report.healthy(),
        report.snapshots,
        report.blobs,
        report.bytes_verified > 0,
        report.affected_snapshots.len()
    );
    for (title, lines) in [("errors", &report.errors), ("warnings", &report.warnings)] {
        text.push_str(&format!("{title}:\n"));
        // Sorted: the engine lists findings in the order of (random) ids.
        let shown: BTreeSet<String> = lines.iter().map(|l| stable(l)).collect();
        for line in shown {
            text.push_str(&format!("  - {line}\n"));
        }
    }
    // In the engine's order, which is the order to do them in.
    text.push_str("next steps:\n");
    for step in &report.next_steps {
        text.push_str(&format!("  - {}\n", stable(step)));
    }
    text
}

/// Replaces hexadecimal ids (8 characters or more, and the two of a pack's
/// folder) with `<id>`, `YYYY-MM-DD HH:MM[:SS][ UTC]` or RFC 3339 times
/// with `<time>`, and numbers of 2 digits or more (sizes, offsets) with `<n>`.
fn stable(text: &str) -> String {
    let ids = regex::Regex::new(r"\b[0-9a-f]{8,}\b|\bdata/[0-9a-f]{2}/").unwrap();
    let times = regex::Regex::new(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}| UTC)?").unwrap();
    let text = times.replace_all(text, "<time>");
    let text = ids.replace_all(
        &text,
        |found: &regex::Captures| if found[0].starts_with("data/") { "data/<id>/" } else { "<id>" },
    );
    regex::Regex::new(r"\b\d{2,}\b").unwrap().replace_all(&text, "<n>").into_owned()
}

fn checked(repo: &Repository, read_data: bool) -> String {
    let options = CheckOptions {
        read_data,
        lock_wait: Duration::from_secs(5),
    };
    render(&check(repo, options, &NoProgress).unwrap())
}

fn flip_byte(file: &Path, at: impl FnOnce(usize) -> usize) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = at(bytes.len());
    bytes[at] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
}

/// Into the first blob: every blob of the pack is lost, however many.
fn cut_to_20_bytes(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..20]).unwrap();
}

/// Damages a fresh copy of the pristine repository with `damage`, checks
/// it, and pins the report under `name`.
fn case(name: &str, read_data: bool, damage: impl FnOnce(&Path, &[Written], &Repository)) {
    let dir = tempfile::tempdir().unwrap();
    let (repo, written) = pristine(dir.path());
    damage(dir.path(), &written, &repo);
    insta::assert_snapshot!(name, checked(&repo, read_data));
}

#[test]
fn a_healthy_repository() {
    case("healthy_structure", false, |_, _, _| {});
    case("healthy_read_data", true, |_, _, _| {});
}

#[test]
fn the_packs_two_snapshots_share_are_deleted() {
    case("packs_shared_deleted", false, |_, written, _| {
        written[0].packs.iter().for_each(|p| std::fs::remove_file(p).unwrap())
    });
}

#[test]
fn the_packs_one_snapshot_needs_are_deleted() {
    case("packs_of_other_deleted", false, |_, written, _| {
        written[2].packs.iter().for_each(|p| std::fs::remove_file(p).unwrap())
    });
}

/// Only reading the data finds it (the structure check reads a snapshot's
/// blob list, so it may or may not, by where the worker threads put it).
#[test]
fn a_byte_in_a_pack_changes() {
    // A byte of the first blob's ciphertext: whichever blob that is, only
    // `other` needs it.
    case("pack_byte_flipped_read_data", true, |_, written, _| {
        written[2].packs.iter().for_each(|p| flip_byte(p, |_| 20))
    });
}

#[test]
fn a_pack_is_cut_short() {
    case("pack_truncated", false, |_, written, _| {
        written[2].packs.iter().for_each(|p| cut_to_20_bytes(p))
    });
}

#[test]
fn the_index_is_deleted() {
    case("index_deleted", false, |root, _, _| {
        for file in files_in(root, "index") {
            std::fs::remove_file(file).unwrap();
        }
    });
}

#[test]
fn a_byte_in_an_index_file_changes() {
    // The index the backup of `other` wrote.
    case("index_byte_flipped", false, |_, written, _| {
        written[2].index.iter().for_each(|f| flip_byte(f, |len| len / 2))
    });
}

#[test]
fn a_snapshot_manifest_changes_or_goes() {
    // The newest snapshot of `other`: the latest pointer names it.
    let newest_manifest = |root: &Path, repo: &Repository| {
        let pointer = lifeboat_core::repo::manifest::read_latest(repo, "other").unwrap().unwrap();
        files_in(root, "snapshots")
            .into_iter()
            .find(|f| f.file_name().unwrap().to_string_lossy() == pointer.snapshot)
            .unwrap()
    };
    case("manifest_byte_flipped", false, |root, _, repo| {
        flip_byte(&newest_manifest(root, repo), |len| len / 2)
    });
    case("manifest_deleted", false, |root, _, repo| {
        std::fs::remove_file(newest_manifest(root, repo)).unwrap()
    });
}

#[test]
fn a_key_slot_changes() {
    case("key_slot_byte_flipped", false, |root, _, repo| {
        let other_slot = files_in(root, "keys")
            .into_iter()
            .find(|f| f.file_name().unwrap().to_string_lossy() != repo.slot_id())
            .unwrap();
        let text = std::fs::read_to_string(&other_slot).unwrap();
        // A character of the label: still JSON, the checksum no longer matches.
        std::fs::write(&other_slot, text.replacen("\"second\"", "\"secone\"", 1)).unwrap();
    });
}
