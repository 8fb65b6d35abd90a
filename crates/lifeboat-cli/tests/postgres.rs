//! `lifeboat backup` against real, throwaway PostgreSQL clusters (initdb +
//! pg_ctl in a temp folder; see lifeboat-testkit).

mod common;

use std::process::Command;

use common::*;
use lifeboat_testkit::PgCluster;

/// A database with what real ones have: schemas, roles owning objects, an
/// extension, a large object, sequences, a view, a function.
fn sample_database(cluster: &PgCluster, name: &str) {
    cluster.psql("postgres", &format!("CREATE DATABASE {name}"));
    cluster.psql(
        "postgres",
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_owner') THEN CREATE ROLE app_owner; END IF; END $$",
    );
    cluster.psql(
        name,
        "CREATE EXTENSION citext;
         CREATE SCHEMA sales AUTHORIZATION app_owner;
         CREATE TABLE sales.customers (id bigserial PRIMARY KEY, email citext UNIQUE NOT NULL, note text);
         CREATE TABLE public.events (id serial PRIMARY KEY, payload jsonb, at timestamptz DEFAULT now());
         ALTER TABLE sales.customers OWNER TO app_owner;
         INSERT INTO sales.customers (email, note) SELECT 'user' || g || '@example.com', repeat('x', g % 50) FROM generate_series(1, 2500) g;
         INSERT INTO public.events (payload) SELECT jsonb_build_object('n', g) FROM generate_series(1, 700) g;
         CREATE VIEW sales.recent AS SELECT * FROM sales.customers WHERE id > 2000;
         CREATE FUNCTION sales.customer_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM sales.customers';
         SELECT lo_from_bytea(0, 'large object bytes');",
    );
}

fn manifest(repo: &TestRepo, snapshot: &str) -> serde_json::Value {
    let list: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == snapshot)
        .cloned()
        .unwrap_or_else(|| panic!("snapshot {snapshot} not listed: {list}"))
}

