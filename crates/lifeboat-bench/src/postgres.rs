//! `postgres`: Lifeboat against bare `pg_dump` / `pg_restore` on a real
//! throwaway cluster holding about 1 GB of dump (pgbench tables plus a table
//! of text and jsonb rows with indexes), what a realistic day of changes
//! costs the second backup, and what a month of daily backups stores. The
//! targets printed are issue 14's.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use lifeboat_testkit::PgCluster;

use crate::{dir_size, mb_s, measure, pct, Measured};

pub struct Options {
    /// pgbench scale: 100,000 accounts rows each (about 10 MB of dump).
    pub scale: u32,
    /// Rows of the text/jsonb table (about 250 bytes of dump each).
    pub documents: u64,
    /// Timed runs of the bare dump and the first backup (medians are shown).
    pub runs: usize,
    /// Daily backups in the "N days stored" figure, the first included.
    pub days: usize,
    pub dir: PathBuf,
    pub lifeboat: PathBuf,
}

/// Where a day's deletes fall.
#[derive(Clone, Copy)]
enum Deletes {
    /// A retention purge of the oldest rows, and a few scattered ones.
    MostlyOldest,
    /// All scattered over the whole table: the worst case for chunk reuse.
    Scattered,
}

/// A day's changes: 1% of each table's rows, as a real application makes
/// them: appends (0.4%), updates mostly on the newest 5% of rows (0.5%),
/// and deletes (0.1%) placed as `deletes` says.
fn day_of_changes(accounts: u64, documents: u64, deletes: Deletes) -> String {
    let changes = |table: &str, id: &str, rows: u64, insert: &str, update: &str| {
        let (new, updated, deleted) = (rows * 4 / 1000, rows * 5 / 1000, rows / 1000);
        let (oldest, scattered) = match deletes {
            Deletes::MostlyOldest => (deleted * 9 / 10, deleted / 10),
            Deletes::Scattered => (0, deleted),
        };
        format!(
            "{insert} FROM generate_series(1, {new}) g, (SELECT max({id}) AS top FROM {table}) m;
             UPDATE {table} SET {update} WHERE {id} IN
               (SELECT {id} FROM {table} WHERE {id} > (SELECT max({id}) - {recent} FROM {table}) ORDER BY random() LIMIT {updated});
             DELETE FROM {table} WHERE {id} IN (SELECT {id} FROM {table} ORDER BY {id} LIMIT {oldest});
             DELETE FROM {table} WHERE {id} IN (SELECT {id} FROM {table} ORDER BY random() LIMIT {scattered});",
            recent = rows / 20,
        )
    };
    changes(
        "pgbench_accounts",
        "aid",
        accounts,
        "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT m.top + g, 1 + g % 10, 0, ''",
        "abalance = abalance + 1 + (aid % 97)",
    ) + &changes(
        "documents",
        "id",
        documents,
        &format!("INSERT INTO documents (created_at, customer_id, title, body, attrs) SELECT now(), g % 50000, 'Invoice new ' || g, {DOCUMENT_BODY}, {DOCUMENT_ATTRS}"),
        "attrs = attrs || '{\"status\": \"paid\"}'::jsonb",
    )
}

const DOCUMENT_BODY: &str =
    "md5(g::text) || ' ' || repeat('net 30 days, ', 1 + g % 5) || md5((g * 31)::text) || ' line items: ' || (g % 17)::text";
const DOCUMENT_ATTRS: &str = "jsonb_build_object('status', (ARRAY['new', 'sent', 'paid', 'void'])[1 + g % 4], \
     'amount', (g % 100000) / 100.0, 'tags', jsonb_build_array('t' || g % 13, 't' || g % 29))";

fn psql(cluster: &PgCluster, database: &str, sql: &str) {
    cluster.psql(database, sql);
}

fn tool(cluster: &PgCluster, name: &str) -> PathBuf {
    cluster.bin_dir().join(name)
}

fn generate(cluster: &PgCluster, options: &Options) -> Result<()> {
    psql(cluster, "postgres", "CREATE DATABASE bench");
    eprintln!("generating pgbench tables at scale {}", options.scale);
    let status = Command::new(tool(cluster, "pgbench"))
        .stderr(std::process::Stdio::null())
        .args([
            "-i",
            "-q",
            "-s",
            &options.scale.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
        ])
        .args(["-U", "postgres", "bench"])
        .status()
        .context("running pgbench")?;
    if !status.success() {
        bail!("pgbench -i failed: {status}");
    }
    eprintln!("generating {} document rows with indexes", options.documents);
    psql(
        cluster,
        "bench",
        &format!(
            "CREATE TABLE documents (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, customer_id int NOT NULL,
                                     title text NOT NULL, body text NOT NULL, attrs jsonb NOT NULL);
             INSERT INTO documents (created_at, customer_id, title, body, attrs)
               SELECT now() - make_interval(secs => {n} - g), (g::bigint * 7919) % 50000, 'Invoice ' || g, {DOCUMENT_BODY}, {DOCUMENT_ATTRS}
               FROM generate_series(1, {n}) g;
             CREATE INDEX ON documents (created_at);
             CREATE INDEX ON documents (customer_id);
             CREATE INDEX ON documents USING gin (attrs);",
            n = options.documents
        ),
    );
    psql(cluster, "bench", "VACUUM ANALYZE");
    Ok(())
}

