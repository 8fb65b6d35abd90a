//! `pitr`: point-in-time recovery on a real cluster under a steady write
//! load. Prints the base backup's time against bare `pg_basebackup` to
//! `/dev/null`, the WAL stored per hour against the raw WAL the server
//! wrote (streamed by `lifeboat wal stream` while pgbench runs at a fixed
//! rate), and the time to recover to a point `minutes` after the base
//! backup (unpack, `pg_verifybackup`, replay through `wal-fetch`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lifeboat_testkit::{as_server_user, PgCluster};

use crate::{dir_size, measure};

pub struct Options {
    /// pgbench scale: about 15 MB of cluster each.
    pub scale: u32,
    /// pgbench transactions per second during the load.
    pub rate: u32,
    /// Minutes of load after the base backup; recovery targets their end.
    pub minutes: u64,
    pub runs: usize,
    pub dir: PathBuf,
    pub lifeboat: PathBuf,
}

fn psql(cluster: &PgCluster, sql: &str) -> String {
    cluster.psql("postgres", sql)
}

pub fn run(options: &Options) -> Result<()> {
    if !options.lifeboat.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p lifeboat-cli`",
            options.lifeboat.display()
        );
    }
    std::fs::create_dir_all(&options.dir)?;
    let dir = std::fs::canonicalize(&options.dir)?;
    // Everything the recovering server's `wal-fetch` reads must be readable
    // by the server's user (`nobody` when this runs as root).
    let work = tempfile::Builder::new().prefix("lifeboat-pitr-bench-").tempdir_in(&dir)?;
    let lifeboat = work.path().join("lifeboat");
    std::fs::copy(&options.lifeboat, &lifeboat)?;
    let repo = work.path().join("repo");
    let secret = work.path().join("secret");
    std::fs::write(&secret, "bench passphrase")?;
    let env: Vec<(String, String)> = vec![
        ("LIFEBOAT_REPO".into(), repo.display().to_string()),
        ("LIFEBOAT_PASSWORD_FILE".into(), secret.display().to_string()),
        ("LIFEBOAT_DATA_DIR".into(), work.path().join("data").display().to_string()),
        ("LIFEBOAT_NO_KEYCHAIN".into(), "1".into()),
        ("LIFEBOAT_NOTIFY".into(), "log".into()),
    ];
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let cluster = PgCluster::start_durable();
    let bin = cluster.bin_dir().to_path_buf();
    let url = cluster.url("postgres");
    eprintln!("generating pgbench tables at scale {}", options.scale);
    let pgbench = |args: &[&str]| -> Result<()> {
        let status = Command::new(bin.join("pgbench"))
            .args(args)
            .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running pgbench")?;
        if !status.success() {
            bail!("pgbench {args:?} failed: {status}");
        }
        Ok(())
    };
    pgbench(&["-i", "-q", "-s", &options.scale.to_string()])?;
    psql(&cluster, "CHECKPOINT");
    let cluster_size: u64 = psql(&cluster, "SELECT sum(pg_database_size(oid)) FROM pg_database").parse()?;

    let pg_basebackup = bin.join("pg_basebackup");
    let base_args = ["--pgdata=-", "--format=tar", "--wal-method=fetch", "--checkpoint=fast", "-d", &url];
    let mut bare = Vec::new();
    let mut ours = Vec::new();
    for run in 1..=options.runs {
        eprintln!(
            "run {run}/{}: bare pg_basebackup to /dev/null, then lifeboat base-backup",
            options.runs
        );
        bare.push(measure(&pg_basebackup, &base_args, &[], None)?.seconds);
        let _ = std::fs::remove_dir_all(&repo);
        measure(&lifeboat, &["init"], &env_refs, None)?;
        let bin_text = bin.display().to_string();
        ours.push(
            measure(
                &lifeboat,
                &["base-backup", "--db", &url, "--name", "bench", "--pg-bin", &bin_text],
                &env_refs,
                None,
            )?
            .seconds,
        );
    }
    bare.sort_by(f64::total_cmp);
    ours.sort_by(f64::total_cmp);
    let (bare_median, ours_median) = (bare[bare.len() / 2], ours[ours.len() / 2]);

    // The archive the recovery uses: the stream runs first, so the base
    // backup taken next has every WAL file after it.
    eprintln!("starting the WAL stream, then the base backup the recovery starts from");
    let _ = std::fs::remove_dir_all(&repo);
    measure(&lifeboat, &["init"], &env_refs, None)?;
    let mut stream = Command::new(&lifeboat)
        .args(["wal", "stream", "--db", &url, "--name", "bench", "--pg-bin"])
        .arg(&bin)
        .envs(env_refs.iter().copied())
        .stderr(Stdio::null())
        .spawn()
        .context("starting lifeboat wal stream")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while psql(
        &cluster,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lifeboat_bench' AND active",
    ) != "1"
    {
        if Instant::now() > deadline {
            bail!("lifeboat wal stream did not start within a minute");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let bin_text = bin.display().to_string();
    measure(
        &lifeboat,
        &["base-backup", "--db", &url, "--name", "bench", "--pg-bin", &bin_text],
        &env_refs,
        None,
    )?;
    let after_base = dir_size(&repo);

    eprintln!(
        "streaming WAL while pgbench runs at {} tps for {} minutes",
        options.rate, options.minutes
    );
    let start_lsn = psql(&cluster, "SELECT pg_current_wal_lsn()");
    let seconds = (options.minutes * 60).to_string();
    pgbench(&["-R", &options.rate.to_string(), "-T", &seconds, "-c", "4", "-j", "2"])?;
    let target_time = psql(
        &cluster,
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    );
    // A change after the target: replay stops at the first commit past it.
    psql(&cluster, "CREATE TABLE bench_after_the_target AS SELECT 1 AS x");
    let raw_wal: u64 = psql(
        &cluster,
        &format!("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{start_lsn}')::bigint"),
    )
    .parse()?;
    let last = psql(&cluster, "SELECT pg_walfile_name(pg_switch_wal())");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = Command::new(&lifeboat)
            .args(["pitr", "show", "bench", "--json"])
            .envs(env_refs.iter().copied())
            .output()?;
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if status["newest_wal"].as_str().is_some_and(|newest| newest >= last.as_str()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("{last} was not streamed into the repository within 10 minutes");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = Command::new("kill").args(["-TERM", &stream.id().to_string()]).status();
    let _ = stream.wait();
    let stored_wal = dir_size(&repo).saturating_sub(after_base);

    eprintln!("recovering to the end of the load");
    if lifeboat_testkit::is_root() {
        let chown = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(work.path()).status()?;
        if !chown.success() {
            bail!("chown of the bench folder failed");
        }
    }
    let datadir = work.path().join("recovered");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut argv = vec!["env".to_string()];
    argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    argv.extend([
        lifeboat.display().to_string(),
        "recover".into(),
        "--name".into(),
        "bench".into(),
        "--time".into(),
        target_time,
        "--datadir".into(),
        datadir.display().to_string(),
        "--pg-bin".into(),
        bin.display().to_string(),
        "--start".into(),
        "--port".into(),
        port.to_string(),
    ]);
    let started = Instant::now();
    let recovered = as_server_user(&argv).output().context("running lifeboat recover")?;
    let recovery = started.elapsed().as_secs_f64();
    let stop = [
        bin.join("pg_ctl").display().to_string(),
        "-D".into(),
        datadir.display().to_string(),
        "-m".into(),
        "fast".into(),
        "stop".into(),
    ];
    let _ = as_server_user(&stop).output();
    if !recovered.status.success() {
        bail!("lifeboat recover failed: {}", String::from_utf8_lossy(&recovered.stderr));
    }

    let hours = options.minutes as f64 / 60.0;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "cluster: pgbench scale {} ({:.0} MiB); load: {} tps for {} min; base backups: medians of {} runs",
        options.scale,
        mib(cluster_size),
        options.rate,
        options.minutes,
        options.runs
    );
    println!(
        "{:<52} {:>9.1} s {:>9.1} s {:>7.2}x",
        "base backup vs bare pg_basebackup > /dev/null",
        ours_median,
        bare_median,
        ours_median / bare_median.max(1e-3)
    );
    println!(
        "{:<52} {:>7.1} MiB {:>7.1} MiB {:>7.2}x",
        "WAL per hour: stored vs written by the server",
        mib(stored_wal) / hours,
        mib(raw_wal) / hours,
        stored_wal as f64 / raw_wal.max(1) as f64
    );
    println!(
        "{:<52} {:>9.1} s",
        format!("recovery to {} min after the base backup", options.minutes),
        recovery
    );
    Ok(())
}
