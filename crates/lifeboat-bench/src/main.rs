//! `lifeboat-bench`: figures for the README, never a pass/fail test.
//!
//! - `run`: generates a dump-like stream (default 1 GiB), a day-later version
//!   and a shifted copy, then times `lifeboat put`, `cat`, `check --read-data`
//!   (wall time and peak RSS through GNU time) and, when `restic` is on the
//!   PATH, the same for `restic backup --stdin` / `restic dump`, with ratios;
//!   then `copy` to a second repository, and put / cat / copy against a
//!   repository on a local S3 server and a local sshd (SFTP), as ratios to
//!   the local figures with the bytes a day-2 copy sends.
//! - `chunking`: stores the same streams with several chunk sizes and zstd
//!   levels through the library, for choosing the defaults.
//! - `postgres`: `lifeboat backup` / `restore` against bare `pg_dump` /
//!   `pg_restore` on a real throwaway cluster with about 1 GB of dump, and
//!   the bytes a day of changes adds (see `postgres.rs`).
//! - `pitr`: point-in-time recovery under a steady pgbench load: base
//!   backup against bare `pg_basebackup`, WAL stored per hour against the
//!   WAL written, and the time to recover (see `pitr.rs`).
//! - `gen`: writes one generated stream to a file.

mod dumpgen;
mod pitr;
mod postgres;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dumpgen::Variant;
use lifeboat_core::backend::LocalBackend;
use lifeboat_core::progress::NoProgress;
use lifeboat_core::repo::store::{put, PutOptions};
use lifeboat_core::repo::{ChunkerParams, InitOptions, Repository};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum VariantArg {
    Base,
    Churned,
    Shifted,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write one generated stream.
    Gen {
        #[arg(long, default_value_t = 1 << 30)]
        size: u64,
        #[arg(long, value_enum, default_value = "base")]
        variant: VariantArg,
        #[arg(long)]
        output: PathBuf,
    },
    /// lifeboat (and restic, if installed) on the same streams.
    Run {
        #[arg(long, default_value_t = 1 << 30)]
        size: u64,
        /// Working folder (streams and repositories; about 3.5x size).
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
        /// The lifeboat binary to measure.
        #[arg(long, default_value = "target/release/lifeboat")]
        lifeboat: PathBuf,
    },
    /// lifeboat backup/restore vs pg_dump/pg_restore on a real cluster.
    Postgres {
        /// pgbench scale (100,000 account rows, about 10 MB of dump, each).
        #[arg(long, default_value_t = 50)]
        scale: u32,
        /// Rows of the text/jsonb table (about 250 bytes of dump each).
        #[arg(long, default_value_t = 2_000_000)]
        documents: u64,
        /// Timed runs of the bare dump and of the first backup (medians are printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Daily backups (a day of changes before each) for the "N days
        /// stored" figure; the first two are the two measured days.
        #[arg(long, default_value_t = 30)]
        days: usize,
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
        #[arg(long, default_value = "target/release/lifeboat")]
        lifeboat: PathBuf,
    },
    /// Point-in-time recovery under a steady write load.
    Pitr {
        /// pgbench scale (about 15 MB of cluster each).
        #[arg(long, default_value_t = 60)]
        scale: u32,
        /// pgbench transactions per second during the load.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Minutes of load after the base backup (recovery targets their end).
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Timed base backups, each side (medians are printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
        #[arg(long, default_value = "target/release/lifeboat")]
        lifeboat: PathBuf,
    },
    /// Chunk size and zstd level sweep.
    Chunking {
        #[arg(long, default_value_t = 256 << 20)]
        size: u64,
        /// Average chunk sizes to try, in KiB.
        #[arg(long, value_delimiter = ',', default_value = "8,16,32,64,256,1024")]
        avg_kib: Vec<u32>,
        /// zstd levels to try.
        #[arg(long, value_delimiter = ',', default_value = "1,3")]
        levels: Vec<i32>,
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Gen { size, variant, output } => {
            let variant = match variant {
                VariantArg::Base => Variant::Base,
                VariantArg::Churned => Variant::Churned,
                VariantArg::Shifted => Variant::Shifted,
            };
            generate(size, variant, &output)?;
        }
        Cmd::Run { size, dir, lifeboat } => run(size, &dir, &lifeboat)?,
        Cmd::Postgres {
            scale,
            documents,
            runs,
            days,
            dir,
            lifeboat,
        } => postgres::run(&postgres::Options {
            scale,
            documents,
            runs: runs.max(1),
            days: days.max(3),
            dir,
            lifeboat,
        })?,
        Cmd::Pitr {
            scale,
            rate,
            minutes,
            runs,
            dir,
            lifeboat,
        } => pitr::run(&pitr::Options {
            scale,
            rate,
            minutes: minutes.max(1),
            runs: runs.max(1),
            dir,
            lifeboat,
        })?,
        Cmd::Chunking {
            size,
            dir,
            avg_kib,
            levels,
        } => chunking(size, &dir, &avg_kib, &levels)?,
    }
    Ok(())
}

fn generate(size: u64, variant: Variant, path: &Path) -> Result<u64> {
    let mut out = BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    Ok(dumpgen::write_dump(size, variant, &mut out)?)
}

/// Streams for a run: base, churned, shifted (generated once, reused).
fn streams(size: u64, dir: &Path) -> Result<[PathBuf; 3]> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for (name, variant) in [
        ("base", Variant::Base),
        ("churned", Variant::Churned),
        ("shifted", Variant::Shifted),
    ] {
        let path = dir.join(format!("{name}-{size}.dump"));
        if !path.exists() {
            eprintln!("generating {}", path.display());
            let tmp = path.with_extension("tmp");
            generate(size, variant, &tmp)?;
            std::fs::rename(&tmp, &path)?;
        }
        paths.push(path);
    }
    Ok(paths.try_into().expect("three streams"))
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct Measured {
    seconds: f64,
    peak_rss_kib: u64,
}

/// Runs `program args` under GNU time with `stdin` from a file (or nothing)
/// and stdout discarded.
fn measure(program: &Path, args: &[&str], envs: &[(&str, &str)], stdin: Option<&Path>) -> Result<Measured> {
    let report = tempfile_path("time");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%e %M").arg("-o").arg(&report).arg(program).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(File::open(p)?),
        None => Stdio::null(),
    });
    cmd.stdout(Stdio::null());
    let status = cmd.status().context("running /usr/bin/time (install the `time` package)")?;
    if !status.success() {
        bail!("{} {} failed: {status}", program.display(), args.join(" "));
    }
    let text = std::fs::read_to_string(&report)?;
    let _ = std::fs::remove_file(&report);
    let mut fields = text.split_whitespace();
    let seconds = fields.next().context("GNU time output")?.parse()?;
    let peak_rss_kib = fields.next().context("GNU time output")?.parse()?;
    Ok(Measured { seconds, peak_rss_kib })
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lifeboat-bench-{tag}-{}", std::process::id()))
}

