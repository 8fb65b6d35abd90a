//! The engine used as a library, on a repository in a temporary folder:
//! put, cat, check, forget, prune and keys, with the exact error each
//! refusal returns (the CLI and the app only render these).

use std::sync::Arc;
use std::time::Duration;

use lifeboat_core::backend::{Backend, FileInfo, LocalBackend, StorageGuarantees};
use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::check::{check, CheckOptions};
use lifeboat_core::repo::manifest;
use lifeboat_core::repo::open::{open, OpenRequest, OpenedWith};
use lifeboat_core::repo::prune::{prune, PruneOptions};
use lifeboat_core::repo::read::{cat, ReadOptions};
use lifeboat_core::repo::retention::{forget, ForgetOptions, RetentionPolicy};
use lifeboat_core::repo::store::{put, PutOptions};
use lifeboat_core::repo::{keys, ChunkerParams, InitOptions, Repository, FORMAT_VERSION};
use lifeboat_core::Error;
use sha2::Digest;

const WAIT: Duration = Duration::from_secs(5);

/// Dump-like text: shares most lines with other versions of itself.
fn version(n: u32) -> Vec<u8> {
    (0..20_000u32)
        .map(|row| format!("{row}\tcustomer {}\t{}\n", row % 97, if row % 50 == 0 { n } else { 0 }))
        .collect::<String>()
        .into_bytes()
}

fn stored(repo: &Repository, tag: &str, data: &[u8]) -> String {
    let options = PutOptions {
        tag: tag.into(),
        ..Default::default()
    };
    put(repo, &mut &data[..], &options, &NoProgress).unwrap().snapshot_id
}

fn read_back(repo: &Repository, spec: &str) -> Vec<u8> {
    let snapshot = manifest::resolve(repo, spec).unwrap();
    let mut out = Vec::new();
    cat(repo, &snapshot, &mut out, &NoProgress, ReadOptions { lock_wait: WAIT }).unwrap();
    out
}

fn pruned(repo: &Repository) -> lifeboat_core::repo::prune::PruneReport {
    prune(
        repo,
        PruneOptions {
            dry_run: false,
            lock_wait: WAIT,
        },
        &NoProgress,
    )
    .unwrap()
}

fn checked(repo: &Repository, read_data: bool) -> lifeboat_core::repo::check::CheckReport {
    check(
        repo,
        CheckOptions {
            read_data,
            lock_wait: WAIT,
        },
        &NoProgress,
    )
    .unwrap()
}

/// Forgets every snapshot of `tag` but the newest.
fn forget_all_but_the_newest(repo: &Repository, tag: &str) {
    let options = ForgetOptions {
        policy: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        now: chrono::Utc::now(),
        tag: Some(tag.into()),
        dry_run: false,
        lock_wait: WAIT,
    };
    forget(repo, &options, &chrono::Utc).unwrap();
}

#[test]
fn put_cat_forget_prune_and_check_on_a_temporary_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = lifeboat_testkit::small_repository(dir.path());
    let ids: Vec<String> = (0..4).map(|n| stored(&repo, "db", &version(n))).collect();
    let other = stored(&repo, "other", b"another stream");
    assert_eq!(read_back(&repo, "latest:db"), version(3));
    assert_eq!(read_back(&repo, &ids[0][..10]), version(0));
    assert_eq!(read_back(&repo, &other), b"another stream");

    let empty = put(
        &repo,
        &mut &b""[..],
        &PutOptions {
            tag: "db".into(),
            ..Default::default()
        },
        &NoProgress,
    );
    assert!(matches!(empty, Err(Error::EmptyStream { .. })), "{empty:?}");
    assert!(matches!(
        manifest::resolve(&repo, "latest:nothing"),
        Err(Error::SnapshotNotFound(_))
    ));

    let policy = RetentionPolicy {
        keep_last: 2,
        ..Default::default()
    };
    let options = ForgetOptions {
        policy,
        now: chrono::Utc::now(),
        tag: Some("db".into()),
        dry_run: false,
        lock_wait: WAIT,
    };
    let groups = forget(&repo, &options, &chrono::Utc).unwrap();
    let removed: Vec<&str> = groups[0]
        .verdicts
        .iter()
        .filter(|v| v.keep.is_empty())
        .map(|v| v.snapshot.id.as_str())
        .collect();
    assert_eq!(removed, vec![ids[1].as_str(), ids[0].as_str()], "the two oldest go, newest first");
    let accounting = manifest::accounting(&repo).unwrap();
    assert!(accounting.forgotten.contains(&ids[0]) && !accounting.present.contains(&ids[0]));

    let report = pruned(&repo);
    assert!(report.bytes_freed > 0, "{report:?}");
    assert_eq!(read_back(&repo, "latest:db"), version(3));
    assert_eq!(read_back(&repo, &ids[2]), version(2));
    let health = checked(&repo, true);
    assert!(health.healthy() && health.warnings.is_empty(), "{health:?}");
    assert_eq!(health.snapshots, 3);
}

