//! Fuzzing of every parser of bytes Lifeboat does not control: the pg_dump
//! archive reader, pack headers (plaintext and sealed), index files,
//! manifests, the repository config, key slots, recovery kits, probe files,
//! schedule strings, connection URLs, `pg_basebackup` tars and WAL segment
//! headers.
//!
//! Each target first replays its committed corpus (`tests/fuzz-corpus/NAME/`:
//! real files as Lifeboat writes them, plus any input that once failed),
//! then runs seeded mutations of it (bit flips, overwrites with boundary
//! values, insertions of format tokens, deletions, truncations, repeats) and
//! random bytes through proptest. A target may refuse any input, but never
//! panics, and what it accepts means what it says (re-encodes to the same
//! bytes, re-parses the same way, computes a next run).
//!
//! CI runs `LIFEBOAT_FUZZ_CASES` (default 2,000) per target from a fixed
//! seed; a long run: `LIFEBOAT_FUZZ_CASES=1000000 LIFEBOAT_FUZZ_SEED=$RANDOM
//! cargo test --release -p lifeboat-core --test fuzz`. A failure prints the
//! smallest input proptest found; save it under the target's corpus folder so
//! every later run replays it. `LIFEBOAT_FUZZ_WRITE_CORPUS=1 cargo test -p
//! lifeboat-core --test fuzz -- --ignored` rewrites the generated seeds.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use lifeboat_core::crypto::recovery::RecoveryKit;
use lifeboat_core::crypto::MasterKey;
use lifeboat_core::jobs::drill::parse_probes;
use lifeboat_core::pg::archive::count_rows;
use lifeboat_core::pg::base_tar::{label_start, TarWatcher};
use lifeboat_core::pg::wal::{segment_header, valid_segment_size, Lsn};
use lifeboat_core::pg::ConnectionSpec;
use lifeboat_core::repo::index::{decode_index_file, encode_index_file};
use lifeboat_core::repo::manifest::decode_manifest;
use lifeboat_core::repo::pack::{decode_header, encode_header, read_header, PackBuilder};
use lifeboat_core::repo::slots::KeySlot;
use lifeboat_core::repo::Repository;
use lifeboat_core::schedule::Cadence;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus").join(target)
}