struct ToolFigures {
    put: Measured,
    cat: Measured,
    check: Option<Measured>,
    stored: u64,
    churn_added: u64,
    shift_added: u64,
}

fn mb_s(bytes: u64, m: &Measured) -> f64 {
    bytes as f64 / 1e6 / m.seconds.max(1e-3)
}

fn run(size: u64, dir: &Path, lifeboat: &Path) -> Result<()> {
    if !lifeboat.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p lifeboat-cli`",
            lifeboat.display()
        );
    }
    let [base, churned, shifted] = streams(size, dir)?;
    let stream_len = std::fs::metadata(&base)?.len();
    let lifeboat = std::fs::canonicalize(lifeboat)?;

    let repo = dir.join("lifeboat-repo");
    let _ = std::fs::remove_dir_all(&repo);
    let repo_s = repo.to_string_lossy().to_string();
    let env = [("LIFEBOAT_PASSWORD", "bench passphrase"), ("LIFEBOAT_REPO", repo_s.as_str())];
    measure(&lifeboat, &["init", "--no-keychain"], &env, None)?;
    let put = measure(&lifeboat, &["put", "--no-keychain", "--tag", "base"], &env, Some(&base))?;
    let stored = dir_size(&repo);
    let cat = measure(&lifeboat, &["cat", "--no-keychain", "latest:base"], &env, None)?;
    let check = measure(&lifeboat, &["check", "--no-keychain", "--read-data"], &env, None)?;
    // The off-site copy: a second repository, day 1 then day 2.
    let copy_repo = dir.join("lifeboat-copy");
    let _ = std::fs::remove_dir_all(&copy_repo);
    let copy_repo_s = copy_repo.to_string_lossy().to_string();
    let copy_env = [
        ("LIFEBOAT_PASSWORD", "bench passphrase"),
        ("LIFEBOAT_TO_PASSWORD", "bench passphrase"),
        ("LIFEBOAT_REPO", repo_s.as_str()),
    ];
    measure(&lifeboat, &["init", "--no-keychain", "--repo", &copy_repo_s], &env, None)?;
    let copy_args = |spec: &'static str| ["copy", "--no-keychain", spec, "--to", copy_repo_s.as_str()];
    let copy_first = measure(&lifeboat, &copy_args("latest:base"), &copy_env, None)?;
    let copy_stored = dir_size(&copy_repo);
    measure(&lifeboat, &["put", "--no-keychain", "--tag", "churned"], &env, Some(&churned))?;
    let churn_added = dir_size(&repo) - stored;
    measure(&lifeboat, &copy_args("latest:churned"), &copy_env, None)?;
    let copy_churn_added = dir_size(&copy_repo) - copy_stored;
    let remotes = all_remote_figures(&lifeboat, &base, &repo_s)?;
    let before_shift = dir_size(&repo);
    let shift_put = measure(&lifeboat, &["put", "--no-keychain", "--tag", "shifted"], &env, Some(&shifted))?;
    let shift_added = dir_size(&repo) - before_shift;
    let ours = ToolFigures {
        put,
        cat,
        check: Some(check),
        stored,
        churn_added,
        shift_added,
    };

    let restic = which("restic").map(|restic| -> Result<ToolFigures> {
        let repo = dir.join("restic-repo");
        let _ = std::fs::remove_dir_all(&repo);
        let repo_s = repo.to_string_lossy().to_string();
        let env = [("RESTIC_PASSWORD", "bench"), ("RESTIC_REPOSITORY", repo_s.as_str())];
        measure(&restic, &["init"], &env, None)?;
        let put = measure(
            &restic,
            &["backup", "--stdin", "--stdin-filename", "dump.sql", "--tag", "base"],
            &env,
            Some(&base),
        )?;
        let stored = dir_size(&repo);
        let cat = measure(&restic, &["dump", "latest", "dump.sql"], &env, None)?;
        let check = measure(&restic, &["check", "--read-data"], &env, None)?;
        measure(
            &restic,
            &["backup", "--stdin", "--stdin-filename", "dump.sql"],
            &env,
            Some(&churned),
        )?;
        let churn_added = dir_size(&repo) - stored;
        let before_shift = dir_size(&repo);
        measure(
            &restic,
            &["backup", "--stdin", "--stdin-filename", "dump.sql"],
            &env,
            Some(&shifted),
        )?;
        let shift_added = dir_size(&repo) - before_shift;
        Ok(ToolFigures {
            put,
            cat,
            check: Some(check),
            stored,
            churn_added,
            shift_added,
        })
    });

    println!(
        "stream: {:.1} MB generated dump-like data ({})",
        stream_len as f64 / 1e6,
        base.display()
    );
    println!("{:<34} {:>12} {:>12} {:>8}", "", "lifeboat", "restic", "ratio");
    let row = |name: &str, ours: f64, theirs: Option<f64>, unit: &str| match theirs {
        Some(t) => println!("{name:<34} {ours:>10.1}{unit:<2} {t:>10.1}{unit:<2} {:>7.2}x", ours / t),
        None => println!("{name:<34} {ours:>10.1}{unit:<2} {:>12} {:>8}", "-", "-"),
    };
    let restic = restic.transpose()?;
    let r = restic.as_ref();
    row(
        "put throughput (MB/s)",
        mb_s(stream_len, &ours.put),
        r.map(|t| mb_s(stream_len, &t.put)),
        "",
    );
    row(
        "cat throughput (MB/s)",
        mb_s(stream_len, &ours.cat),
        r.map(|t| mb_s(stream_len, &t.cat)),
        "",
    );
    row(
        "check --read-data (MB/s of stream)",
        mb_s(stream_len, ours.check.as_ref().expect("measured")),
        r.and_then(|t| t.check.as_ref()).map(|c| mb_s(stream_len, c)),
        "",
    );
    row(
        "stored after first put (MB)",
        ours.stored as f64 / 1e6,
        r.map(|t| t.stored as f64 / 1e6),
        "",
    );
    row(
        "added by a day of churn (MB)",
        ours.churn_added as f64 / 1e6,
        r.map(|t| t.churn_added as f64 / 1e6),
        "",
    );
    row(
        "  as % of first put's stored bytes",
        pct(ours.churn_added, ours.stored),
        r.map(|t| pct(t.churn_added, t.stored)),
        "%",
    );
    row(
        "added by a shifted copy (MB)",
        ours.shift_added as f64 / 1e6,
        r.map(|t| t.shift_added as f64 / 1e6),
        "",
    );
    row(
        "  as % of first put's stored bytes",
        pct(ours.shift_added, ours.stored),
        r.map(|t| pct(t.shift_added, t.stored)),
        "%",
    );
    row("copy to a second repository (MB/s)", mb_s(stream_len, &copy_first), None, "");
    row("  a day of churn's copy added (MB)", copy_churn_added as f64 / 1e6, None, "");
    row(
        "  as % of that day's backup added",
        pct(copy_churn_added, ours.churn_added),
        None,
        "%",
    );
    row("peak RSS, copy (MiB)", copy_first.peak_rss_kib as f64 / 1024.0, None, "");
    for remote in &remotes {
        let name = remote.name;
        row(&format!("put into {name} (MB/s)"), mb_s(stream_len, &remote.put), None, "");
        row(
            "  time / the local put's",
            remote.put.seconds / ours.put.seconds.max(1e-3),
            None,
            "x",
        );
        row(&format!("cat from {name} (MB/s)"), mb_s(stream_len, &remote.cat), None, "");
        row(
            "  time / the local cat's",
            remote.cat.seconds / ours.cat.seconds.max(1e-3),
            None,
            "x",
        );
        row(
            &format!("copy to {name}, day 1 (MB/s)"),
            mb_s(stream_len, &remote.copy_first),
            None,
            "",
        );
        row("  a day of churn's copy sent (MB)", remote.copy_churn_sent as f64 / 1e6, None, "");
        row(
            "  as % of that day's backup added",
            pct(remote.copy_churn_sent, ours.churn_added),
            None,
            "%",
        );
        row(
            &format!("peak RSS, {name} put / cat / copy (MiB)"),
            remote.peak_rss_kib as f64 / 1024.0,
            None,
            "",
        );
    }
    let rss = |f: &ToolFigures| [f.put.peak_rss_kib, f.cat.peak_rss_kib].into_iter().max().unwrap_or(0) as f64 / 1024.0;
    row("peak RSS, put and cat (MiB)", rss(&ours), r.map(rss), "");
    row("peak RSS, shifted put (MiB)", shift_put.peak_rss_kib as f64 / 1024.0, None, "");
    if restic.is_none() {
        println!("(restic not found on PATH: install the `restic` package for the comparison)");
    }
    Ok(())
}

/// A remote storage on this machine the figures are also taken on.
struct Remote<'a> {
    name: &'static str,
    /// What a Lifeboat process needs to reach it.
    env: Vec<(&'static str, String)>,
    /// Where the backed-up stream's repository goes, and the copies' one.
    repo: String,
    copy: String,
    /// Bytes the copies' repository holds on the storage.
    copy_bytes: Box<dyn Fn() -> u64 + 'a>,
}

struct RemoteFigures {
    name: &'static str,
    put: Measured,
    cat: Measured,
    copy_first: Measured,
    /// Bytes the day-2 copy added on the storage: what travelled.
    copy_churn_sent: u64,
    peak_rss_kib: u64,
}

/// The same stream into a repository on `remote`, and copies of the local
/// repository's snapshots to a second one there.
fn remote_figures(lifeboat: &Path, base: &Path, local_repo: &str, remote: &Remote) -> Result<RemoteFigures> {
    let with = |repo: &str| -> Vec<(&'static str, String)> {
        let mut env = remote.env.clone();
        env.push(("LIFEBOAT_PASSWORD", "bench passphrase".into()));
        env.push(("LIFEBOAT_TO_PASSWORD", "bench passphrase".into()));
        env.push(("LIFEBOAT_REPO", repo.to_string()));
        env
    };
    let env = with(&remote.repo);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    measure(lifeboat, &["init", "--no-keychain"], &env, None)?;
    let put = measure(lifeboat, &["put", "--no-keychain", "--tag", "base"], &env, Some(base))?;
    let cat = measure(lifeboat, &["cat", "--no-keychain", "latest:base"], &env, None)?;
    measure(lifeboat, &["init", "--no-keychain", "--repo", &remote.copy], &env, None)?;
    let copy_env = with(local_repo);
    let copy_env: Vec<(&str, &str)> = copy_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let copy = |spec: &str| measure(lifeboat, &["copy", "--no-keychain", spec, "--to", &remote.copy], &copy_env, None);
    let copy_first = copy("latest:base")?;
    let before = (remote.copy_bytes)();
    copy("latest:churned")?;
    let copy_churn_sent = (remote.copy_bytes)() - before;
    let peak_rss_kib = [put.peak_rss_kib, cat.peak_rss_kib, copy_first.peak_rss_kib]
        .into_iter()
        .max()
        .unwrap_or(0);
    Ok(RemoteFigures {
        name: remote.name,
        put,
        cat,
        copy_first,
        copy_churn_sent,
        peak_rss_kib,
    })
}

/// The figures on a local S3 server (moto, over loopback through the test
/// relay) and a local sshd, where they are installed.
fn all_remote_figures(lifeboat: &Path, base: &Path, local_repo: &str) -> Result<Vec<RemoteFigures>> {
    let mut figures = Vec::new();
    if lifeboat_testkit::s3::moto_binary().is_some() {
        let server = lifeboat_testkit::s3::S3Server::start("bench");
        let remote = Remote {
            name: "S3",
            env: server.env(),
            repo: "s3://bench/repo".into(),
            copy: "s3://bench/copy".into(),
            copy_bytes: Box::new(|| server.bucket_size("bench", "copy/")),
        };
        figures.push(remote_figures(lifeboat, base, local_repo, &remote)?);
    } else {
        println!("(moto_server not found: run `source scripts/object-servers` for the S3 figures)");
    }
    if Path::new(lifeboat_testkit::sftp::SSHD).exists() {
        let server = lifeboat_testkit::sftp::SftpServer::start();
        let remote = Remote {
            name: "SFTP",
            env: server.env(),
            repo: server.location("repo"),
            copy: server.location("copy"),
            copy_bytes: Box::new(|| dir_size(&server.files().join("copy"))),
        };
        figures.push(remote_figures(lifeboat, base, local_repo, &remote)?);
    } else {
        println!("(sshd not found: run `source scripts/object-servers` for the SFTP figures)");
    }
    Ok(figures)
}

fn pct(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
}

fn chunking(size: u64, dir: &Path, avg_kib: &[u32], levels: &[i32]) -> Result<()> {
    let [base, churned, shifted] = streams(size, dir)?;
    let stream_len = std::fs::metadata(&base)?.len();
    println!("stream: {:.1} MB; churned and shifted variants of it", stream_len as f64 / 1e6);
    println!(
        "{:>8} {:>5} {:>9} {:>11} {:>13} {:>13} {:>9} {:>12}",
        "avg", "zstd", "put MB/s", "stored MB", "churn added", "shift added", "blobs", "index bytes"
    );
    for avg in avg_kib.iter().map(|k| k << 10) {
        for &level in levels {
            let path = dir.join("sweep-repo");
            let _ = std::fs::remove_dir_all(&path);
            let backend = Arc::new(LocalBackend::new(&path));
            let options = InitOptions {
                chunker: ChunkerParams {
                    min_size: avg / 4,
                    avg_size: avg,
                    max_size: avg * 4,
                },
                compression_level: level,
                ..InitOptions::default()
            };
            let (repo, _) = Repository::init(backend, "bench", "bench", &options)?;
            let put_stream = |path: &Path, tag: &str| -> Result<lifeboat_core::repo::store::PutReport> {
                let options = PutOptions {
                    tag: tag.into(),
                    ..Default::default()
                };
                Ok(put(&repo, &mut File::open(path)?, &options, &NoProgress)?)
            };
            let started = Instant::now();
            let first = put_stream(&base, "base")?;
            let seconds = started.elapsed().as_secs_f64();
            let churn = put_stream(&churned, "churned")?;
            let shift = put_stream(&shifted, "shifted")?;
            let blobs = first.new_chunks + churn.new_chunks + shift.new_chunks;
            println!(
                "{:>7}K {:>5} {:>9.0} {:>11.1} {:>7.1} ({:>3.0}%) {:>7.1} ({:>3.0}%) {:>9} {:>12}",
                avg >> 10,
                level,
                stream_len as f64 / 1e6 / seconds,
                first.added_bytes as f64 / 1e6,
                churn.added_bytes as f64 / 1e6,
                pct(churn.added_bytes, first.added_bytes),
                shift.added_bytes as f64 / 1e6,
                pct(shift.added_bytes, first.added_bytes),
                blobs,
                dir_size(&path.join("index"))
            );
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    Ok(())
}