#[test]
fn keys_open_with_any_slot_and_the_last_one_cannot_go() {
    let dir = tempfile::tempdir().unwrap();
    let repo = lifeboat_testkit::small_repository(dir.path());
    let id = stored(&repo, "db", b"secret rows");
    let backend = || Arc::new(LocalBackend::new(dir.path()));
    let opening = |passphrase: &str| {
        open(
            backend(),
            OpenRequest {
                passphrase: Some(passphrase.into()),
                ..Default::default()
            },
        )
    };

    let bob = keys::add_passphrase(&repo, "bob's passphrase", "bob").unwrap();
    let opened = opening("bob's passphrase").unwrap();
    assert_eq!((opened.with, opened.repo.slot_id()), (OpenedWith::Passphrase, bob.id.as_str()));
    assert_eq!(read_back(&opened.repo, &id), b"secret rows");
    assert!(matches!(opening("not it"), Err(Error::WrongPassphrase)));

    let kit_file = dir.path().join("kit.txt");
    let kit_slot = keys::export_recovery_kit(&repo, "kit", &kit_file).unwrap();
    let kit = std::fs::read_to_string(&kit_file).unwrap();
    let by_kit = open(
        backend(),
        OpenRequest {
            recovery_kit: Some(kit.into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        (by_kit.with, by_kit.repo.slot_id()),
        (OpenedWith::RecoveryKit, kit_slot.id.as_str())
    );
    // The kit file exists now: a second export into it is refused and adds no slot.
    assert!(matches!(
        keys::export_recovery_kit(&repo, "again", &kit_file),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(keys::list(&repo).unwrap().len(), 3);

    keys::remove(&repo, &bob.id).unwrap();
    assert!(matches!(opening("bob's passphrase"), Err(Error::WrongPassphrase)));
    keys::remove(&repo, &kit_slot.id).unwrap();
    let last = keys::list(&repo).unwrap().remove(0);
    assert!(matches!(keys::remove(&repo, &last.id), Err(Error::LastKeySlot)));
    assert_eq!(opening("pw").unwrap().repo.slot_id(), last.id);
}

/// A second scheduler on one data folder is refused with its own error, not
/// as if the user had typed something wrong.
#[test]
fn a_second_scheduler_on_one_data_folder_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let first = lifeboat_core::ops::scheduler::SchedulerLock::acquire(dir.path()).unwrap();
    let second = lifeboat_core::ops::scheduler::SchedulerLock::acquire(dir.path());
    assert!(
        matches!(&second, Err(Error::SchedulerBusy(path)) if path == dir.path()),
        "{:?}",
        second.err()
    );
    drop(first);
    assert!(lifeboat_core::ops::scheduler::SchedulerLock::acquire(dir.path()).is_ok());
}

/// The daemon may be the first to create the data folder: it is private.
#[cfg(unix)]
#[test]
fn the_scheduler_creates_a_private_data_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let daemon_data = dir.path().join("daemon-data");
    let _lock = lifeboat_core::ops::scheduler::SchedulerLock::acquire(&daemon_data).unwrap();
    assert_eq!(std::fs::metadata(&daemon_data).unwrap().permissions().mode() & 0o777, 0o700);
}

/// Check, prune and key changes through `ops`: each is one entry of the run
/// history (the same from the CLI and the app), a bad passphrase is refused
/// and recorded as failed, and a snapshot deleted behind the catalog's back
/// is damage in the check's report.
#[tokio::test(flavor = "multi_thread")]
async fn upkeep_and_key_changes_are_recorded_once_each() {
    use lifeboat_core::catalog::{Catalog, RunFilter, RunKind, RunStatus};
    use lifeboat_core::ops;
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(lifeboat_testkit::small_repository(&dir.path().join("repo")));
    let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
    let gone = stored(&repo, "db", &version(1));
    stored(&repo, "db", &version(2));
    // The catalog saw both; then one is deleted without a forget record.
    catalog
        .vanished_snapshots(repo.id(), &manifest::accounting(&repo).unwrap())
        .await
        .unwrap();
    std::fs::remove_file(dir.path().join("repo/snapshots").join(&gone)).unwrap();

    let short = ops::keys::add_passphrase(repo.clone(), Some(&catalog), "short".to_string().into(), "bob").await;
    assert!(
        matches!(short, Err(Error::InvalidInput(ref m)) if m.contains("too short")),
        "{short:?}"
    );
    let slot = ops::keys::add_passphrase(repo.clone(), Some(&catalog), "a long passphrase".to_string().into(), " bob ")
        .await
        .unwrap();
    assert_eq!(slot.label, "bob");
    ops::keys::remove(repo.clone(), Some(&catalog), None, &slot.id).await.unwrap();
    let kit = dir.path().join("kit.txt");
    ops::keys::export_recovery_kit(repo.clone(), Some(&catalog), "safe", &kit)
        .await
        .unwrap();
    let again = ops::keys::export_recovery_kit(repo.clone(), Some(&catalog), "safe", &kit).await;
    assert!(
        matches!(again, Err(Error::InvalidInput(ref m)) if m.contains("already exists")),
        "{again:?}"
    );

    let options = CheckOptions {
        read_data: false,
        lock_wait: WAIT,
    };
    let report = ops::maintenance::check(repo.clone(), Some(&catalog), options, Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(
        report.errors.iter().any(|e| e.contains(&gone[..8])),
        "the vanished snapshot is reported: {:?}",
        report.errors
    );
    let prune_options = PruneOptions {
        dry_run: true,
        lock_wait: WAIT,
    };
    ops::maintenance::prune(repo.clone(), Some(&catalog), prune_options, Arc::new(NoProgress))
        .await
        .unwrap();
    // Without the catalog the same jobs run, unrecorded.
    let unrecorded = ops::maintenance::check(repo.clone(), None, options, Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(unrecorded.healthy(), "{unrecorded:?}");

    let runs: Vec<(RunKind, RunStatus)> = catalog
        .runs(&RunFilter::default())
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| (r.kind, r.status))
        .collect();
    assert_eq!(
        runs,
        [
            (RunKind::KeyAdd, RunStatus::Failed),
            (RunKind::KeyAdd, RunStatus::Succeeded),
            (RunKind::KeyRemove, RunStatus::Succeeded),
            (RunKind::RecoveryKit, RunStatus::Succeeded),
            (RunKind::RecoveryKit, RunStatus::Failed),
            (RunKind::Check, RunStatus::Succeeded),
        ],
        "a dry-run prune and catalog-less jobs are not recorded"
    );
}

/// Random bytes: content no other version shares, and incompressible.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// A few rows changed in place, as an UPDATE shows in the next dump.
fn with_rows_changed(data: &[u8], at: &[usize]) -> Vec<u8> {
    let mut changed = data.to_vec();
    for &offset in at {
        changed[offset..offset + 9].copy_from_slice(b"CHANGED!\t");
    }
    changed
}

#[test]
fn changed_rows_are_stored_as_deltas_and_prune_keeps_their_bases() {
    let dir = tempfile::tempdir().unwrap();
    let repo = lifeboat_testkit::small_repository(dir.path());
    assert!(repo.config().stores_deltas(), "new repositories store deltas");
    let rows = version(0);
    let first = [rows.clone(), noise(1, 40_000)].concat();
    stored(&repo, "db", &first);
    let second = [with_rows_changed(&rows, &[30_000, 120_000, 200_000, 260_000]), noise(2, 10_000)].concat();
    let options = PutOptions {
        tag: "db".into(),
        ..Default::default()
    };
    let report = put(&repo, &mut second.as_slice(), &options, &NoProgress).unwrap();
    assert!(report.delta_chunks >= 3, "changed rows become deltas: {report:?}");
    // Beyond the new tail (10 kB of noise), the five changed chunks (as
    // deltas), the one where rows meet the tail, the chunk and sketch
    // lists (deltas of the first's) and the framing of one or two packs
    // (the workers split the run) take 2.2-2.7 kB; the list of chunk ids
    // alone was 5 kB before lists were deltas.
    let beyond = report.added_bytes - 10_000;
    assert!(beyond < 3_500, "the changed rows added {beyond} bytes: {report:?}");

    // The same rows change again the next day: the chunks at their places
    // are deltas now, so the new ones are stored against the whole chunks
    // those are deltas of (never a chain).
    let third = with_rows_changed(&second, &[30_020, 120_020, 200_020, 260_020]);
    let report = put(&repo, &mut third.as_slice(), &options, &NoProgress).unwrap();
    assert!(report.delta_chunks >= 3, "rows changed again become deltas: {report:?}");

    // The first two snapshots go: the first's tail is freed, the chunks the
    // deltas are stored against stay.
    forget_all_but_the_newest(&repo, "db");
    assert_eq!(manifest::list(&repo).unwrap().snapshots.len(), 1);
    let report = pruned(&repo);
    assert!(report.bytes_freed >= 30_000, "the first tail is freed: {report:?}");
    let report = checked(&repo, true);
    assert!(report.healthy(), "{:?}", report.errors);
    assert!(read_back(&repo, "latest:db") == third);
}

/// Dump-like rows with a unique key and 24 random hex digits each.
fn keyed_rows(keys: impl Iterator<Item = u32>) -> Vec<u8> {
    keys.flat_map(|key| {
        let digits = data_encoding::HEXLOWER.encode(&noise(u64::from(key), 12));
        format!("{key}\tcustomer {}\t{digits}\n", key % 97).into_bytes()
    })
    .collect()
}

#[test]
fn a_changed_chunk_is_stored_against_its_earlier_version_wherever_it_moved() {
    let dir = tempfile::tempdir().unwrap();
    let repo = lifeboat_testkit::small_repository(dir.path());
    assert!(repo.config().stores_sketches(), "new repositories store sketches");
    let options = PutOptions {
        tag: "db".into(),
        ..Default::default()
    };
    let first = keyed_rows(0..30_000);
    let first_added = put(&repo, &mut first.as_slice(), &options, &NoProgress).unwrap().added_bytes;
    // Every tenth row of the second half moved away (an UPDATE writes the
    // new version elsewhere), and rows appended: every chunk of the second
    // half changed, none is left to line the streams up, and by its end
    // the chunks sit 25 kB (a dozen chunks) before their earlier versions.
    let moved = |key: &u32| *key >= 15_000 && key % 10 == 3;
    let second = [
        keyed_rows((0..30_000).filter(|key| !moved(key))),
        keyed_rows((0..30_000).filter(moved)),
        keyed_rows(30_000..30_300),
    ]
    .concat();
    let report = put(&repo, &mut second.as_slice(), &options, &NoProgress).unwrap();
    assert!(
        report.delta_chunks * 10 >= report.new_chunks * 8,
        "changed chunks become deltas: {report:?}"
    );
    // The moved and appended rows are new content (about 40 kB stored), and
    // each of the 250 deltas a few hundred bytes at these 2 kB chunks. By
    // place alone, most of the second half was stored again: 290 kB.
    assert!(
        report.added_bytes * 3 < first_added,
        "a day of moved rows added {} bytes to a first backup of {first_added}: {report:?}",
        report.added_bytes
    );
    let second_id = manifest::resolve(&repo, "latest:db").unwrap();
    assert!(!second_id.manifest.sketch_lists.is_empty());

    // The first snapshot goes: its lists are the bases of the second's,
    // and prune keeps them.
    forget_all_but_the_newest(&repo, "db");
    pruned(&repo);
    let report = checked(&repo, true);
    assert!(report.healthy(), "{:?}", report.errors);
    assert!(read_back(&repo, "latest:db") == second);
}

/// The fixture repository of format 1, copied into `dir`, opened.
fn open_format_1(dir: &std::path::Path) -> Repository {
    let request = OpenRequest {
        passphrase: Some("format one".into()),
        ..Default::default()
    };
    open(Arc::new(LocalBackend::new(dir)), request).unwrap().repo
}

fn sha(data: &[u8]) -> String {
    lifeboat_core::repo::format::hex(&sha2::Sha256::digest(data))
}

/// The SHA-256 of every snapshot's stream, sorted.
fn stream_hashes(repo: &Repository) -> Vec<String> {
    let mut hashes: Vec<String> = manifest::list(repo)
        .unwrap()
        .snapshots
        .iter()
        .map(|s| sha(&read_back(repo, &s.id)))
        .collect();
    hashes.sort();
    hashes
}

/// A repository written by the build before deltas (format 1, fixture made
/// with `lifeboat init` and two `put`s of a 300 kB dump-like stream) reads
/// back byte for byte, checks healthy, and a new backup into it stays in
/// format 1 (no deltas), so that older build can still read it, until the
/// user runs `migrate`.
#[test]
fn a_format_1_repository_reads_keeps_its_format_and_migrates_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1-repo");
    for file in lifeboat_testkit::files_under(&fixture) {
        let to = dir.path().join(file.strip_prefix(&fixture).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap();
    }
    let repo = open_format_1(dir.path());
    assert_eq!(repo.config().version, 1);
    let streams = stream_hashes(&repo);
    assert_eq!(
        streams,
        [
            "84165b579c08f2fc4a03ac7aa04951ff195a062449ca256970077afbcb9de7ba",
            "a968b5396f0fc56f4ff1cc88cd07080a3a7afe6513382a2e7f7bf6b826afce5b"
        ]
    );
    assert!(checked(&repo, true).healthy());

    let third = with_rows_changed(&read_back(&repo, "latest:accounts"), &[1_000, 150_000]);
    let options = PutOptions {
        tag: "accounts".into(),
        ..Default::default()
    };
    let report = put(&repo, &mut third.as_slice(), &options, &NoProgress).unwrap();
    assert!(report.new_chunks >= 2 && report.delta_chunks == 0, "{report:?}");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("config")).unwrap()).unwrap();
    assert_eq!(config["version"], 1);
    assert!(read_back(&repo, "latest:accounts") == third);
    assert!(checked(&repo, true).healthy());

    // `migrate` moves it to this build's format: the config and every key
    // slot's copy say so, every snapshot still reads, and the next backup
    // stores deltas and sketches.
    let report = lifeboat_core::repo::migrate::migrate(&repo, WAIT).unwrap();
    assert_eq!((report.from_version, report.to_version), (1, FORMAT_VERSION));
    assert!(report.key_slots_updated >= 1, "{report:?}");
    let repo = open_format_1(dir.path());
    assert!(repo.config().stores_deltas() && repo.config().stores_sketches());
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("config")).unwrap()).unwrap();
    assert_eq!(config["version"], FORMAT_VERSION);
    for slot in keys::list(&repo).unwrap() {
        assert_eq!(slot.config.map(|copy| copy.version), Some(FORMAT_VERSION), "key slot {}", slot.id);
    }
    let after = stream_hashes(&repo);
    let mut before = [streams, vec![sha(&third)]].concat();
    before.sort();
    assert_eq!(after, before);
    let fourth = with_rows_changed(&third, &[1_020, 150_020]);
    let report = put(&repo, &mut fourth.as_slice(), &options, &NoProgress).unwrap();
    assert!(report.delta_chunks >= 1, "{report:?}");
    assert!(!manifest::resolve(&repo, "latest:accounts")
        .unwrap()
        .manifest
        .sketch_lists
        .is_empty());
    assert!(read_back(&repo, "latest:accounts") == fourth);
    assert!(checked(&repo, true).healthy());
    assert!(!lifeboat_core::repo::migrate::migrate(&repo, WAIT).unwrap().migrated());
}

