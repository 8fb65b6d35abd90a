//! Prune then `check --read-data` is healthy, over random histories of
//! puts, forgets and prunes on a real folder, and every kept snapshot still
//! reads back byte-identical. Also: blobs stored twice by concurrent writers.

use std::collections::BTreeMap;
use std::time::Duration;

use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::check::{check, CheckOptions};
use lifeboat_core::repo::manifest;
use lifeboat_core::repo::prune::{prune, PruneOptions};
use lifeboat_core::repo::read::{cat, ReadOptions};
use lifeboat_core::repo::retention::{forget, forget_snapshots, ForgetOptions, KeepReason, RetentionPolicy};
use lifeboat_core::repo::store::{put, PutOptions};
use lifeboat_core::repo::Repository;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

fn small_repository(dir: &std::path::Path) -> Repository {
    lifeboat_testkit::small_repository(&dir.join("repo"))
}

/// A segment: half random bytes, half COPY-like text lines.
fn segment(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len / 2];
    rng.fill_bytes(&mut out);
    while out.len() < len {
        let line = format!("{}\tuser{}\t{}\n", rng.gen::<u32>(), rng.gen_range(0..1000), rng.gen::<u16>());
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

/// A database that rewrites a quarter of its segments per version and
/// changes a few rows in place in another quarter (stored as deltas).
struct Source {
    segments: Vec<Vec<u8>>,
}

impl Source {
    fn new(rng: &mut StdRng, count: usize) -> Self {
        Source {
            segments: (0..count).map(|_| segment(rng, 16 * 1024)).collect(),
        }
    }
    fn next_version(&mut self, rng: &mut StdRng) -> Vec<u8> {
        for _ in 0..self.segments.len() / 4 {
            let at = rng.gen_range(0..self.segments.len());
            self.segments[at] = segment(rng, 16 * 1024);
        }
        for _ in 0..self.segments.len() / 4 {
            let which = rng.gen_range(0..self.segments.len());
            let segment = &mut self.segments[which];
            let at = rng.gen_range(0..segment.len() - 16);
            rng.fill_bytes(&mut segment[at..at + 16]);
        }
        self.segments.concat()
    }
}

fn options(tag: &str) -> PutOptions {
    PutOptions {
        tag: tag.into(),
        lock_wait: Duration::from_secs(5),
        ..Default::default()
    }
}

fn prune_now(repo: &Repository) -> lifeboat_core::repo::prune::PruneReport {
    let options = PruneOptions {
        dry_run: false,
        lock_wait: Duration::from_secs(5),
    };
    prune(repo, options, &NoProgress).unwrap()
}

fn forget_all_but_last(repo: &Repository, tag: &str, keep_last: u32) {
    let options = ForgetOptions {
        policy: RetentionPolicy {
            keep_last,
            ..Default::default()
        },
        now: chrono::Utc::now(),
        tag: Some(tag.into()),
        dry_run: false,
        lock_wait: Duration::from_secs(5),
    };
    forget(repo, &options, &chrono::Utc).unwrap();
}

fn assert_healthy_and_readable(repo: &Repository, stored: &BTreeMap<String, Vec<u8>>) {
    let report = check(
        repo,
        CheckOptions {
            read_data: true,
            lock_wait: Duration::from_secs(5),
        },
        &NoProgress,
    )
    .unwrap();
    assert!(report.healthy(), "check after prune: {:?}", report.errors);
    let ids: Vec<String> = manifest::list(repo).unwrap().snapshots.into_iter().map(|s| s.id).collect();
    for id in &ids {
        let snapshot = manifest::load(repo, id).unwrap();
        let mut out = Vec::new();
        cat(repo, &snapshot, &mut out, &NoProgress, ReadOptions::default()).unwrap();
        assert!(out == stored[id], "snapshot {id} reads back different bytes");
    }
}

#[derive(Clone, Debug)]
enum Step {
    Put { tag: usize },
    Forget { tag: usize, keep_last: u32 },
    Prune,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize).prop_map(|tag| Step::Put { tag }),
        2 => (0..2usize, 1..4u32).prop_map(|(tag, keep_last)| Step::Forget { tag, keep_last }),
        2 => Just(Step::Prune),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prune_then_check_read_data_is_healthy(seed in any::<u64>(), steps in prop::collection::vec(step(), 4..14)) {
        let dir = tempfile::tempdir().unwrap();
        let repo = small_repository(dir.path());
        let mut rng = StdRng::seed_from_u64(seed);
        let mut sources = [Source::new(&mut rng, 24), Source::new(&mut rng, 12)];
        let mut stored = BTreeMap::new();
        for step in steps.iter().chain([Step::Prune].iter()) {
            match step {
                Step::Put { tag } => {
                    let data = sources[*tag].next_version(&mut rng);
                    let report = put(&repo, &mut data.as_slice(), &options(&format!("db{tag}")), &NoProgress).unwrap();
                    stored.insert(report.snapshot_id, data);
                }
                Step::Forget { tag, keep_last } => forget_all_but_last(&repo, &format!("db{tag}"), *keep_last),
                Step::Prune => {
                    prune_now(&repo);
                    assert_healthy_and_readable(&repo, &stored);
                }
            }
        }
    }
}