/// Drops `databases` (restored copies whose autovacuum would run beside the
/// next timing) and checkpoints, so every timed restore starts alike.
fn settle(cluster: &PgCluster, databases: &[&str]) {
    for database in databases {
        psql(cluster, "postgres", &format!("DROP DATABASE IF EXISTS {database}"));
    }
    psql(cluster, "postgres", "CHECKPOINT");
}

/// The size of the newest snapshot's dump, from `lifeboat snapshots --json`.
fn dump_size_of_latest(lifeboat: &std::path::Path, env: &[(&str, &str)]) -> Result<u64> {
    let output = Command::new(lifeboat)
        .args(["snapshots", "--no-keychain", "--json"])
        .envs(env.iter().copied())
        .output()
        .context("running lifeboat snapshots")?;
    if !output.status.success() {
        bail!("lifeboat snapshots failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading lifeboat snapshots --json")?;
    listed
        .as_array()
        .and_then(|snapshots| {
            snapshots
                .iter()
                .filter_map(|s| Some((s["generation"].as_u64()?, s["size"].as_u64()?)))
                .max()
        })
        .map(|(_, size)| size)
        .context("lifeboat snapshots --json listed no snapshot with a size")
}

/// The median run, and the best time (the least disturbed by neighbours).
fn median(mut runs: Vec<Measured>) -> (Measured, f64) {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let best = runs[0].seconds;
    (runs.swap_remove(runs.len() / 2), best)
}

fn secs(m: &Measured) -> String {
    format!("{:.1} s", m.seconds)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn run(options: &Options) -> Result<()> {
    if !options.lifeboat.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p lifeboat-cli`",
            options.lifeboat.display()
        );
    }
    let lifeboat = std::fs::canonicalize(&options.lifeboat)?;
    std::fs::create_dir_all(&options.dir)?;
    let cluster = PgCluster::start_durable();
    generate(&cluster, options)?;
    let url = cluster.url("bench");
    let pg_dump = tool(&cluster, "pg_dump");

    let repo = options.dir.join("pg-repo");
    let repo_s = repo.display().to_string();
    let env = [("LIFEBOAT_PASSWORD", "bench passphrase"), ("LIFEBOAT_REPO", repo_s.as_str())];

    // This machine's timings wander by 20 %: interleave the two, take medians.
    let (mut bares, mut backups) = (Vec::new(), Vec::new());
    for run in 1..=options.runs {
        eprintln!(
            "run {run}/{}: bare pg_dump -Fc -Z0 > /dev/null, then lifeboat backup into a new repository",
            options.runs
        );
        bares.push(measure(&pg_dump, &["-Fc", "-Z0", "-d", &url], &[], None)?);
        let _ = std::fs::remove_dir_all(&repo);
        measure(&lifeboat, &["init", "--no-keychain"], &env, None)?;
        backups.push(measure(
            &lifeboat,
            &["backup", "--no-keychain", "--db", &url, "--name", "bench"],
            &env,
            None,
        )?);
    }
    let ((bare, bare_best), (backup, backup_best)) = (median(bares), median(backups));
    let stored = dir_size(&repo);

    let compressed_file = options.dir.join("bench-default.dump");
    let plain_file = options.dir.join("bench-z0.dump");
    eprintln!("pg_dump -Fc (default compression) to a file");
    let compressed = measure(
        &pg_dump,
        &["-Fc", "-d", &url, "-f", &compressed_file.display().to_string()],
        &[],
        None,
    )?;
    let compressed_size = std::fs::metadata(&compressed_file)?.len();
    measure(
        &pg_dump,
        &["-Fc", "-Z0", "-d", &url, "-f", &plain_file.display().to_string()],
        &[],
        None,
    )?;
    let dump_size = std::fs::metadata(&plain_file)?.len();

    // The same pg_restore options Lifeboat uses, so the ratio is Lifeboat's own cost.
    settle(&cluster, &[]);
    psql(&cluster, "postgres", "CREATE DATABASE from_file");
    eprintln!("pg_restore from a local file");
    let file_restore = measure(
        &tool(&cluster, "pg_restore"),
        &[
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            "--dbname",
            &cluster.url("from_file"),
        ],
        &[],
        Some(&plain_file),
    )?;
    eprintln!("lifeboat restore");
    settle(&cluster, &["from_file"]);
    let restore = measure(
        &lifeboat,
        &["restore", "--no-keychain", "latest:bench", "--to", &cluster.url("from_lifeboat")],
        &env,
        None,
    )?;

    let accounts = u64::from(options.scale) * 100_000;
    let day_after = |deletes: Deletes| -> Result<(Measured, u64)> {
        psql(&cluster, "bench", &day_of_changes(accounts, options.documents, deletes));
        let before = dir_size(&repo);
        let backup = measure(&lifeboat, &["backup", "--no-keychain", "--db", &url, "--name", "bench"], &env, None)?;
        Ok((backup, dir_size(&repo) - before))
    };
    let cat = || measure(&lifeboat, &["cat", "--no-keychain", "latest:bench"], &env, None);
    eprintln!("lifeboat cat of the first backup");
    settle(&cluster, &["from_lifeboat"]);
    let first_cat = cat()?;
    eprintln!("day 2: a day of changes (deletes: a purge of the oldest rows, a few scattered), then a backup");
    let (second, added) = day_after(Deletes::MostlyOldest)?;
    eprintln!("day 3: a day of changes (deletes all scattered), then a backup");
    let (third, added_scattered) = day_after(Deletes::Scattered)?;
    for day in 4..=options.days {
        eprintln!("day {day}/{}: a day of changes, then a backup", options.days);
        day_after(Deletes::MostlyOldest)?;
    }
    let month_stored = dir_size(&repo);
    // The last backup's changed chunks are deltas: reading one reads its base too.
    eprintln!("lifeboat cat and restore of the last backup");
    let last_size = dump_size_of_latest(&lifeboat, &env)?;
    let last_cat = cat()?;
    settle(&cluster, &[]);
    let last_restore = measure(
        &lifeboat,
        &[
            "restore",
            "--no-keychain",
            "latest:bench",
            "--to",
            &cluster.url("from_lifeboat_last"),
        ],
        &env,
        None,
    )?;

    let ratio = |ours: &Measured, theirs: &Measured| ours.seconds / theirs.seconds.max(1e-3);
    println!(
        "database: pgbench scale {} + {} document rows; dump {} (custom format, uncompressed); backup and bare dump: medians of {} runs",
        options.scale,
        options.documents,
        mib(dump_size),
        options.runs
    );
    println!("{:<46} {:>12} {:>12} {:>8}  target", "", "lifeboat", "baseline", "ratio");
    println!(
        "{:<46} {:>12} {:>12} {:>7.2}x  <= 1.15x (medians)",
        "backup vs bare pg_dump -Fc -Z0 > /dev/null",
        secs(&backup),
        secs(&bare),
        ratio(&backup, &bare)
    );
    println!(
        "{:<46} {:>10.1} s {:>10.1} s {:>7.2}x",
        "  best runs",
        backup_best,
        bare_best,
        backup_best / bare_best.max(1e-3)
    );
    println!(
        "{:<46} {:>12} {:>12} {:>7.2}x  <= 0.90x",
        "stored vs default pg_dump -Fc file",
        mib(stored),
        mib(compressed_size),
        stored as f64 / compressed_size.max(1) as f64
    );
    println!("{:<46} {:>12} {:>12}", "  (pg_dump -Fc took)", "", secs(&compressed));
    println!(
        "{:<46} {:>12} {:>11.1}%  {:>7}  <= 3%",
        "a day later (1% of rows changed): added bytes",
        mib(added),
        pct(added, stored),
        "of 1st"
    );
    println!("{:<46} {:>12}", "  that backup took", secs(&second));
    println!(
        "{:<46} {:>12} {:>11.1}%  {:>7}  <= 5%",
        "  the same with every delete scattered",
        mib(added_scattered),
        pct(added_scattered, stored),
        "of 1st"
    );
    println!("{:<46} {:>12}", "  that backup took", secs(&third));
    println!(
        "{:<46} {:>12} {:>12} {:>7.2}x  <= 2.0x",
        format!("{} daily backups stored vs one -Fc file", options.days),
        mib(month_stored),
        mib(compressed_size),
        month_stored as f64 / compressed_size.max(1) as f64
    );
    println!(
        "{:<46} {:>12} {:>12} {:>7.2}x  <= 0.85x",
        "restore vs pg_restore from a local file",
        secs(&restore),
        secs(&file_restore),
        ratio(&restore, &file_restore)
    );
    // Later days hold more rows: compare throughput, not time.
    let against_first = |what: &str, last: &Measured, first: &Measured| {
        let (last_mb_s, first_mb_s) = (mb_s(last_size, last), mb_s(dump_size, first));
        println!(
            "{:<46} {:>7.0} MB/s {:>7.0} MB/s {:>7.2}x",
            format!("{what} of day {} (with deltas) vs the first", options.days),
            last_mb_s,
            first_mb_s,
            last_mb_s / first_mb_s
        );
    };
    against_first("  restore", &last_restore, &restore);
    against_first("cat", &last_cat, &first_cat);
    let peak = [
        backup.peak_rss_kib,
        second.peak_rss_kib,
        third.peak_rss_kib,
        restore.peak_rss_kib,
        last_restore.peak_rss_kib,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    println!(
        "{:<46} {:>8.1} MiB  <= 128 MiB, flat with size",
        "peak RSS, lifeboat backup and restore",
        peak as f64 / 1024.0
    );
    let _ = std::fs::remove_file(&compressed_file);
    let _ = std::fs::remove_file(&plain_file);
    Ok(())
}
