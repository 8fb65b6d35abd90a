//! Corruption campaign: every kind of repository file is flipped, truncated,
//! extended or deleted at random, one damage per iteration on a fresh copy
//! of a small repository. Whatever the damage, no read returns wrong bytes
//! (every snapshot reads back exactly or fails), nothing panics, and a
//! damage to a file's content is caught by opening, reading or
//! `check --read-data`, whose errors come with next steps.
//!
//! Bounded in CI; a longer run:
//! `LIFEBOAT_CAMPAIGN_ITERATIONS=5000 LIFEBOAT_CAMPAIGN_SEED=7 cargo test -p lifeboat-core --test corruption --release`

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lifeboat_core::backend::LocalBackend;
use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::check::{check, CheckOptions};
use lifeboat_core::repo::keys;
use lifeboat_core::repo::manifest::{self, SnapshotKind};
use lifeboat_core::repo::open::{self, OpenRequest};
use lifeboat_core::repo::read::{cat, ReadOptions};
use lifeboat_core::repo::store::{put, PutOptions};
use lifeboat_testkit::files_under;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A repository with three snapshots of two names sharing content, small
/// packs so there are many; returns the recovery kit's text (it opens
/// without Argon2, so iterations stay fast) and each snapshot's bytes.
fn pristine(dir: &Path, rng: &mut StdRng) -> (String, Vec<(String, Vec<u8>)>) {
    let repo = lifeboat_testkit::small_repository(dir);
    let (_, kit) = keys::add_recovery_kit(&repo, "campaign").unwrap();
    let mut shared = vec![0u8; 60_000];
    rng.fill_bytes(&mut shared);
    let mut snapshots = Vec::new();
    for (tag, extra) in [("db", 20_000), ("db", 30_000), ("other", 10_000)] {
        let mut data = shared.clone();
        let mut tail = vec![0u8; extra];
        rng.fill_bytes(&mut tail);
        data.extend(tail);
        // A few bytes changed in place for the second version: its chunks
        // there are deltas of the first's, so damage to a base is covered.
        shared[10_000..10_008].copy_from_slice(b"changed!");
        shared[40_000..40_008].copy_from_slice(b"changed!");
        let options = PutOptions {
            tag: tag.into(),
            kind: SnapshotKind::Manual,
            label: None,
            metadata: Default::default(),
            lock_wait: Duration::ZERO,
            allow_empty: false,
            provenance: None,
        };
        let report = put(&repo, &mut data.as_slice(), &options, &NoProgress).unwrap();
        assert!(snapshots.len() != 1 || report.delta_chunks > 0, "the second version has deltas");
        snapshots.push((report.snapshot_id, data));
    }
    (kit.to_text(&dir.display().to_string()), snapshots)
}

fn copy_tree(from: &Path, to: &Path) {
    for file in files_under(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Damage {
    Flip,
    Truncate,
    Extend,
    Delete,
}

/// Damages `file`; returns what was done, for the failure message.
fn damage(file: &Path, kind: Damage, rng: &mut StdRng) -> String {
    let mut bytes = std::fs::read(file).unwrap();
    match kind {
        Damage::Flip if !bytes.is_empty() => {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] ^= 1 << rng.gen_range(0..8);
            std::fs::write(file, &bytes).unwrap();
            format!("flipped a bit at {at} of {}", bytes.len())
        }
        Damage::Truncate if !bytes.is_empty() => {
            let to = rng.gen_range(0..bytes.len());
            bytes.truncate(to);
            std::fs::write(file, &bytes).unwrap();
            format!("truncated to {to}")
        }
        Damage::Extend | Damage::Flip | Damage::Truncate => {
            let mut garbage = vec![0u8; rng.gen_range(1..64)];
            rng.fill_bytes(&mut garbage);
            // Trailing whitespace after a JSON file's end changes nothing it says.
            garbage[0] |= 0x80;
            bytes.extend(&garbage);
            std::fs::write(file, &bytes).unwrap();
            format!("extended by {}", garbage.len())
        }
        Damage::Delete => {
            std::fs::remove_file(file).unwrap();
            "deleted".into()
        }
    }
}

#[test]
fn no_damage_ever_reads_back_as_wrong_bytes_and_content_damage_is_always_caught() {
    let iterations = setting("LIFEBOAT_CAMPAIGN_ITERATIONS", 1000);
    let seed = setting("LIFEBOAT_CAMPAIGN_SEED", 20261130);
    let mut rng = StdRng::seed_from_u64(seed);
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    let (kit, snapshots) = pristine(&clean, &mut rng);
    let clean_files = files_under(&clean);
    let mut caught = 0;
    for iteration in 0..iterations {
        let work = base.path().join(format!("run{iteration}"));
        copy_tree(&clean, &work);
        let victim = work.join(clean_files[rng.gen_range(0..clean_files.len())].strip_prefix(&clean).unwrap());
        let kind = [Damage::Flip, Damage::Truncate, Damage::Extend, Damage::Delete][rng.gen_range(0..4)];
        let done = damage(&victim, kind, &mut rng);
        let what = format!(
            "seed {seed}, iteration {iteration}: {} {done}",
            victim.strip_prefix(&work).unwrap().display()
        );

        let manifest_deleted = kind == Damage::Delete && victim.parent().is_some_and(|p| p.ends_with("snapshots"));
        let request = OpenRequest {
            recovery_kit: Some(kit.clone().into()),
            ..Default::default()
        };
        let detected = match open::open(Arc::new(LocalBackend::new(&work)), request) {
            Err(_) => true,
            Ok(opened) => {
                let repo = opened.repo;
                let mut read_failed = false;
                for (id, expected) in &snapshots {
                    let read = manifest::load(&repo, id).and_then(|snapshot| {
                        let mut out = Vec::new();
                        cat(&repo, &snapshot, &mut out, &NoProgress, ReadOptions::default()).map(|_| out)
                    });
                    match read {
                        Ok(bytes) => assert!(&bytes == expected, "{what}: snapshot {id} read back wrong bytes"),
                        // Its manifest deleted: gone as if forgotten (the catalog's memory warns of that).
                        Err(lifeboat_core::Error::Missing(_)) if manifest_deleted => {}
                        Err(_) => read_failed = true,
                    }
                }
                let report = check(
                    &repo,
                    CheckOptions {
                        read_data: true,
                        lock_wait: Duration::ZERO,
                    },
                    &NoProgress,
                );
                match report {
                    Err(_) => true,
                    Ok(report) => {
                        if !report.errors.is_empty() {
                            assert!(!report.next_steps.is_empty(), "{what}: errors without next steps: {report:?}");
                        }
                        assert!(
                            !read_failed || !report.errors.is_empty(),
                            "{what}: a snapshot failed to read but check says healthy: {report:?}"
                        );
                        read_failed || !report.errors.is_empty() || !report.warnings.is_empty()
                    }
                }
            }
        };
        // A changed byte anywhere is caught; a deletion may be invisible
        // (a whole manifest or key slot gone looks like forget / key remove).
        if kind != Damage::Delete {
            assert!(detected, "{what}: the damage went unnoticed");
        }
        caught += usize::from(detected);
        std::fs::remove_dir_all(&work).unwrap();
    }
    println!("corruption campaign: seed {seed}, {iterations} iterations, {caught} damages caught, no wrong bytes");
}