/// The committed inputs of `target`, named; at least one must exist.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let files = lifeboat_testkit::files_under(&corpus_dir(target));
    assert!(!files.is_empty(), "no corpus for {target} in {}", corpus_dir(target).display());
    files
        .into_iter()
        .map(|f| (f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&f).unwrap()))
        .collect()
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        byte: u8,
    },
    /// A little-endian boundary value over 1, 2, 4 or 8 bytes.
    Boundary {
        at: usize,
        width: usize,
        value: u64,
    },
    InsertToken {
        at: usize,
        token: usize,
    },
    InsertBytes {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    Repeat {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
}

/// Pieces of the formats under test: more likely to reach deep paths than
/// random bytes.
const TOKENS: &[&[u8]] = &[
    b"\0",
    b"\xff\xff\xff\xff",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"version\":",
    b"PGDMP",
    b"LBP",
    b"LBI",
    b"*",
    b"/",
    b"-",
    b"*/0",
    b"60",
    b"31",
    b"L",
    b"W",
    b"#",
    b"?",
    b" ",
    b"\n",
    b"\\.\n",
    b"%",
    b"=",
    b"'",
    b"@",
    b"postgres://",
    b"?sslmode=",
    b"\xc3\x28",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (
            any::<usize>(),
            prop_oneof![Just(1usize), Just(2), Just(4), Just(8)],
            prop_oneof![
                Just(0u64),
                Just(1),
                Just(0x7f),
                Just(0x80),
                Just(0xff),
                Just(0xffff),
                Just(0x7fff_ffff),
                Just(0xffff_ffff),
                Just(u64::MAX),
                Just(i64::MAX as u64),
                any::<u64>()
            ]
        )
            .prop_map(|(at, width, value)| Mutation::Boundary { at, width, value }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        (any::<usize>(), vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::InsertBytes { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Repeat { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize| if bytes.is_empty() { 0 } else { i % bytes.len() };
        match m {
            Mutation::FlipBit { at: i, bit } if !bytes.is_empty() => {
                let i = at(*i);
                bytes[i] ^= 1 << bit;
            }
            Mutation::SetByte { at: i, byte } if !bytes.is_empty() => {
                let i = at(*i);
                bytes[i] = *byte;
            }
            Mutation::Boundary { at: i, width, value } => {
                let i = at(*i);
                let end = (i + width).min(bytes.len());
                bytes[i..end].copy_from_slice(&value.to_le_bytes()[..end - i]);
            }
            Mutation::InsertToken { at: i, token } => {
                let i = at(*i);
                bytes.splice(i..i, TOKENS[*token].iter().copied());
            }
            Mutation::InsertBytes { at: i, bytes: new } => {
                let i = at(*i);
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Remove { at: i, len } => {
                let i = at(*i);
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Repeat { at: i, len } => {
                let i = at(*i);
                let end = (i + len).min(bytes.len());
                let piece = bytes[i..end].to_vec();
                bytes.splice(end..end, piece);
            }
            Mutation::Truncate { at: i } => {
                let i = at(*i);
                bytes.truncate(i);
            }
            _ => {}
        }
    }
    bytes
}

/// Inputs for a target: a corpus entry under a few mutations, or random bytes.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    prop_oneof![
        8 => (0..count, vec(mutation(), 1..6)).prop_map(move |(i, m)| apply(seeds[i].clone(), &m)),
        1 => vec(any::<u8>(), 0..256),
    ]
}

/// Replays `target`'s corpus through `check`, then its mutations.
/// `check` says whether the target accepted the input.
fn fuzz(target: &str, check: impl Fn(&[u8]) -> bool) {
    fuzz_seeds(target, corpus(target), check)
}

fn fuzz_seeds(target: &str, seeds: Vec<(String, Vec<u8>)>, check: impl Fn(&[u8]) -> bool) {
    for (name, bytes) in &seeds {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(bytes)));
        assert!(outcome.is_ok(), "{target}: corpus file {name} fails");
    }
    let cases = setting("LIFEBOAT_FUZZ_CASES", 2000) as u32;
    let seed = setting("LIFEBOAT_FUZZ_SEED", 20261201);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + target.len().min(24)].copy_from_slice(&target.as_bytes()[..target.len().min(24)]);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let strategy = inputs(seeds.into_iter().map(|(_, b)| b).collect());
    let accepted = std::cell::Cell::new(0u32);
    if let Err(failure) = runner.run(&strategy, |input| {
        accepted.set(accepted.get() + u32::from(check(&input)));
        Ok(())
    }) {
        panic!("{target} (LIFEBOAT_FUZZ_SEED={seed}): {failure}");
    }
    eprintln!("{target}: {cases} mutated inputs from seed {seed}, {} accepted", accepted.get());
}

#[test]
fn the_pg_dump_archive_reader() {
    fuzz("archive", |bytes| count_rows(bytes).is_ok());
}

#[test]
fn pack_headers() {
    fuzz("pack-header", |bytes| {
        if let Ok(blobs) = decode_header(bytes, "fuzzed header") {
            assert_eq!(encode_header(&blobs), bytes, "an accepted header re-encodes to itself");
            return true;
        }
        false
    });
}

/// Whole pack files with a real key: a header that authenticates is the
/// one the writer sealed, whatever else in the file was changed.
#[test]
fn sealed_pack_files() {
    let keys = MasterKey::generate().derive();
    let mut compressor = zstd::bulk::Compressor::new(1).unwrap();
    let mut builder = PackBuilder::new(&keys, 4096);
    for n in 0..5u8 {
        let data = vec![n; 100 + usize::from(n) * 300];
        builder.add(keys.blob_id(&data), &data, &mut compressor).unwrap();
    }
    let (pack, record) = builder.finish();
    // The key is new each run, so the only seed is this run's pack.
    fuzz_seeds("sealed-pack", vec![("this run's pack".into(), pack)], |bytes| {
        if let Ok(blobs) = read_header(&keys, &record.id, bytes, "fuzzed pack") {
            assert_eq!(blobs, record.blobs, "only the sealed header authenticates");
            return true;
        }
        false
    });
}

#[test]
fn index_files() {
    fuzz("index-file", |bytes| {
        if let Ok(packs) = decode_index_file(bytes, "fuzzed index") {
            assert_eq!(encode_index_file(&packs), bytes, "an accepted index re-encodes to itself");
            return true;
        }
        false
    });
}

#[test]
fn manifests() {
    fuzz("manifest", |bytes| {
        if let Ok(manifest) = decode_manifest(bytes, "fuzzed manifest") {
            let again = serde_json::to_vec(&manifest).unwrap();
            let reparsed = decode_manifest(&again, "re-encoded manifest").expect("an accepted manifest re-encodes");
            assert_eq!(serde_json::to_vec(&reparsed).unwrap(), again);
            return true;
        }
        false
    });
}

#[test]
fn repository_configs() {
    fuzz("config", |bytes| Repository::parse_config(bytes).is_ok());
}

#[test]
fn key_slots() {
    let names: Vec<String> = corpus("key-slot").into_iter().map(|(name, _)| name).collect();
    fuzz("key-slot", |bytes| names.iter().any(|name| KeySlot::parse(name, bytes).is_ok()));
}

#[test]
fn recovery_kits() {
    fuzz("recovery-kit", |bytes| {
        if let Ok(kit) = RecoveryKit::parse(&String::from_utf8_lossy(bytes)) {
            let again = RecoveryKit::parse(&kit.to_text("somewhere")).expect("an accepted kit re-prints");
            assert_eq!(
                (again.repository_id.as_str(), again.slot_id.as_str(), again.code),
                (kit.repository_id.as_str(), kit.slot_id.as_str(), kit.code)
            );
            return true;
        }
        false
    });
}

#[test]
fn probe_files() {
    fuzz("probe-file", |bytes| {
        parse_probes(&String::from_utf8_lossy(bytes), "fuzzed probe file").is_ok()
    });
}

/// An accepted schedule re-parses to itself and always says when it runs
/// next (or that it never does) without searching forever.
#[test]
fn schedule_strings() {
    let from = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    fuzz("cadence", |bytes| {
        if let Ok(cadence) = Cadence::parse(&String::from_utf8_lossy(bytes)) {
            let again = Cadence::parse(cadence.as_str()).expect("an accepted schedule re-parses");
            assert_eq!(again.as_str(), cadence.as_str());
            if let Some(next) = cadence.next_after(from, &Utc) {
                assert!(next > from);
            }
            let _ = cadence.describe();
            return true;
        }
        false
    });
}

#[test]
fn connection_urls() {
    fuzz("connection-url", |bytes| {
        ConnectionSpec::parse_url(&String::from_utf8_lossy(bytes)).is_ok()
    });
}

/// A base backup's tar as the watcher sees it, cut into a pipe's pieces.
#[test]
fn base_backup_tars() {
    fuzz("base-tar", |bytes| {
        let mut watcher = TarWatcher::default();
        for piece in bytes.chunks(777) {
            watcher.feed(piece);
        }
        let Ok(facts) = watcher.finish() else { return false };
        if let Some(label) = facts.backup_label {
            let _ = label_start(&label);
        }
        true
    });
}

/// A segment header only names a segment size PostgreSQL allows; the same
/// bytes as text are no WAL position unless they read as one.
#[test]
fn wal_segment_headers() {
    fuzz("wal-segment-header", |bytes| {
        if let Ok(lsn) = Lsn::parse(&String::from_utf8_lossy(bytes)) {
            assert_eq!(Lsn::parse(&lsn.to_string()).unwrap(), lsn);
        }
        let header = segment_header(bytes);
        if let Some(header) = header {
            assert!(valid_segment_size(header.segment_size));
        }
        header.is_some()
    });
}

/// Every generated seed still decodes: the committed corpus doubles as a
/// record of the formats' bytes, so an incompatible change fails here.
#[test]
fn the_committed_seeds_of_every_format_still_decode() {
    for (name, bytes) in corpus("pack-header") {
        decode_header(&bytes, &name).unwrap_or_else(|e| panic!("pack-header/{name}: {e}"));
    }
    for (name, bytes) in corpus("index-file") {
        decode_index_file(&bytes, &name).unwrap_or_else(|e| panic!("index-file/{name}: {e}"));
    }
    for (name, bytes) in corpus("manifest") {
        decode_manifest(&bytes, &name).unwrap_or_else(|e| panic!("manifest/{name}: {e}"));
    }
    for (name, bytes) in corpus("config") {
        Repository::parse_config(&bytes).unwrap_or_else(|e| panic!("config/{name}: {e}"));
    }
    for (name, bytes) in corpus("key-slot") {
        KeySlot::parse(&name, &bytes).unwrap_or_else(|e| panic!("key-slot/{name}: {e}"));
    }
    for (name, bytes) in corpus("recovery-kit") {
        RecoveryKit::parse(&String::from_utf8_lossy(&bytes)).unwrap_or_else(|e| panic!("recovery-kit/{name}: {e}"));
    }
    for (name, bytes) in corpus("base-tar") {
        let mut watcher = TarWatcher::default();
        watcher.feed(&bytes);
        let facts = watcher.finish().unwrap_or_else(|e| panic!("base-tar/{name}: {e}"));
        assert!(facts.backup_label.as_deref().and_then(label_start).is_some(), "base-tar/{name}");
    }
    for (name, bytes) in corpus("wal-segment-header") {
        assert!(segment_header(&bytes).is_some(), "wal-segment-header/{name}");
    }
    for (name, bytes) in corpus("archive") {
        let counts = count_rows(bytes.as_slice()).unwrap_or_else(|e| panic!("archive/{name}: {}", e.0));
        assert!(counts.values().sum::<u64>() > 0, "archive/{name}: {counts:?}");
    }
}

/// Rewrites the generated seeds from a real repository and a real pg_dump.
#[test]
#[ignore = "run with LIFEBOAT_FUZZ_WRITE_CORPUS=1 to regenerate the seeds"]
fn write_generated_seeds() {
    use lifeboat_core::progress::NoProgress;
    use lifeboat_core::repo::store::{put, PutOptions};
    use lifeboat_core::repo::{index, keys, manifest};
    assert!(
        std::env::var_os("LIFEBOAT_FUZZ_WRITE_CORPUS").is_some(),
        "set LIFEBOAT_FUZZ_WRITE_CORPUS=1"
    );
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = lifeboat_testkit::small_repository(dir.path());
    let data: Vec<u8> = (0..40_000u32)
        .flat_map(|i| (i.wrapping_mul(2654435761) >> 7).to_le_bytes())
        .collect();
    let options = PutOptions {
        tag: "shop".into(),
        label: Some("before 16 -> 17 upgrade".into()),
        ..Default::default()
    };
    put(&repo, &mut data.as_slice(), &options, &NoProgress).unwrap();
    let names: Vec<String> = repo.backend().list("index").unwrap().into_iter().map(|f| f.name).collect();
    let packs = index::read_index_file(&repo, &names[0]).unwrap();
    write("index-file", "real", &encode_index_file(&packs));
    write("pack-header", "real", &encode_header(&packs[0].blobs));
    // The same stream with a few bytes changed: its changed chunks are
    // deltas, written in record layout 2.
    let mut changed = data.clone();
    for at in [10_000, 90_000] {
        changed[at..at + 8].copy_from_slice(b"changed!");
    }
    assert!(put(&repo, &mut changed.as_slice(), &options, &NoProgress).unwrap().delta_chunks > 0);
    let with_deltas = repo
        .backend()
        .list("index")
        .unwrap()
        .into_iter()
        .map(|f| index::read_index_file(&repo, &f.name).unwrap())
        .find(|packs| packs.iter().any(|p| p.blobs.iter().any(|b| b.base.is_some())))
        .unwrap();
    write("index-file", "with-deltas", &encode_index_file(&with_deltas));
    let pack = with_deltas.iter().find(|p| p.blobs.iter().any(|b| b.base.is_some())).unwrap();
    write("pack-header", "with-deltas", &encode_header(&pack.blobs));
    let snapshot = &manifest::list(&repo).unwrap().snapshots[0];
    write("manifest", "real", &serde_json::to_vec(&snapshot.manifest).unwrap());
    write("config", "real", &std::fs::read(dir.path().join("config")).unwrap());
    let slot = &keys::list(&repo).unwrap()[0];
    write(
        "key-slot",
        &slot.id,
        &std::fs::read(dir.path().join("keys").join(&slot.id)).unwrap(),
    );
    let kit = RecoveryKit {
        repository_id: repo.id().to_string(),
        slot_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        code: [7; 32],
    };
    write("recovery-kit", "real", kit.to_text("/mnt/nas/lifeboat").as_bytes());

    // One archive per pg_dump major at hand: their archive versions differ.
    let mut clusters = vec![lifeboat_testkit::PgCluster::start()];
    clusters.extend(
        (14..=18)
            .filter(|m| lifeboat_testkit::matrix_bin_dir(*m).is_some())
            .map(lifeboat_testkit::PgCluster::start_major),
    );
    for cluster in clusters {
        write("archive", &format!("pg_dump-{}", cluster.major), &sample_archive(&cluster));
    }
}

fn sample_archive(cluster: &lifeboat_testkit::PgCluster) -> Vec<u8> {
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE SCHEMA \"Sales \"\"EU\"\"\";
         CREATE TABLE \"Sales \"\"EU\"\"\".orders (id int PRIMARY KEY, note text);
         INSERT INTO \"Sales \"\"EU\"\"\".orders SELECT g, CASE WHEN g % 3 = 0 THEN E'line\\nbreak\\\\.' END FROM generate_series(1, 40) g;
         CREATE TABLE public.empty (id int);
         CREATE TABLE public.events (at date, payload jsonb);
         INSERT INTO public.events SELECT date '2026-01-01' + g, jsonb_build_object('n', g) FROM generate_series(1, 25) g;
         SELECT lo_from_bytea(0, 'large object bytes');",
    );
    let dump = std::process::Command::new(cluster.bin_dir().join("pg_dump"))
        .args(["--format=custom", "--compress=0", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(cluster.port.to_string())
        .arg("shop")
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    dump.stdout
}