/// The reproduction, at a smaller scale: eight versions sharing three
/// quarters of their content, another name, keep the last three, prune.
#[test]
fn repacking_prune_leaves_a_healthy_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = small_repository(dir.path());
    let mut rng = StdRng::seed_from_u64(7);
    let mut db = Source::new(&mut rng, 32);
    let mut stored = BTreeMap::new();
    for _ in 0..8 {
        let data = db.next_version(&mut rng);
        stored.insert(
            put(&repo, &mut data.as_slice(), &options("db"), &NoProgress).unwrap().snapshot_id,
            data,
        );
    }
    let other = Source::new(&mut rng, 16).segments.concat();
    stored.insert(
        put(&repo, &mut other.as_slice(), &options("other"), &NoProgress)
            .unwrap()
            .snapshot_id,
        other,
    );
    forget_all_but_last(&repo, "db", 3);
    let report = prune_now(&repo);
    assert!(report.packs_repacked > 0, "the scenario repacks: {report:?}");
    assert_healthy_and_readable(&repo, &stored);
}

/// Two writers that start together both store the blobs they share; a later
/// prune and check must treat the second copy as harmless.
#[test]
fn blobs_stored_twice_by_concurrent_puts_are_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let repo = small_repository(dir.path());
    let mut rng = StdRng::seed_from_u64(11);
    let data = Source::new(&mut rng, 40).segments.concat();
    let reports: Vec<_> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| put(&repo, &mut data.as_slice(), &options("db"), &NoProgress).unwrap()))
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Both started from an empty index, so the blobs both stored are there twice.
    assert!(reports.iter().all(|r| r.new_chunks > 0), "the writers did not overlap");
    let ids: Vec<String> = reports.into_iter().map(|r| r.snapshot_id).collect();
    let mut stored = BTreeMap::new();
    for id in &ids {
        stored.insert(id.clone(), data.clone());
    }
    // Forget one of the two, so prune sees duplicates it must sort out.
    forget_all_but_last(&repo, "db", 1);
    let kept: Vec<String> = manifest::list(&repo).unwrap().snapshots.into_iter().map(|s| s.id).collect();
    assert_eq!(kept.len(), 1);
    stored.retain(|id, _| kept.contains(id));
    prune_now(&repo);
    assert_healthy_and_readable(&repo, &stored);
    // And a second prune finds the same truth.
    prune_now(&repo);
    assert_healthy_and_readable(&repo, &stored);
}

/// Two writers that start together store the same changed chunks, one as
/// deltas of the name's earlier snapshot and one whole (a name with no
/// earlier snapshot): prune keeps one copy of each, the whole one, and
/// everything still reads back after the earlier snapshot goes.
#[test]
fn a_chunk_stored_once_whole_and_once_as_a_delta_survives_prune() {
    let dir = tempfile::tempdir().unwrap();
    let repo = small_repository(dir.path());
    let mut rng = StdRng::seed_from_u64(13);
    let mut db = Source::new(&mut rng, 40);
    let first = db.next_version(&mut rng);
    put(&repo, &mut first.as_slice(), &options("db"), &NoProgress).unwrap();
    let second = db.next_version(&mut rng);
    let reports: Vec<_> = std::thread::scope(|scope| {
        let writers: Vec<_> = ["db", "other"]
            .into_iter()
            .map(|tag| {
                let second = &second;
                let repo = &repo;
                scope.spawn(move || put(repo, &mut second.as_slice(), &options(tag), &NoProgress).unwrap())
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(reports[0].delta_chunks > 0, "the writer of `db` stored deltas: {:?}", reports[0]);
    // Sequential, the second writer would find every chunk stored already.
    assert!(reports.iter().all(|r| r.new_chunks > 0), "the writers did not overlap: {reports:?}");
    forget_all_but_last(&repo, "db", 1);
    let stored: BTreeMap<String, Vec<u8>> = reports.into_iter().map(|r| (r.snapshot_id, second.clone())).collect();
    prune_now(&repo);
    assert_healthy_and_readable(&repo, &stored);
    prune_now(&repo);
    assert_healthy_and_readable(&repo, &stored);
}

/// Each database of a server is judged under its own tag; a snapshot that a
/// kept server backup names stays anyway (the group must still restore),
/// and goes with its group.
#[test]
fn a_kept_server_backup_keeps_its_databases_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let repo = small_repository(dir.path());
    let put_one = |tag: &str, bytes: &[u8], metadata: BTreeMap<String, serde_json::Value>| {
        let options = PutOptions { metadata, ..options(tag) };
        put(&repo, &mut &bytes[..], &options, &NoProgress).unwrap().snapshot_id
    };
    let grouped = put_one("prod/app", b"the app database in the first run", BTreeMap::new());
    let group = put_one(
        "prod",
        b"the server's globals",
        BTreeMap::from([(
            manifest::SERVER_GROUP.to_string(),
            serde_json::json!({ "databases": { "app": grouped } }),
        )]),
    );
    // A later run backed up app, and its globals failed: the first group is the newest.
    put_one("prod/app", b"the app database in a later run", BTreeMap::new());

    let keep_last = || ForgetOptions {
        policy: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        now: chrono::Utc::now(),
        tag: Some("prod".into()),
        dry_run: false,
        lock_wait: Duration::from_secs(5),
    };
    let groups = forget(&repo, &keep_last(), &chrono::Utc).unwrap();
    let verdict = groups.iter().flat_map(|g| &g.verdicts).find(|v| v.snapshot.id == grouped).unwrap();
    assert_eq!(verdict.keep, vec![KeepReason::Group]);
    assert!(manifest::load(&repo, &grouped).is_ok());

    forget_snapshots(&repo, &[group], false, Duration::from_secs(5)).unwrap();
    forget(&repo, &keep_last(), &chrono::Utc).unwrap();
    assert!(
        manifest::load(&repo, &grouped).is_err(),
        "without its group, its own tag's rules apply"
    );
}
