//! One function per subcommand: flags in, engine call, result out.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use lifeboat_core::crypto::keychain::CachedKey;
use lifeboat_core::jobs::import::ImportOptions;
use lifeboat_core::jobs::pitr::expire::WalExpiry;
use lifeboat_core::ops;
use lifeboat_core::repo::check::CheckOptions;
use lifeboat_core::repo::manifest::{self, SnapshotKind};
use lifeboat_core::repo::prune::{PruneOptions, PruneReport};
use lifeboat_core::repo::read::ReadOptions;
use lifeboat_core::repo::retention::{parse_period, ForgetOptions, RetentionPolicy};
use lifeboat_core::repo::store::PutOptions;
use lifeboat_core::repo::{keys, lock, InitOptions, Repository};
use secrecy::ExposeSecret;

use crate::context;
use crate::credentials::{self, open_repo};
use crate::progress::Bars;
use crate::GlobalArgs;

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// "1.23 GiB".
pub(crate) fn human_bytes(bytes: u64) -> String {
    lifeboat_core::units::human_bytes(bytes, 2)
}

#[derive(Args)]
pub struct InitArgs {
    /// Label of the first key slot (whose passphrase this is).
    #[arg(long, default_value = "initial passphrase")]
    label: String,
    #[arg(long)]
    json: bool,
}