#[test]
fn backup_streams_pg_dump_with_row_counts_and_a_checkpoint_label() {
    let cluster = PgCluster::start();
    sample_database(&cluster, "shop");
    let repo = TestRepo::new();
    let url = cluster.url("shop");
    let out = repo.ok(&["backup", "--db", &url, "--checkpoint", "before 15 -> 16 upgrade", "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let id = report["snapshot_id"].as_str().unwrap();
    assert_eq!(report["name"], "shop");
    assert_eq!(report["tables"], 2);
    assert_eq!(report["rows"], 3200);

    let listed = manifest(&repo, id);
    assert_eq!(listed["tag"], "shop");
    assert_eq!(listed["kind"], "checkpoint");
    assert_eq!(listed["label"], "before 15 -> 16 upgrade");

    // The stored stream is a custom-format archive pg_restore can read.
    let dump = repo.ok(&["cat", "latest:shop"], None);
    assert!(dump.starts_with(b"PGDMP"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.dump");
    std::fs::write(&file, &dump).unwrap();
    let list = Command::new(cluster.bin_dir().join("pg_restore"))
        .arg("--list")
        .arg(&file)
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let toc = String::from_utf8_lossy(&list.stdout);
    for entry in [
        "TABLE sales customers",
        "VIEW sales recent",
        "FUNCTION sales customer_count",
        "EXTENSION - citext",
        "BLOB",
    ] {
        assert!(toc.contains(entry), "{entry} missing from the archive:\n{toc}");
    }

    // The row counts read from the archive as it streamed agree with the server's.
    let from_archive = lifeboat_core::pg::archive::count_rows(dump.as_slice()).unwrap();
    let on_server: std::collections::BTreeMap<String, u64> = [("public.events", 700), ("sales.customers", 2500)]
        .into_iter()
        .map(|(t, n)| (t.to_string(), n))
        .collect();
    assert_eq!(from_archive, on_server);

    // A second backup of the unchanged database adds almost nothing.
    let second: serde_json::Value = serde_json::from_slice(&repo.ok(&["backup", "--db", &url, "--json"], None)).unwrap();
    assert!(
        second["added_bytes"].as_u64().unwrap() < report["size"].as_u64().unwrap() / 4,
        "{second}"
    );
    assert_eq!(manifest(&repo, second["snapshot_id"].as_str().unwrap())["kind"], "manual");
}

#[test]
fn a_failed_dump_leaves_no_snapshot_and_says_why() {
    let cluster = PgCluster::start();
    sample_database(&cluster, "shop");
    let repo = TestRepo::new();
    let url = cluster.url("shop");
    let first = String::from_utf8(repo.ok(&["backup", "--db", &url], None)).unwrap();

    // A database that does not exist.
    let err = repo.fails(&["backup", "--db", &cluster.url("nosuchdb")], None);
    assert!(err.contains("does not exist"), "{err}");

    // A table pg_dump may not read: pg_dump exits non-zero.
    cluster.psql(
        "shop",
        "CREATE ROLE reader LOGIN; GRANT CONNECT ON DATABASE shop TO reader; GRANT USAGE ON SCHEMA sales TO reader",
    );
    let reader_url = format!("postgres://reader@127.0.0.1:{}/shop", cluster.port);
    let err = repo.fails(&["backup", "--db", &reader_url, "--name", "shop"], None);
    assert!(err.contains("no snapshot was made") && err.contains("permission denied"), "{err}");

    // The server goes away.
    cluster.kill();
    let err = repo.fails(&["backup", "--db", &url], None);
    assert!(err.contains("is the server running"), "{err}");

    let snapshots: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "only the good backup: {snapshots}");
    let latest = repo.ok(&["cat", "latest:shop"], None);
    assert!(latest.starts_with(b"PGDMP"));
    assert_eq!(manifest(&repo, first.trim())["tag"], "shop");
}

#[test]
fn no_suitable_pg_dump_names_the_version_needed() {
    let cluster = PgCluster::start();
    let repo = TestRepo::new();
    // Stand-in for an old client installation (which binaries are installed
    // is the boundary here): a pg_dump that reports version 9.6.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pg_dump");
    std::fs::write(&fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let err = repo.fails(
        &[
            "backup",
            "--db",
            &cluster.url("postgres"),
            "--pg-bin",
            &dir.path().display().to_string(),
        ],
        None,
    );
    let major = cluster.major.to_string();
    assert!(err.contains(&format!("needs pg_dump {major} or newer")), "{err}");
    assert!(
        err.contains("9.6.24") && err.contains(&format!("postgresql-client-{major}")),
        "{err}"
    );
}

#[test]
fn the_server_stopping_mid_dump_leaves_no_snapshot() {
    let cluster = PgCluster::start();
    sample_database(&cluster, "shop");
    let repo = TestRepo::new();
    // Another session holds a lock, so the dump is surely under way (waiting
    // on it) when the server stops.
    let mut holder = cluster
        .psql_command(
            "shop",
            "BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
        )
        .spawn()
        .unwrap();
    let waiting = || {
        cluster.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('lifeboat', 'pg_dump') AND wait_event_type = 'Lock'",
        )
    };
    while cluster.psql(
        "postgres",
        "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation IS NOT NULL",
    ) == "0"
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let backup = repo
        .cmd(&["backup", "--db", &cluster.url("shop")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while waiting() == "0" {
        assert!(started.elapsed().as_secs() < 30, "the backup never reached the locked table");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cluster.kill();
    let out = backup.wait_with_output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no snapshot was made"), "{err}");
    let snapshots: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    assert_eq!(snapshots, serde_json::json!([]));
}

fn counts(cluster: &PgCluster, db: &str) -> String {
    cluster.psql(
        db,
        "SELECT (SELECT count(*) FROM sales.customers) || '/' || (SELECT count(*) FROM public.events) || '/' ||
                (SELECT last_value FROM sales.customers_id_seq) || '/' ||
                (SELECT tableowner FROM pg_tables WHERE schemaname = 'sales' AND tablename = 'customers') || '/' ||
                (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension) || '/' ||
                (SELECT count(*) FROM pg_largeobject_metadata) || '/' || sales.customer_count()",
    )
}

#[test]
fn restore_onto_a_fresh_server_brings_everything_back_and_refuses_what_it_should() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let verified = String::from_utf8(repo.ok(&["verify", "latest:shop"], None)).unwrap();
    assert!(verified.contains("is intact"), "{verified}");

    // A fresh server: the role and the database do not exist there.
    let fresh = PgCluster::start();
    let out = repo.ok(&["restore", "latest:shop", "--to", &fresh.url("shop"), "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["roles_created"], serde_json::json!(["app_owner"]));
    assert_eq!(counts(&fresh, "shop"), counts(&source, "shop"));
    assert!(counts(&fresh, "shop").starts_with("2500/700/2500/app_owner/citext,plpgsql/1/2500"));
    assert_eq!(
        fresh.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%lifeboat%'"),
        "0"
    );

    // Now it has data: refused without --force, target untouched.
    fresh.psql("shop", "INSERT INTO public.events (payload) VALUES ('{\"after\": true}')");
    let err = repo.fails(&["restore", "latest:shop", "--to", &fresh.url("shop")], None);
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM public.events"), "701");

    // With --force it is replaced, and the old one is kept aside.
    let out = repo.ok(
        &[
            "restore",
            "latest:shop",
            "--to",
            &fresh.url("shop"),
            "--force",
            "--jobs",
            "2",
            "--json",
        ],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let kept = report["previous_database_kept_as"].as_str().unwrap().to_string();
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM public.events"), "700");
    assert_eq!(fresh.psql(&kept, "SELECT count(*) FROM public.events"), "701");
}

/// A server on this machine reached through its Unix socket, as admins run
/// `pg_dump` on the database host: backup, restore and drill.
#[test]
fn a_local_server_is_backed_up_restored_and_drilled_through_its_unix_socket() {
    let server = PgCluster::start();
    sample_database(&server, "shop");
    let repo = TestRepo::new();
    let socket = server.socket_url("shop");
    let backup: serde_json::Value = serde_json::from_slice(&repo.ok(&["backup", "--db", &socket, "--json"], None)).unwrap();
    assert_eq!(backup["rows"], 2500 + 700, "{backup}");
    repo.ok(&["restore", "latest:shop", "--to", &server.socket_url("shop_copy")], None);
    assert_eq!(counts(&server, "shop_copy"), counts(&server, "shop"));
    let drill: serde_json::Value = serde_json::from_slice(&repo.ok(
        &["drill", "latest:shop", "--server", &server.socket_url("postgres"), "--json"],
        None,
    ))
    .unwrap();
    assert_eq!(drill["passed"], true, "{drill:#}");
    let err = repo.fails(&["backup", "--db", "postgres:///shop?host=/no/such/folder"], None);
    assert!(err.contains("no socket directory /no/such/folder"), "{err}");
}

/// A server named in the team's `pg_service.conf`, as `psql service=shop`
/// reaches it: the URL names the service, the file says the rest, and
/// what the URL says wins.
#[test]
fn a_service_from_pg_service_conf_is_backed_up_and_restored() {
    let server = PgCluster::start();
    sample_database(&server, "shop");
    let repo = TestRepo::new();
    let folder = tempfile::tempdir().unwrap();
    let services = folder.path().join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "# the team's servers\n[shop]\nhost=127.0.0.1\nport={}\ndbname=shop\nuser=postgres\n",
            server.port
        ),
    )
    .unwrap();
    let with_services = |args: &[&str]| {
        let mut cmd = repo.cmd(args);
        cmd.env("PGSERVICEFILE", &services);
        run(cmd, None)
    };
    let backup = with_services(&["backup", "--db", "postgres:///?service=shop", "--json"]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let backup: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    assert_eq!(backup["rows"], 2500 + 700, "{backup}");
    // The URL's database wins over the service's.
    let restored = with_services(&["restore", "latest:shop", "--to", "postgres:///shop_copy?service=shop"]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    assert_eq!(counts(&server, "shop_copy"), counts(&server, "shop"));
    let missing = with_services(&["backup", "--db", "postgres:///?service=billing"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && err.contains("no service `billing`"), "{err}");
}

#[test]
fn a_corrupted_pack_is_refused_and_the_target_is_untouched() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    for pack in files_under(&repo.path.join("data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 3;
        bytes[middle] ^= 0x55;
        std::fs::write(&pack, bytes).unwrap();
    }
    let target = PgCluster::start();
    target.psql("postgres", "CREATE DATABASE shop");
    let err = repo.fails(&["restore", "latest:shop", "--to", &target.url("shop")], None);
    assert!(err.contains("left as it was") || err.contains("damaged"), "{err}");
    assert_eq!(
        target.psql("shop", "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        "0"
    );
    assert_eq!(
        target.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%lifeboat%'"),
        "0"
    );
    let err = repo.fails(&["verify", "latest:shop"], None);
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn auto_restore_fills_only_an_empty_database_and_only_when_armed() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let target = PgCluster::start();
    let url = target.url("shop");

    let err = repo.fails(&["auto-restore", "--to", &url], None);
    assert!(err.contains("LIFEBOAT_RESTORE_DATABASE_IF_EMPTY=true"), "{err}");

    let armed = |args: &[&str]| {
        let out = repo.cmd(args).env("LIFEBOAT_RESTORE_DATABASE_IF_EMPTY", "true").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    armed(&["auto-restore", "--to", &url]);
    assert_eq!(target.psql("shop", "SELECT count(*) FROM sales.customers"), "2500");

    target.psql("shop", "DELETE FROM sales.customers WHERE id > 10");
    let out = armed(&["auto-restore", "--to", &url]);
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(target.psql("shop", "SELECT count(*) FROM sales.customers"), "10");
}

/// Backs up `bigshop`, big enough that its restore takes seconds.
fn backed_up_big_database(repo: &TestRepo) {
    let source = PgCluster::start();
    sample_database(&source, "bigshop");
    source.psql(
        "bigshop",
        "INSERT INTO public.events (payload) SELECT jsonb_build_object('n', g, 'text', repeat(md5(g::text), 8)) FROM generate_series(1, 300000) g",
    );
    repo.ok(&["backup", "--db", &source.url("bigshop")], None);
}

/// Waits until a pg_restore on `target` is loading rows.
fn wait_until_copying(target: &PgCluster) {
    let started = std::time::Instant::now();
    loop {
        let copying = target.psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %'");
        if copying != "0" {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "pg_restore never started copying");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn pg_restore_killed_mid_way_leaves_the_target_untouched() {
    let repo = TestRepo::new();
    backed_up_big_database(&repo);
    let target = PgCluster::start();
    target.psql("postgres", "CREATE DATABASE bigshop");

    let restore = repo
        .cmd(&["restore", "latest:bigshop", "--to", &target.url("bigshop")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until pg_restore is loading rows into the scratch database, then kill it.
    wait_until_copying(&target);
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", "dbname='bigshop_lifeboat_restore"])
        .status()
        .unwrap();
    assert!(killed.success(), "no pg_restore to kill");
    let out = restore.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("left as it was"), "{err}");
    assert_eq!(
        target.psql(
            "bigshop",
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ),
        "0"
    );
    assert_eq!(
        target.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%lifeboat%'"),
        "0"
    );
}

fn leftover_databases(target: &PgCluster) -> String {
    target.psql(
        "postgres",
        "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '%lifeboat%'",
    )
}

#[test]
fn a_target_is_judged_at_the_swap_and_never_dropped_with_data_in_it() {
    let repo = TestRepo::new();
    backed_up_big_database(&repo);
    let target = PgCluster::start();
    target.psql("postgres", "CREATE DATABASE appdb");
    let url = target.url("appdb");

    // An application's migration lands in the empty target while the restore loads.
    let restore = repo
        .cmd(&["restore", "latest:bigshop", "--to", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_copying(&target);
    target.psql(
        "appdb",
        "CREATE TABLE app_users (id int); INSERT INTO app_users SELECT generate_series(1, 5)",
    );
    let out = restore.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("received data while the restore ran") && err.contains("its data is untouched"),
        "{err}"
    );
    assert_eq!(target.psql("appdb", "SELECT count(*) FROM app_users"), "5");
    assert_eq!(leftover_databases(&target), "");
    assert_eq!(
        target.psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'appdb'"),
        "t"
    );

    // Anyone connected blocks even a confirmed replacement, and nothing changes.
    let mut session = target
        .psql_command("appdb", "SELECT pg_sleep(120)")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sleeping =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()";
    while target.psql("postgres", sleeping) != "1" {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = repo.fails(&["restore", "latest:bigshop", "--to", &url, "--force"], None);
    assert!(
        err.contains("in use by 1 session(s)") && err.contains("nothing was changed"),
        "{err}"
    );
    session.kill().unwrap();
    session.wait().unwrap();
    target.psql("postgres", &sleeping.replace("count(*)", "pg_terminate_backend(pid)"));
    assert_eq!(target.psql("appdb", "SELECT count(*) FROM app_users"), "5");
    assert_eq!(leftover_databases(&target), "");

    // Confirmed and unused: the restored database takes the name, the old one is kept.
    repo.ok(&["restore", "latest:bigshop", "--to", &url, "--force"], None);
    assert_eq!(target.psql("appdb", "SELECT count(*) FROM sales.customers"), "2500");
    let kept = leftover_databases(&target);
    assert!(kept.starts_with("appdb_before_lifeboat_"), "{kept}");
    assert_eq!(target.psql(&kept, "SELECT count(*) FROM app_users"), "5");

    // What is not a table still counts as data: large objects, database settings.
    target.psql("postgres", "CREATE DATABASE files");
    target.psql("postgres", "CREATE DATABASE tuned");
    target.psql("files", "SELECT lo_from_bytea(0, 'keep me')");
    target.psql("postgres", "ALTER DATABASE tuned SET work_mem = '64MB'");
    let err = repo.fails(&["restore", "latest:bigshop", "--to", &target.url("files")], None);
    assert!(err.contains("is not empty") && err.contains("1 large objects"), "{err}");
    let err = repo.fails(&["restore", "latest:bigshop", "--to", &target.url("tuned")], None);
    assert!(err.contains("is not empty") && err.contains("database settings"), "{err}");
}

#[test]
fn one_job_per_database_across_processes_and_none_outlives_a_crash() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    let url = source.url("shop");
    // A session holding a lock keeps the first backup's dump waiting.
    let mut holder = source
        .psql_command(
            "shop",
            "BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let count = |sql: &str| source.psql("postgres", sql);
    while count("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation IS NOT NULL") == "0" {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut first = repo
        .cmd(&["backup", "--db", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "0" {
        assert!(started.elapsed().as_secs() < 60, "the first backup never started dumping");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A cron `lifeboat backup` meets the running one, as a timer's `schedule run` or the app would.
    let err = repo.fails(&["backup", "--db", &url], None);
    assert!(err.contains("already running on this workstation"), "{err}");
    // Killed, it holds nothing: the next backup goes ahead.
    first.kill().unwrap();
    first.wait().unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()");
    repo.ok(&["backup", "--db", &url], None);
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn a_newest_snapshot_that_vanishes_is_reported_by_the_workstation_that_saw_it() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    source.psql("shop", "INSERT INTO sales.customers (email) VALUES ('late@example.com')");
    let newest = String::from_utf8(repo.ok(&["backup", "--db", &source.url("shop")], None)).unwrap();
    let target = PgCluster::start();
    // The newest manifest is deleted (or the folder put back to yesterday's copy).
    std::fs::remove_file(repo.path.join("snapshots").join(newest.trim())).unwrap();
    let out = repo.run(&["restore", "latest:shop", "--to", &target.url("shop"), "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING: this workstation saw snapshot") && err.contains(&newest.trim()[..8]),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["warnings"].to_string().contains("put back to an older"), "{report}");
    assert_eq!(target.psql("shop", "SELECT count(*) FROM sales.customers"), "2500");
}

#[test]
fn a_restore_carries_the_databases_owner_and_settings_or_gives_everything_to_one_role() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    for sql in [
        "ALTER DATABASE shop OWNER TO app_owner",
        "ALTER DATABASE shop SET search_path TO sales, public",
        "ALTER DATABASE shop SET work_mem = '64MB'",
        "ALTER DATABASE shop SET application_name = 'x''; DROP TABLE sales.customers; --'",
        "ALTER ROLE app_owner IN DATABASE shop SET statement_timeout = '5s'",
    ] {
        source.psql("postgres", sql);
    }
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let target = PgCluster::start();
    repo.ok(&["restore", "latest:shop", "--to", &target.url("shop")], None);

    let owner_of = |db: &str| {
        target.psql(
            "postgres",
            &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'"),
        )
    };
    assert_eq!(owner_of("shop"), "app_owner");
    let settings = target.psql(
        "postgres",
        "SELECT string_agg(coalesce(pg_get_userbyid(nullif(setrole, 0))::text, '*') || ':' || array_to_string(setconfig, '|'), ';')
           FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'shop')",
    );
    for expected in [
        "search_path=sales, public",
        "work_mem=64MB",
        "application_name=x'; DROP TABLE sales.customers; --",
        "app_owner:statement_timeout=5s",
    ] {
        assert!(settings.contains(expected), "{expected} in {settings}");
    }
    assert_eq!(target.psql("shop", "SELECT count(*) FROM sales.customers"), "2500");

    // Everything to one role, as the runbooks' --no-owner --role.
    target.psql("postgres", "CREATE ROLE reporting");
    repo.ok(
        &["restore", "latest:shop", "--to", &target.url("reports"), "--role", "reporting"],
        None,
    );
    assert_eq!(owner_of("reports"), "reporting");
    assert_eq!(
        target.psql(
            "reports",
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'sales' AND tablename = 'customers'"
        ),
        "reporting"
    );
    let err = repo.fails(
        &["restore", "latest:shop", "--to", &target.url("other"), "--role", "nobody_here"],
        None,
    );
    assert!(err.contains("nobody_here") && err.contains("does not exist on the target"), "{err}");
}

#[test]
fn no_owner_restores_onto_a_server_without_the_sources_roles() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    source.psql("postgres", "CREATE ROLE auditor");
    source.psql("shop", "GRANT SELECT ON sales.customers TO auditor");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);

    let staging = PgCluster::start();
    let out = repo.ok(
        &["restore", "latest:shop", "--to", &staging.url("shop"), "--no-owner", "--json"],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["roles_created"], serde_json::json!([]));
    assert_eq!(
        staging.psql(
            "postgres",
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('app_owner', 'auditor')"
        ),
        "0"
    );
    let restoring_user = staging.psql("postgres", "SELECT current_user");
    assert_eq!(
        staging.psql(
            "shop",
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'sales' AND tablename = 'customers'"
        ),
        restoring_user
    );
    assert_eq!(
        staging.psql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"),
        restoring_user
    );
    assert_eq!(staging.psql("shop", "SELECT count(*) FROM sales.customers"), "2500");
    assert_eq!(staging.psql("shop", "SELECT sales.customer_count()"), "2500");
}

#[test]
fn one_table_comes_back_beside_its_damaged_copy_or_alone_into_a_new_database() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let good_notes = "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id))";
    let before = source.psql("shop", &format!("{good_notes} FROM sales.customers"));

    // The bad UPDATE, and a row written since the backup that must stay.
    source.psql("shop", "UPDATE sales.customers SET note = 'oops'");
    source.psql("shop", "INSERT INTO public.events (payload) VALUES ('{\"after\": true}')");
    let out = repo.ok(
        &[
            "restore",
            "latest:shop",
            "--to",
            &source.url("shop"),
            "--table",
            "sales.customers",
            "--json",
        ],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let placed = &report["placed_beside"][0];
    assert_eq!(placed["table"], "sales.customers");
    assert_eq!(placed["rows"], 2500);
    let restored_as = placed["restored_as"].as_str().unwrap();
    assert!(restored_as.starts_with("sales.customers_restored_"), "{restored_as}");
    let restored_table = restored_as.strip_prefix("sales.").unwrap();
    assert_eq!(
        source.psql("shop", &format!("{good_notes} FROM sales.\"{restored_table}\"")),
        before,
        "the restored rows are the backup's"
    );
    assert_eq!(
        source.psql(
            "shop",
            &format!("SELECT pg_typeof(email)::text FROM sales.\"{restored_table}\" LIMIT 1")
        ),
        "citext"
    );
    assert_eq!(
        source.psql("shop", "SELECT DISTINCT note FROM sales.customers"),
        "oops",
        "the original is untouched"
    );
    assert_eq!(source.psql("shop", "SELECT count(*) FROM public.events"), "701");
    assert_eq!(leftover_databases(&source), "");
    // The repair the admin then runs.
    source.psql(
        "shop",
        &format!("UPDATE sales.customers c SET note = r.note FROM sales.\"{restored_table}\" r WHERE r.id = c.id"),
    );
    assert_eq!(source.psql("shop", &format!("{good_notes} FROM sales.customers")), before);

    // Into a new database: that table alone, with its sequence, key and extension.
    let fresh = PgCluster::start();
    repo.ok(
        &[
            "restore",
            "latest:shop",
            "--to",
            &fresh.url("customers_only"),
            "--table",
            "sales.customers",
        ],
        None,
    );
    assert_eq!(
        fresh.psql(
            "customers_only",
            "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ),
        "sales.customers"
    );
    assert_eq!(fresh.psql("customers_only", &format!("{good_notes} FROM sales.customers")), before);
    assert_eq!(
        fresh.psql("customers_only", "SELECT last_value FROM sales.customers_id_seq"),
        "2500"
    );
    assert_eq!(
        fresh.psql("customers_only", "SELECT count(*) FROM pg_indexes WHERE tablename = 'customers'"),
        "2",
        "primary key and unique index"
    );

    // A schema: its tables, view and function, and nothing of public.
    repo.ok(
        &["restore", "latest:shop", "--to", &fresh.url("sales_only"), "--schema", "sales"],
        None,
    );
    assert_eq!(fresh.psql("sales_only", "SELECT count(*) FROM sales.recent"), "500");
    assert_eq!(fresh.psql("sales_only", "SELECT sales.customer_count()"), "2500");
    assert_eq!(
        fresh.psql("sales_only", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );

    // Names that are not in the snapshot, or not qualified, are refused up front.
    let err = repo.fails(&["restore", "latest:shop", "--to", &fresh.url("x"), "--table", "customers"], None);
    assert!(err.contains("SCHEMA.TABLE"), "{err}");
    let err = repo.fails(
        &["restore", "latest:shop", "--to", &fresh.url("x"), "--table", "public.customers"],
        None,
    );
    assert!(
        err.contains("no table public.customers") && err.contains("sales.customers"),
        "{err}"
    );
    assert_eq!(leftover_databases(&fresh), "");
}

fn keychain_available() -> bool {
    let present = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !present && std::env::var_os("LIFEBOAT_TEST_REQUIRE_KEYCHAIN").is_some() {
        panic!("LIFEBOAT_TEST_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus with a Secret Service");
    }
    present
}

/// `lifeboat ARGS` for `repo`, with PGPASSWORD set or removed.
fn with_pgpassword(mut cmd: Command, password: Option<&str>) -> std::process::Output {
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    common::run(cmd, None)
}

#[test]
fn saved_connections_are_tested_used_by_backup_and_removed() {
    let cluster = PgCluster::start_with_password("pw-for-shop");
    sample_database(&cluster, "shop");
    let repo = TestRepo::new();
    let url = cluster.url("shop");

    let added = with_pgpassword(repo.cmd(&["connection", "add", "shop", "--db", &url]), Some("pw-for-shop"));
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let tested = String::from_utf8_lossy(&added.stdout).into_owned();
    assert!(tested.contains(&format!("PostgreSQL {}", cluster.major)), "{tested}");
    assert!(
        tested.contains("has data") && tested.contains("citext") && tested.contains("backups will use pg_dump"),
        "{tested}"
    );
    let again = with_pgpassword(repo.cmd(&["connection", "add", "shop", "--db", &url]), Some("pw-for-shop"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    // With the keychain off, a password cannot be saved: the error says what to use instead.
    let refused = with_pgpassword(
        repo.cmd(&["connection", "add", "other", "--db", &url, "--save-password"]),
        Some("pw-for-shop"),
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PGPASSWORD or ~/.pgpass"));

    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["connection", "list", "--json"], None)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        (listed[0]["name"].as_str(), listed[0]["port"].as_u64()),
        (Some("shop"), Some(u64::from(cluster.port)))
    );

    // Without any password the test fails and says so.
    let denied = with_pgpassword(repo.cmd(&["connection", "test", "--connection", "shop"]), None);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("password"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    let backup = with_pgpassword(repo.cmd(&["backup", "--connection", "shop", "--json"]), Some("pw-for-shop"));
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let report: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", "latest:shop"], None)).unwrap();
    assert_eq!(shown["id"], report["snapshot_id"]);
    assert_eq!(shown["manifest"]["tag"], "shop");
    assert_eq!(shown["manifest"]["metadata"]["connection"], "shop");
    assert_eq!(shown["manifest"]["metadata"]["row_counts"]["sales.customers"], 2500);

    repo.ok(&["connection", "remove", "shop"], None);
    let gone = repo.fails(&["backup", "--connection", "shop"], None);
    assert!(gone.contains("no connection is named `shop`"), "{gone}");
    assert_eq!(repo.cat("latest:shop")[..5], *b"PGDMP", "removing a connection keeps its snapshots");

    if !keychain_available() {
        eprintln!("keychain part skipped: no D-Bus session bus (scripts/test provides one)");
        return;
    }
    // The keychain holds the password: later runs need no PGPASSWORD.
    let saved = with_pgpassword(
        repo.cmd_with_keychain(&["connection", "add", "shop", "--db", &url, "--save-password"]),
        Some("pw-for-shop"),
    );
    assert!(saved.status.success(), "{}", String::from_utf8_lossy(&saved.stderr));
    assert!(String::from_utf8_lossy(&saved.stderr).contains("password in the OS keychain"));
    let backup = with_pgpassword(repo.cmd_with_keychain(&["backup", "--connection", "shop"]), None);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let removed = with_pgpassword(repo.cmd_with_keychain(&["connection", "remove", "shop"]), None);
    assert!(removed.status.success());
    let keyring = Command::new("secret-tool")
        .args(["lookup", "service", "lifeboat", "username", "connection shop"])
        .output();
    if let Ok(out) = keyring {
        assert!(out.stdout.is_empty(), "the password left the keychain with the connection");
    }
}

#[test]
fn an_archive_version_lifeboat_cannot_read_is_counted_on_the_server() {
    let cluster = PgCluster::start();
    sample_database(&cluster, "shop");
    let repo = TestRepo::new();
    // Stand-in for a future pg_dump (the boundary: which client is installed):
    // the real one, with its archive's minor version byte changed to 99.
    let dir = tempfile::tempdir().unwrap();
    let real = cluster.bin_dir();
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real}/pg_dump --version; fi\n\
         {real}/pg_dump \"$@\" | perl -e 'binmode STDIN; binmode STDOUT; read(STDIN, $h, 8); substr($h, 6, 1) = chr(99); print $h; print while read(STDIN, $_, 65536)'\n",
        real = real.display()
    );
    std::fs::write(dir.path().join("pg_dump"), script).unwrap();
    std::os::unix::fs::symlink(real.join("pg_dumpall"), dir.path().join("pg_dumpall")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("pg_dump"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let pg_bin = dir.path().display().to_string();
    repo.ok(&["backup", "--db", &cluster.url("shop"), "--pg-bin", &pg_bin], None);
    let shown: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", "latest:shop"], None)).unwrap();
    let stream = repo.cat("latest:shop");
    assert_eq!(stream[6], 99, "the stand-in pg_dump wrote the unknown version");
    assert_eq!(
        shown["manifest"]["metadata"]["row_counts"],
        serde_json::json!({ "public.events": 700, "sales.customers": 2500 })
    );
}

/// A database whose name libpq would read as a connection string if it were
/// passed bare: it must be backed up, its roles saved, and restored as a name.
#[test]
fn database_names_are_never_read_as_connection_strings() {
    let source = PgCluster::start();
    let name = "app=x dbname=postgres";
    source.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    // psql's own -d reads it as a connection string too: quote it there.
    let conninfo = "dbname='app=x dbname=postgres'";
    source.psql(conninfo, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 42);");
    let encoded = "app%3Dx%20dbname%3Dpostgres";
    let repo = TestRepo::new();
    let out = repo.run(&["backup", "--db", &source.url(encoded), "--name", "app", "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["warnings"], serde_json::json!([]), "the roles were saved too: {report}");

    let target = PgCluster::start();
    repo.ok(&["restore", "latest:app", "--to", &target.url(encoded)], None);
    assert_eq!(target.psql(conninfo, "SELECT count(*) FROM t"), "42");
    assert_eq!(
        target.psql("postgres", "SELECT count(*) FROM pg_class WHERE relname = 't'"),
        "0",
        "nothing went into the postgres database"
    );
}

/// `pg_dumpall` keeps newlines inside quoted names and comments, so its text
/// cut by lines could hold planted statements. Roles travel as data: the
/// hostile names come back exactly, and nothing else runs.
#[test]
fn role_names_and_comments_cannot_plant_sql_on_a_restore_or_drill_target() {
    let source = PgCluster::start();
    let hostile = "x\nALTER ROLE victim SUPERUSER;\n";
    source.psql("postgres", "CREATE DATABASE shop");
    source.psql(
        "postgres",
        &format!(
            "CREATE ROLE victim LOGIN CONNECTION LIMIT 7;
             CREATE ROLE \"{hostile}\";
             COMMENT ON ROLE victim IS E'hi\\nALTER ROLE victim SUPERUSER;';
             CREATE ROLE readers; GRANT readers TO victim;"
        ),
    );
    source.psql(
        "shop",
        &format!(
            "CREATE TABLE t (id int); ALTER TABLE t OWNER TO victim;
             CREATE TABLE u (id int); ALTER TABLE u OWNER TO \"{hostile}\";
             INSERT INTO t VALUES (1), (2);"
        ),
    );
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);

    let fresh = PgCluster::start();
    fresh.psql("postgres", "CREATE ROLE readers");
    let out = repo.ok(&["restore", "latest:shop", "--to", &fresh.url("shop"), "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let created: Vec<&str> = report["roles_created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(created.contains(&"victim") && created.contains(&hostile), "{report}");
    assert_eq!(
        fresh.psql(
            "postgres",
            "SELECT rolsuper::text || '/' || rolcanlogin::text || '/' || rolconnlimit FROM pg_roles WHERE rolname = 'victim'"
        ),
        "false/true/7",
        "carried attributes, no planted SUPERUSER"
    );
    assert_eq!(
        fresh.psql(
            "postgres",
            "SELECT count(*) FROM pg_roles WHERE rolname = E'x\\nALTER ROLE victim SUPERUSER;\\n'"
        ),
        "1"
    );
    assert_eq!(
        fresh.psql("postgres", "SELECT pg_has_role('victim', 'readers', 'MEMBER')::text"),
        "true",
        "memberships in roles the target has"
    );
    assert_eq!(fresh.psql("shop", "SELECT count(*) FROM t"), "2");

    // A drill creates what it needs and leaves no role behind.
    let drills = PgCluster::start();
    let out = repo.run(&["drill", "latest:shop", "--server", &drills.url("postgres"), "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        drills.psql(
            "postgres",
            "SELECT count(*) FROM pg_roles WHERE rolname = 'victim' OR rolname LIKE 'x%'"
        ),
        "0"
    );
}

/// By default a dump of 64 MiB or more restores with parallel jobs from a
/// verified copy; where that copy cannot fit, it streams into one job and
/// says so, instead of failing.
#[test]
fn large_dumps_restore_in_parallel_by_default_and_stream_when_the_copy_cannot_fit() {
    let source = PgCluster::start();
    source.psql("postgres", "CREATE DATABASE big");
    source.psql(
        "big",
        "CREATE TABLE readings (id bigserial PRIMARY KEY, sensor int NOT NULL, note text NOT NULL);
         INSERT INTO readings (sensor, note)
           SELECT g % 977, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 700000) g;
         CREATE INDEX ON readings (sensor);
         CREATE TABLE sensors (id int PRIMARY KEY, name text);
         INSERT INTO sensors SELECT g, 'sensor ' || g FROM generate_series(0, 976) g;",
    );
    let repo = TestRepo::new();
    let backup: serde_json::Value = serde_json::from_slice(&repo.ok(&["backup", "--db", &source.url("big"), "--json"], None)).unwrap();
    assert!(backup["size"].as_u64().unwrap() >= 64 << 20, "{backup}");
    let totals = "SELECT count(*) || '/' || sum(sensor) || '/' || (SELECT count(*) FROM sensors) FROM readings";

    let target = PgCluster::start();
    let report: serde_json::Value =
        serde_json::from_slice(&repo.ok(&["restore", "latest:big", "--to", &target.url("big"), "--json"], None)).unwrap();
    assert!(report["jobs"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(target.psql("big", totals), source.psql("big", totals));
    assert_eq!(
        std::fs::read_dir(repo.data_dir.join("restore-spool")).unwrap().count(),
        0,
        "the copy is removed"
    );

    if !is_root() {
        eprintln!("skipped the full-disk half: mounting a private tmpfs needs root (CI runs as root)");
        return;
    }
    let small = PrivateTmpfs::new("8m");
    let mut cmd = small.command(&bin());
    cmd.args(["restore", "latest:big", "--to", &target.url("big2"), "--json", "--no-keychain"])
        .env("LIFEBOAT_REPO", &repo.path)
        .env("LIFEBOAT_PASSWORD", PASSWORD)
        .env("LIFEBOAT_DATA_DIR", small.dir.join("data"))
        .env("LIFEBOAT_NOTIFY", "log");
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["jobs"], 1, "{report}");
    assert!(report["warnings"].to_string().contains("does not fit"), "{report}");
    assert_eq!(target.psql("big2", totals), source.psql("big", totals));
}

/// A parallel restore keeps its copy of the dump in a private folder under
/// the data folder (never the system temp), removes what a killed restore
/// left there, and refuses up front when that disk cannot hold the copy.
#[test]
fn parallel_restores_spool_privately_and_check_the_room_first() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let target = PgCluster::start();
    let spool = repo.data_dir.join("restore-spool");
    std::fs::create_dir_all(&spool).unwrap();
    // A killed restore's file: no process has this id.
    let leftover = spool.join("lifeboat-restore-4194303-a1b2c3");
    std::fs::write(&leftover, b"decrypted dump bytes").unwrap();
    repo.ok(&["restore", "latest:shop", "--to", &target.url("shop"), "--jobs", "2"], None);
    assert_eq!(counts(&target, "shop"), counts(&source, "shop"));
    assert!(!leftover.exists(), "the dead restore's file is gone");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "and so is this restore's");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777, 0o700);
    }

    if !is_root() {
        eprintln!("skipped the full-disk half: mounting a private tmpfs needs root (CI runs as root)");
        return;
    }
    let small = PrivateTmpfs::new("1m");
    let mut cmd = small.command(&bin());
    cmd.args([
        "restore",
        "latest:shop",
        "--to",
        &target.url("shop2"),
        "--jobs",
        "2",
        "--no-keychain",
    ])
    .env("LIFEBOAT_REPO", &repo.path)
    .env("LIFEBOAT_PASSWORD", PASSWORD)
    .env("LIFEBOAT_DATA_DIR", small.dir.join("data"))
    .env("LIFEBOAT_NOTIFY", "log");
    let out = run(cmd, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("free") && err.contains("--jobs 1"), "{err}");
    assert_eq!(
        target.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'shop2%'"),
        "0",
        "refused before anything changed"
    );
}

#[test]
fn an_imported_pg_dump_file_restores_like_a_backup() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let folder = tempfile::tempdir().unwrap();
    let pg_dump = |format: &str, file: &std::path::Path| {
        let out = Command::new(source.bin_dir().join("pg_dump"))
            .args([format, "-f", file.to_str().unwrap(), &source.url("shop")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // pg_dump -Fc compresses with gzip by default: the rows are counted through it.
    let file = folder.path().join("shop-from-cron.dump");
    pg_dump("-Fc", &file);
    let repo = TestRepo::new();
    let out = repo.ok(
        &[
            "import",
            file.to_str().unwrap(),
            "--name",
            "shop",
            "--label",
            "the old cron job's",
            "--json",
        ],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["database"], "shop");
    assert_eq!(report["sha256"], sha256_hex(&std::fs::read(&file).unwrap()), "stored byte for byte");
    assert_eq!((report["tables"].as_u64(), report["rows"].as_u64()), (Some(2), Some(3200)));
    assert_eq!(report["latest"], true);
    let imported = manifest(&repo, report["snapshot_id"].as_str().unwrap());
    assert_eq!(imported["label"], "the old cron job's");

    let fresh = PgCluster::start();
    let out = repo.ok(&["restore", "latest:shop", "--to", &fresh.url("shop"), "--json"], None);
    let restored: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(counts(&fresh, "shop"), counts(&source, "shop"));
    let checked: Vec<_> = restored["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["restored"].clone())
        .collect();
    assert_eq!(checked, vec![serde_json::json!(700), serde_json::json!(2500)], "row counts checked");

    // A newer backup stays the latest when an older dump joins the history.
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let backed_up = latest_id(&repo, "shop");
    let older = folder.path().join("older.dump");
    pg_dump("-Fc", &older);
    a_year_earlier(&older);
    let out = repo.ok(&["import", older.to_str().unwrap(), "--name", "shop", "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["latest"], false);
    assert_eq!(latest_id(&repo, "shop"), backed_up);

    // Damaged or foreign files are refused and nothing is stored.
    let bytes = std::fs::read(&file).unwrap();
    let cut = folder.path().join("cut.dump");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = repo.fails(&["import", cut.to_str().unwrap(), "--name", "shop"], None);
    assert!(
        err.contains("damaged or incomplete") && err.contains("nothing was imported"),
        "{err}"
    );
    let plain = folder.path().join("plain.sql");
    pg_dump("-Fp", &plain);
    let err = repo.fails(&["import", plain.to_str().unwrap(), "--name", "shop"], None);
    assert!(err.contains("not a pg_dump custom-format archive"), "{err}");
    assert_eq!(latest_id(&repo, "shop"), backed_up);
    let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
}

fn latest_id(repo: &TestRepo, name: &str) -> String {
    let out: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", &format!("latest:{name}")], None)).unwrap();
    out["id"].as_str().unwrap().to_string()
}

/// Moves the time in a custom-format archive's header back a year: after
/// the magic, version and sizes, the compression (a byte from archive 1.15,
/// an integer before), then seconds, minutes, hours, day, month, year.
fn a_year_earlier(archive: &std::path::Path) {
    let mut bytes = std::fs::read(archive).unwrap();
    assert_eq!(&bytes[..5], b"PGDMP");
    let int_size = bytes[8] as usize;
    let compression = if bytes[6] >= 15 { 1 } else { 1 + int_size };
    let year = 11 + compression + 5 * (1 + int_size);
    assert_eq!(bytes[year], 0, "a positive year");
    bytes[year + 1] -= 1;
    std::fs::write(archive, bytes).unwrap();
}

/// `pg_dump -s` of a database, for comparing schemas across servers.
fn schema_of(cluster: &PgCluster, db: &str) -> String {
    let out = Command::new(cluster.bin_dir().join("pg_dump"))
        .args(["-s", "--no-comments", &cluster.url(db)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Comments and the random key of newer pg_dumps' \restrict lines differ run to run.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_whole_server_is_backed_up_as_one_group_and_restored_onto_a_fresh_one() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    source.psql("postgres", "CREATE ROLE reporter LOGIN CREATEDB");
    source.psql("postgres", "CREATE DATABASE metrics OWNER reporter");
    source.psql(
        "metrics",
        "CREATE TABLE samples (at int, v float8); INSERT INTO samples SELECT g, g / 7.0 FROM generate_series(1, 900) g",
    );
    source.psql("postgres", "ALTER DATABASE metrics SET work_mem = '32MB'");
    source.psql("postgres", "CREATE DATABASE scratch_tmp");
    source.psql("scratch_tmp", "CREATE TABLE junk (x int)");

    let repo = TestRepo::new();
    let server_url = format!("postgres://postgres@127.0.0.1:{}", source.port);
    let out = repo.ok(
        &["connection", "add", "prod", "--server", &server_url, "--exclude", "scratch*"],
        None,
    );
    let listed = String::from_utf8_lossy(&out);
    assert!(listed.contains("databases backed up: metrics, shop"), "{listed}");
    // Created after the connection was saved: the next run picks it up.
    source.psql("postgres", "CREATE DATABASE staging");
    source.psql(
        "staging",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 42)",
    );

    let out = repo.ok(&["backup", "--connection", "prod", "--checkpoint", "before 17", "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let backed_up: Vec<&str> = report["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(backed_up, vec!["prod/metrics", "prod/shop", "prod/staging"]);
    assert_eq!(report["skipped"], serde_json::json!(["postgres", "scratch_tmp"]));
    assert_eq!(report["failed"], serde_json::json!([]));
    let group = latest_id(&repo, "prod");
    assert_eq!(group, report["snapshot_id"].as_str().unwrap());
    let shown: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", "latest:prod/staging"], None)).unwrap();
    assert_eq!(shown["manifest"]["kind"], "checkpoint");
    assert_eq!(shown["manifest"]["label"], "before 17");

    // Onto a fresh server: roles first, then every database, verified.
    let fresh = PgCluster::start();
    let fresh_url = format!("postgres://postgres@127.0.0.1:{}", fresh.port);
    let out = repo.ok(&["restore", "latest:prod", "--to", &fresh_url, "--json"], None);
    let restored: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let roles: Vec<&str> = restored["roles_created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(roles.contains(&"reporter") && roles.contains(&"app_owner"), "{roles:?}");
    assert_eq!(restored["restored"].as_array().unwrap().len(), 3);
    for db in ["shop", "metrics", "staging"] {
        assert_eq!(schema_of(&fresh, db), schema_of(&source, db), "schema of {db}");
    }
    assert_eq!(counts(&fresh, "shop"), counts(&source, "shop"));
    assert_eq!(
        fresh.psql("metrics", "SELECT count(*) || '/' || sum(v)::numeric(12,3) FROM samples"),
        source.psql("metrics", "SELECT count(*) || '/' || sum(v)::numeric(12,3) FROM samples")
    );
    assert_eq!(fresh.psql("staging", "SELECT count(*) FROM t"), "42");
    assert_eq!(
        fresh.psql("postgres", "SELECT pg_get_userbyid(datdba) || ' ' || array_to_string(setconfig, ',') FROM pg_database d JOIN pg_db_role_setting s ON s.setdatabase = d.oid WHERE datname = 'metrics'"),
        "reporter work_mem=32MB"
    );
    assert_eq!(
        fresh.psql(
            "postgres",
            "SELECT rolcanlogin::text || rolcreatedb::text FROM pg_roles WHERE rolname = 'reporter'"
        ),
        "truetrue"
    );
    assert_eq!(
        fresh.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'scratch_tmp'"),
        "0"
    );

    // A dropped database keeps its snapshots and is named at the next run;
    // one database of the group can be restored alone.
    source.psql("postgres", "DROP DATABASE staging");
    let out = repo.run(&["backup", "--connection", "prod"], None);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("database staging is gone from the server") && said.contains("latest:prod/staging"),
        "{said}"
    );
    let another = PgCluster::start();
    let another_url = format!("postgres://postgres@127.0.0.1:{}", another.port);
    repo.ok(&["restore", group.as_str(), "--to", &another_url, "--database", "staging"], None);
    assert_eq!(another.psql("staging", "SELECT count(*) FROM t"), "42");
    assert_eq!(
        another.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname IN ('shop', 'metrics')"),
        "0"
    );
    let err = repo.fails(&["restore", group.as_str(), "--to", &another_url, "--database", "nope"], None);
    assert!(
        err.contains("has no database nope") && err.contains("metrics, shop, staging"),
        "{err}"
    );

    // Retention for the server covers its databases: a third run, then
    // keep the last plain backup of each (checkpoints are exempt).
    repo.ok(&["backup", "--connection", "prod"], None);
    let count = || {
        let listed: serde_json::Value = serde_json::from_slice(&repo.ok(&["snapshots", "--json"], None)).unwrap();
        listed.as_array().unwrap().len()
    };
    assert_eq!(count(), 4 + 3 + 3);
    repo.ok(&["forget", "--tag", "prod", "--keep-last", "1"], None);
    assert_eq!(count(), 4 + 3, "the second run's group and database snapshots went");
    assert_eq!(latest_id(&repo, "prod/staging"), shown["id"].as_str().unwrap());
}

#[test]
fn the_restore_test_report_lists_the_drills_and_restores_with_their_snapshots() {
    let source = PgCluster::start();
    sample_database(&source, "shop");
    let repo = TestRepo::new();
    repo.ok(&["backup", "--db", &source.url("shop")], None);
    let snapshot: serde_json::Value = serde_json::from_slice(&repo.ok(&["show", "latest:shop"], None)).unwrap();
    let (id, sha256) = (snapshot["id"].as_str().unwrap(), snapshot["manifest"]["sha256"].as_str().unwrap());
    repo.ok(&["drill", "latest:shop", "--server", &source.url("postgres")], None);
    let target = PgCluster::start();
    repo.ok(&["restore", "latest:shop", "--to", &target.url("shop")], None);
    // A failed restore is listed as failed.
    let out = repo.run(
        &["restore", "latest:shop", "--to", &target.url("shop"), "--role", "nobody_here"],
        None,
    );
    assert!(!out.status.success());

    let folder = tempfile::tempdir().unwrap();
    let html = folder.path().join("restore-tests.html");
    repo.ok(&["report", "--since", "30d", "--output", html.to_str().unwrap()], None);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("3 drills and restores, 2 passed, 1 failed"), "{page}");
    assert!(page.contains("nobody_here") && page.contains("class=\"failed\">FAILED"), "{page}");
    assert_eq!(page.matches(sha256).count(), 2, "the drill's and the restore's snapshot");
    assert!(page.contains(id) && page.contains("<h2>Drill ") && page.contains("<h2>Restore "));
    assert!(page.contains("row counts of shop") && page.contains(">passed<"));
    let err = repo.fails(&["report", "--output", html.to_str().unwrap()], None);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");

    let pdf = folder.path().join("restore-tests.pdf");
    repo.ok(&["report", "--since", "1y", "--output", pdf.to_str().unwrap()], None);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-") && bytes.ends_with(b"%%EOF\n") || bytes.ends_with(b"%%EOF"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("(Drill ") && text.contains(&sha256[..40]), "the PDF's text");
    assert!(repo.fails(&["report", "--output", "report.txt"], None).contains(".html or .pdf"));
}