/// A local folder that counts reads of pack ranges: on a remote storage
/// each one is a request. (A wrapper around the real local backend, not a
/// mock: every byte still comes from disk.)
struct CountingReads {
    inner: LocalBackend,
    pack_reads: std::sync::atomic::AtomicUsize,
}

impl CountingReads {
    fn take(&self) -> usize {
        self.pack_reads.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl Backend for CountingReads {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn read(&self, path: &str, max: u64) -> lifeboat_core::Result<Vec<u8>> {
        self.inner.read(path, max)
    }
    fn read_at(&self, path: &str, offset: u64, len: usize) -> lifeboat_core::Result<Vec<u8>> {
        if path.starts_with("data/") {
            self.pack_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.read_at(path, offset, len)
    }
    fn write(&self, path: &str, data: &[u8]) -> lifeboat_core::Result<()> {
        self.inner.write(path, data)
    }
    fn create_new(&self, path: &str, data: &[u8]) -> lifeboat_core::Result<bool> {
        self.inner.create_new(path, data)
    }
    fn list(&self, dir: &str) -> lifeboat_core::Result<Vec<FileInfo>> {
        self.inner.list(dir)
    }
    fn remove(&self, path: &str) -> lifeboat_core::Result<()> {
        self.inner.remove(path)
    }
    fn exists(&self, path: &str) -> lifeboat_core::Result<bool> {
        self.inner.exists(path)
    }
    fn list_temporary(&self) -> lifeboat_core::Result<Vec<String>> {
        self.inner.list_temporary()
    }
    fn guarantees(&self) -> lifeboat_core::Result<StorageGuarantees> {
        self.inner.guarantees()
    }
    fn parallel_transfers(&self) -> usize {
        1
    }
}

/// A day that changes a row in most chunks makes a delta of each. Storing
/// and reading them fetches their bases a pack range at a time, not one
/// request per delta, which on S3 or SFTP would be a round trip each.
#[test]
fn delta_bases_are_read_a_pack_range_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(CountingReads {
        inner: LocalBackend::new(dir.path()),
        pack_reads: Default::default(),
    });
    storage.inner.create_root().unwrap();
    let options = InitOptions {
        chunker: ChunkerParams {
            min_size: 512,
            avg_size: 2048,
            max_size: 8192,
        },
        ..Default::default()
    };
    let repo = Repository::init(storage.clone(), "pw", "test", &options).unwrap().0;
    let rows = version(0);
    stored(&repo, "db", &rows);
    let most_chunks: Vec<usize> = (1_000..rows.len() - 100).step_by(2_000).collect();
    let changed = with_rows_changed(&rows, &most_chunks);
    storage.take();
    let put_options = PutOptions {
        tag: "db".into(),
        ..Default::default()
    };
    let report = put(&repo, &mut changed.as_slice(), &put_options, &NoProgress).unwrap();
    assert!(report.delta_chunks >= 40, "{report:?}");
    let stored_with = storage.take();
    assert!(read_back(&repo, "latest:db") == changed);
    let read_with = storage.take();
    // The backup reads the bases of a run of new chunks together. The read
    // back alternates between the new pack and the unchanged chunks in the
    // old one, a read each, and adds one read of bases per new-pack read
    // (one per delta before).
    assert!(
        stored_with * 10 <= report.delta_chunks as usize && read_with < report.delta_chunks as usize,
        "{} deltas: the backup made {stored_with} pack reads, the read back {read_with}",
        report.delta_chunks
    );
}