pub fn init(g: &GlobalArgs, a: &InitArgs) -> Result<ExitCode> {
    let (backend, location) = credentials::backend(g)?;
    let passphrase = match credentials::given_passphrase(g)? {
        Some(p) => {
            ops::keys::check_new_passphrase(p.expose_secret())?;
            p
        }
        None => credentials::new_passphrase("LIFEBOAT_PASSWORD", None, "New repository passphrase")?,
    };
    let (repo, kek) = Repository::init(backend.clone(), passphrase.expose_secret(), &a.label, &InitOptions::default())?;
    let guarantees = backend.guarantees()?;
    if let Some(keychain) = credentials::keychain(g) {
        let cached = CachedKey {
            slot_id: repo.slot_id().to_string(),
            kek,
        };
        if let Err(e) = keychain.store(repo.id(), &cached) {
            eprintln!("note: {e}");
        }
    }
    if a.json {
        print_json(&serde_json::json!({
            "id": repo.id(),
            "location": location.to_string(),
            "key_slot": repo.slot_id(),
            "storage": guarantees,
        }))?;
    } else {
        println!("created repository {} at {location}", repo.id());
        if !guarantees.conditional_create {
            eprintln!(
                "note: this storage ignores conditional writes (If-None-Match), so two workstations creating a repository here at \
                 the same moment could both succeed; create it from one workstation and open it from the others"
            );
        }
        eprintln!("Keep the passphrase safe: without it (or a recovery kit) the backups cannot be read.");
        eprintln!("Make a recovery kit now: lifeboat key recovery-kit --output lifeboat-recovery-kit.txt");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Manual,
    Scheduled,
    Checkpoint,
}

#[derive(Args)]
pub struct PutArgs {
    /// Name the snapshot is stored under (`latest:NAME` finds the newest).
    #[arg(long)]
    tag: String,
    /// Free text, e.g. "before 16 -> 17 upgrade".
    #[arg(long)]
    label: Option<String>,
    #[arg(long, value_enum, default_value = "manual")]
    kind: KindArg,
    /// Store an empty stream as a snapshot (refused otherwise: an empty
    /// stream is usually a failed producer). It never becomes latest:NAME.
    #[arg(long)]
    allow_empty: bool,
    #[arg(long)]
    json: bool,
}

pub fn put(g: &GlobalArgs, a: &PutArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let options = PutOptions {
        tag: a.tag.clone(),
        kind: match a.kind {
            KindArg::Manual => SnapshotKind::Manual,
            KindArg::Scheduled => SnapshotKind::Scheduled,
            KindArg::Checkpoint => SnapshotKind::Checkpoint,
        },
        label: a.label.clone(),
        metadata: Default::default(),
        lock_wait: g.lock_wait(),
        allow_empty: a.allow_empty,
        provenance: None,
    };
    let report = {
        let bars = Bars::new();
        lifeboat_core::repo::store::put(&repo, &mut std::io::stdin().lock(), &options, &bars)?
    };
    if a.json {
        print_json(&report)?;
    } else {
        println!("{}", report.snapshot_id);
        eprintln!(
            "stored {} as `{}` in {:.1}s: {} chunks, {} new, {} added to the repository",
            human_bytes(report.size),
            report.tag,
            report.seconds,
            report.chunks,
            report.new_chunks,
            human_bytes(report.added_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CatArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
}

pub fn cat(g: &GlobalArgs, a: &CatArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    let bars = Bars::new();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    lifeboat_core::repo::read::cat(&repo, &snapshot, &mut out, &bars, ReadOptions { lock_wait: g.lock_wait() })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// The file to write; it appears only once every byte verified.
    #[arg(long)]
    output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

pub fn export(g: &GlobalArgs, a: &ExportArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let snapshot = manifest::resolve(&repo, &a.snapshot)?;
    let options = ReadOptions { lock_wait: g.lock_wait() };
    let report = lifeboat_core::repo::read::export(&repo, &snapshot, &a.output, a.force, &Bars::new(), options)?;
    if a.json {
        print_json(&serde_json::json!({ "file": a.output, "export": report }))?;
    } else {
        println!(
            "saved snapshot {} ({}, SHA-256 {}) as {}",
            &report.snapshot_id[..8],
            human_bytes(report.size),
            report.sha256,
            a.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ImportArgs {
    /// A custom-format archive made by `pg_dump -Fc` (PostgreSQL 12 or newer).
    file: PathBuf,
    /// The name to store it under: latest:NAME finds it (use the database's
    /// or connection's name to join its history).
    #[arg(long)]
    name: String,
    /// What the dump was, shown with the snapshot.
    #[arg(long)]
    label: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn import(g: &GlobalArgs, a: &ImportArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let options = ImportOptions {
        name: a.name.clone(),
        label: a.label.clone(),
        lock_wait: g.lock_wait(),
    };
    let report = lifeboat_core::jobs::import::import(&repo, &a.file, &options, &Bars::new())?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "imported {} as snapshot {} of {}: database {} dumped {} by pg_dump {}, {} tables, {} rows, {} ({} new), SHA-256 {}",
            a.file.display(),
            &report.snapshot_id[..8],
            report.name,
            report.database,
            report.dumped_at.format("%Y-%m-%d %H:%M UTC"),
            report.pg_dump_version,
            report.tables,
            report.rows,
            human_bytes(report.size),
            human_bytes(report.added_bytes),
            report.sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct SnapshotsArgs {
    /// Only snapshots of this name.
    #[arg(long)]
    tag: Option<String>,
    /// A JSON array; each entry has id, tag, kind, label, time, size, sha256.
    #[arg(long)]
    json: bool,
}

pub fn snapshots(g: &GlobalArgs, a: &SnapshotsArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let manifest::SnapshotList { snapshots, damaged } = manifest::list(&repo)?;
    let summaries: Vec<_> = snapshots
        .iter()
        .filter(|s| a.tag.as_ref().is_none_or(|t| *t == s.manifest.tag))
        .map(|s| s.summary())
        .collect();
    if a.json {
        print_json(&summaries)?;
    } else if summaries.is_empty() {
        println!("no snapshots yet: store one with `lifeboat put --tag NAME < stream`");
    } else {
        println!(
            "{:<9} {:<20} {:<24} {:<11} {:>11}  label",
            "id", "time (UTC)", "tag", "kind", "size"
        );
        for s in &summaries {
            let kind = serde_json::to_value(s.kind)?.as_str().unwrap_or_default().to_string();
            println!(
                "{:<9} {:<20} {:<24} {:<11} {:>11}  {}",
                s.short_id,
                s.time.format("%Y-%m-%d %H:%M:%S"),
                s.tag,
                kind,
                human_bytes(s.size),
                s.label.as_deref().unwrap_or("")
            );
        }
    }
    for (id, e) in &damaged {
        eprintln!("error: snapshot {id} cannot be read: {e}");
    }
    Ok(if damaged.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[derive(Args)]
pub struct CheckArgs {
    /// Also read and authenticate every byte, and re-verify every snapshot.
    #[arg(long)]
    read_data: bool,
    #[arg(long)]
    json: bool,
}

pub fn check(g: &GlobalArgs, a: &CheckArgs) -> Result<ExitCode> {
    let repo = Arc::new(open_repo(g)?);
    let runtime = context::runtime()?;
    let catalog = runtime.block_on(context::catalog_if_available());
    let options = CheckOptions {
        read_data: a.read_data,
        lock_wait: g.lock_wait(),
    };
    let report = runtime.block_on(ops::maintenance::check(repo, catalog.as_ref(), options, Arc::new(Bars::new())))?;
    if a.json {
        print_json(&report)?;
    } else {
        // Findings go to stderr like every command's warnings and errors;
        // the verdict line goes to stdout.
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        for step in &report.next_steps {
            eprintln!("what to do: {step}");
        }
        let scope = if a.read_data {
            format!(", {} read and verified", human_bytes(report.bytes_verified))
        } else {
            String::new()
        };
        println!(
            "{}: {} snapshots, {} packs, {} blobs{scope}",
            if report.healthy() {
                "repository is healthy"
            } else {
                "REPOSITORY IS DAMAGED"
            },
            report.snapshots,
            report.packs,
            report.blobs
        );
    }
    Ok(if report.healthy() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[derive(Args)]
pub struct ForgetArgs {
    /// Snapshots to delete (ids, unique id prefixes, latest:NAME), instead of a policy.
    snapshots: Vec<String>,
    #[arg(long, default_value_t = 0)]
    keep_last: u32,
    #[arg(long, default_value_t = 0)]
    keep_daily: u32,
    #[arg(long, default_value_t = 0)]
    keep_weekly: u32,
    #[arg(long, default_value_t = 0)]
    keep_monthly: u32,
    #[arg(long, default_value_t = 0)]
    keep_yearly: u32,
    /// Keep every snapshot taken within this period of each name's newest (30d, 48h, 1y6m).
    #[arg(long, value_name = "PERIOD", value_parser = parse_period)]
    keep_within: Option<u32>,
    /// Remove nothing younger than this, whatever the other rules say ("30 days minimum").
    #[arg(long, value_name = "PERIOD", value_parser = parse_period)]
    min_age: Option<u32>,
    /// Checkpoints older than this follow the rules like any snapshot (by default they are kept).
    #[arg(long, value_name = "PERIOD", value_parser = parse_period)]
    checkpoints_expire_after: Option<u32>,
    /// Only snapshots of this name.
    #[arg(long)]
    tag: Option<String>,
    /// Show what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Prune afterwards, freeing the space.
    #[arg(long)]
    prune: bool,
    #[arg(long)]
    json: bool,
}

pub fn forget(g: &GlobalArgs, a: &ForgetArgs) -> Result<ExitCode> {
    let policy = RetentionPolicy {
        keep_last: a.keep_last,
        keep_daily: a.keep_daily,
        keep_weekly: a.keep_weekly,
        keep_monthly: a.keep_monthly,
        keep_yearly: a.keep_yearly,
        keep_within_hours: a.keep_within.unwrap_or(0),
        min_age_hours: a.min_age.unwrap_or(0),
        checkpoint_expiry_hours: a.checkpoints_expire_after.unwrap_or(0),
    };
    let shapes_policy = a.min_age.is_some() || a.checkpoints_expire_after.is_some();
    if !a.snapshots.is_empty() && (!policy.is_empty() || shapes_policy || a.tag.is_some()) {
        anyhow::bail!("name the snapshots to delete or give a retention policy (--keep-*, --tag), not both");
    }
    let repo = open_repo(g)?;
    // The WAL follows the base backups: what no kept one needs goes too.
    let after_forget = |repo: &Repository| -> Result<(Vec<WalExpiry>, Option<PruneReport>)> {
        let expired = lifeboat_core::jobs::pitr::expire::expire(repo, a.dry_run, g.lock_wait())?;
        if !a.prune || a.dry_run {
            return Ok((expired, None));
        }
        let options = PruneOptions {
            dry_run: false,
            lock_wait: g.lock_wait(),
        };
        Ok((expired, Some(lifeboat_core::repo::prune::prune(repo, options, &Bars::new())?)))
    };
    if !a.snapshots.is_empty() {
        let removed = lifeboat_core::repo::retention::forget_snapshots(&repo, &a.snapshots, a.dry_run, g.lock_wait())?;
        let (wal_expired, prune) = after_forget(&repo)?;
        if a.json {
            print_json(&serde_json::json!({ "removed": removed, "dry_run": a.dry_run, "wal_expired": wal_expired, "prune": prune }))?;
            return Ok(ExitCode::SUCCESS);
        }
        for snapshot in &removed {
            println!(
                "{} {} {}  {}",
                if a.dry_run { "would remove" } else { "removed" },
                snapshot.short_id,
                snapshot.tag,
                snapshot.time.format("%Y-%m-%d %H:%M:%S")
            );
        }
        print_wal_expired(&wal_expired, a.dry_run);
        if let Some(p) = prune {
            print_pruned(&p);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = ForgetOptions {
        policy,
        now: chrono::Utc::now(),
        tag: a.tag.clone(),
        dry_run: a.dry_run,
        lock_wait: g.lock_wait(),
    };
    let groups = lifeboat_core::repo::retention::forget(&repo, &options, &chrono::Local)?;
    let (wal_expired, prune) = after_forget(&repo)?;
    if a.json {
        print_json(&serde_json::json!({ "groups": groups, "wal_expired": wal_expired, "prune": prune }))?;
        return Ok(ExitCode::SUCCESS);
    }
    for group in &groups {
        println!("{}:", group.tag);
        for v in &group.verdicts {
            let verdict = if v.keep.is_empty() {
                if a.dry_run {
                    "would remove".to_string()
                } else {
                    "removed".to_string()
                }
            } else {
                format!(
                    "keep ({})",
                    v.keep
                        .iter()
                        .map(|r| serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            println!(
                "  {} {}  {}",
                v.snapshot.short_id,
                v.snapshot.time.format("%Y-%m-%d %H:%M:%S"),
                verdict
            );
        }
    }
    print_wal_expired(&wal_expired, a.dry_run);
    if let Some(p) = prune {
        print_pruned(&p);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_wal_expired(expired: &[WalExpiry], dry_run: bool) {
    for expiry in expired {
        println!(
            "WAL of {}: {} {} file(s) older than its oldest base backup {} (kept from {})",
            expiry.name,
            if dry_run { "would remove" } else { "removed" },
            expiry.removed.len(),
            &expiry.oldest_base_backup[..8],
            expiry.keep_from
        );
    }
}

fn print_pruned(report: &PruneReport) {
    println!("pruned: {} freed", human_bytes(report.bytes_freed));
}

#[derive(Args)]
pub struct PruneArgs {
    /// Show what would be freed; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

pub fn prune(g: &GlobalArgs, a: &PruneArgs) -> Result<ExitCode> {
    let repo = Arc::new(open_repo(g)?);
    let runtime = context::runtime()?;
    let catalog = runtime.block_on(context::catalog_if_available());
    let options = PruneOptions {
        dry_run: a.dry_run,
        lock_wait: g.lock_wait(),
    };
    let report = runtime.block_on(ops::maintenance::prune(repo, catalog.as_ref(), options, Arc::new(Bars::new())))?;
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "{} {} of {}: {} packs removed, {} repacked, {} leftover packs and {} temporary files removed",
            if a.dry_run { "would free" } else { "freed" },
            human_bytes(report.bytes_freed),
            human_bytes(report.bytes_before),
            report.packs_removed,
            report.packs_repacked,
            report.leftover_packs_removed,
            report.temporary_files_removed
        );
        if report.young_unindexed_packs_kept > 0 {
            println!(
                "kept {} pack(s) in no index that are younger than {} hours: a backup may still be writing them; \
                 a later prune removes them if they stay unindexed",
                report.young_unindexed_packs_kept,
                lifeboat_core::repo::prune::UNINDEXED_GRACE.as_secs() / 3600
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// List key slots.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a passphrase (from LIFEBOAT_NEW_PASSWORD, --new-password-file, or asked).
    Add {
        /// Whose or which device's passphrase this is.
        #[arg(long)]
        label: String,
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// Remove a key slot (never the last); revokes that passphrase or kit.
    Remove {
        /// Slot id or unique prefix.
        slot: String,
    },
    /// Issue a recovery kit: a text that opens the repository with no passphrase.
    RecoveryKit {
        /// Write the kit to this file (created 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long, default_value = "recovery kit")]
        label: String,
    },
}

pub fn key(g: &GlobalArgs, command: &KeyCommand) -> Result<ExitCode> {
    let repo = Arc::new(open_repo(g)?);
    let runtime = context::runtime()?;
    let catalog = runtime.block_on(context::catalog_if_available());
    let catalog = catalog.as_ref();
    match command {
        KeyCommand::List { json } => {
            let slots = keys::list(&repo)?;
            if *json {
                let list: Vec<_> = slots
                    .iter()
                    .map(|s| serde_json::json!({ "id": s.id, "kind": s.kind, "label": s.label, "host": s.host, "user": s.user, "created": s.created, "current": s.id == repo.slot_id() }))
                    .collect();
                print_json(&list)?;
            } else {
                for s in &slots {
                    let current = if s.id == repo.slot_id() { "*" } else { " " };
                    let kind = serde_json::to_value(s.kind)?.as_str().unwrap_or_default().to_string();
                    println!(
                        "{current} {}  {:<12} {}  {}@{}  {}",
                        s.id,
                        kind,
                        s.created.format("%Y-%m-%d"),
                        s.user,
                        s.host,
                        s.label
                    );
                }
            }
        }
        KeyCommand::Add { label, new_password_file } => {
            let passphrase = credentials::new_passphrase("LIFEBOAT_NEW_PASSWORD", new_password_file.as_deref(), "New passphrase")?;
            let slot = runtime.block_on(ops::keys::add_passphrase(repo.clone(), catalog, passphrase, label))?;
            println!("added key slot {} ({label})", slot.id);
        }
        KeyCommand::Remove { slot } => {
            let keychain = context::keychain(g);
            let removed = runtime.block_on(ops::keys::remove(repo.clone(), catalog, keychain, slot))?;
            println!(
                "removed key slot {} ({}): its passphrase or kit no longer opens the repository",
                removed.id, removed.label
            );
        }
        KeyCommand::RecoveryKit { output: Some(path), label } => {
            let slot = runtime.block_on(ops::keys::export_recovery_kit(repo.clone(), catalog, label, path))?;
            eprintln!(
                "recovery kit written to {} (key slot {}): keep it somewhere safe, away from the repository",
                path.display(),
                slot.id
            );
        }
        KeyCommand::RecoveryKit { output: None, label } => {
            let (_, kit) = runtime.block_on(ops::keys::issue_recovery_kit(repo.clone(), catalog, label))?;
            print!("{}", kit.to_text(&repo.backend().location()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct UnlockArgs {
    /// Remove every lock, not only stale ones: only when no other job runs.
    #[arg(long)]
    all: bool,
}

pub fn unlock(g: &GlobalArgs, a: &UnlockArgs) -> Result<ExitCode> {
    let (backend, _) = credentials::backend(g)?;
    Repository::read_config(backend.as_ref())?;
    let removed = lock::unlock(backend.as_ref(), a.all)?;
    if removed.locks.is_empty() && removed.temporary_files.is_empty() && removed.probes.is_empty() {
        println!("no stale locks");
    }
    for (name, info) in removed.locks {
        match info {
            Some(info) => println!("removed {}: {}", name, info.describe()),
            None => println!("removed unreadable lock {name}"),
        }
    }
    for path in removed.temporary_files {
        println!("removed half-written lock file {path}");
    }
    for path in removed.probes {
        println!("removed leftover probe file {path}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct MigrateArgs {
    #[arg(long)]
    json: bool,
}

pub fn migrate(g: &GlobalArgs, a: &MigrateArgs) -> Result<ExitCode> {
    let repo = open_repo(g)?;
    let report = lifeboat_core::repo::migrate::migrate(&repo, g.lock_wait())?;
    if a.json {
        print_json(&report)?;
    } else if !report.migrated() {
        println!(
            "repository {} already is at format {}: nothing to do",
            report.repository_id, report.to_version
        );
    } else {
        println!(
            "repository {} moved from format {} to format {}: new backups store changed chunks as deltas; \
             Lifeboat builds older than format {} can no longer open it",
            report.repository_id, report.from_version, report.to_version, report.to_version
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the packs that exist (damaged index files, a
    /// pack that was missing and came back, a pack that is gone for good).
    Index {
        #[arg(long)]
        json: bool,
    },
    /// Restore a missing or damaged `config` from the copies in the key slots
    /// (or the recovery kit's repository id); proven with the passphrase or kit.
    Config {
        #[arg(long)]
        json: bool,
    },
}

pub fn repair(g: &GlobalArgs, command: &RepairCommand) -> Result<ExitCode> {
    match command {
        RepairCommand::Index { json } => {
            let repo = open_repo(g)?;
            let report = lifeboat_core::repo::repair::repair_index(&repo, g.lock_wait(), &Bars::new())?;
            if *json {
                print_json(&report)?;
            } else {
                for problem in &report.packs_unreadable {
                    eprintln!("warning: left out of the index: {problem}");
                }
                println!(
                    "indexed {} packs ({} blobs) from their headers; {} old index files replaced{}",
                    report.packs_indexed,
                    report.blobs_indexed,
                    report.index_files_replaced,
                    if report.blobs_damaged > 0 {
                        format!("; {} damaged blobs left out", report.blobs_damaged)
                    } else {
                        String::new()
                    }
                );
                for id in &report.incomplete_snapshots {
                    eprintln!(
                        "warning: snapshot {} still lacks data no pack holds: restore it from another copy of the repository, or remove it with `lifeboat forget`",
                        &id[..8]
                    );
                }
            }
            Ok(if report.incomplete_snapshots.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        RepairCommand::Config { json } => {
            let (backend, _) = credentials::backend(g)?;
            let passphrase = match credentials::given_passphrase(g)? {
                None if g.recovery_kit.is_none() && credentials::can_prompt() => Some(credentials::prompt("Repository passphrase: ")?),
                given => given,
            };
            let secrets = lifeboat_core::repo::repair::ConfigSecrets {
                passphrase,
                recovery_kit: g.recovery_kit.as_deref().map(credentials::read_secret_file).transpose()?,
                keychain: credentials::keychain(g),
            };
            let report = lifeboat_core::repo::repair::repair_config(backend.as_ref(), &secrets)?;
            if *json {
                print_json(&report)?;
            } else {
                println!(
                    "{} the config of repository {}",
                    if report.replaced { "replaced" } else { "restored" },
                    report.repository_id
                );
                if report.source == lifeboat_core::repo::repair::ConfigSource::RecoveryKitId {
                    eprintln!(
                        "note: no key slot held a copy, so chunk and pack settings are this version's defaults: \
                         every snapshot reads as before; the next backups may share less with older ones"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
