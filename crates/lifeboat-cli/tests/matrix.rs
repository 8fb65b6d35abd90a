//! The version matrix: a backup of a server of every supported major
//! (PostgreSQL 12 to 18) restored onto a server of its own major and onto
//! the newest (the upgrade a "checkpoint before upgrade" leads to), and a
//! dump of the newest refused by an older server before anything is created.
//!
//! The servers come from `scripts/postgres-majors` (`LIFEBOAT_TEST_PG_MAJORS`,
//! set by `scripts/test`, which makes every major required). 12 and 13 ship
//! without client tools: Lifeboat dumps them with the oldest newer `pg_dump`
//! it finds, as it would on a workstation that has only newer clients.

mod common;

use std::ffi::OsString;
use std::process::Output;

use common::*;
use lifeboat_testkit::{matrix_bin_dir, PgCluster};

const OLDEST: u32 = 12;
const NEWEST: u32 = 18;

/// Whether the matrix's servers are here; when `LIFEBOAT_TEST_PG_MAJORS` is
/// set, every major must be.
fn matrix_installed() -> bool {
    let missing: Vec<u32> = (OLDEST..=NEWEST).filter(|m| matrix_bin_dir(*m).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("LIFEBOAT_TEST_PG_MAJORS").is_none(),
        "LIFEBOAT_TEST_PG_MAJORS is set but PostgreSQL {missing:?} are missing from it: run scripts/postgres-majors"
    );
    eprintln!("skipped: no version-matrix servers (run the suite through scripts/test)");
    false
}

/// PATH with every matrix major's client tools on it, so Lifeboat chooses
/// among all of them, as on a workstation with several installed.
fn path_with_every_client() -> OsString {
    let mut dirs: Vec<_> = (OLDEST..=NEWEST)
        .filter_map(matrix_bin_dir)
        .filter(|dir| dir.join("pg_dump").exists())
        .collect();
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).unwrap()
}

fn lifeboat(repo: &TestRepo, args: &[&str]) -> Output {
    let mut cmd = repo.cmd(args);
    cmd.env("PATH", path_with_every_client());
    run(cmd, None)
}

fn lifeboat_ok(repo: &TestRepo, args: &[&str]) -> serde_json::Value {
    let out = lifeboat(repo, args);
    assert!(
        out.status.success(),
        "lifeboat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What every major from 12 on can hold: identity and generated columns,
/// a partitioned table, an enum, a domain, a materialized view, a trigger,
/// a partial index, an extension, a large object, a comment, a role owning
/// a schema, text that is not ASCII, NULLs and bytea.
fn sample_database(cluster: &PgCluster) {
    cluster.psql("postgres", "CREATE ROLE app_owner");
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE EXTENSION citext;
         CREATE SCHEMA sales AUTHORIZATION app_owner;
         CREATE TYPE sales.status AS ENUM ('new', 'paid', 'shipped');
         CREATE DOMAIN sales.positive AS numeric(12, 2) CHECK (VALUE > 0);
         CREATE TABLE sales.customers (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             email citext UNIQUE NOT NULL, name text, photo bytea);
         ALTER TABLE sales.customers OWNER TO app_owner;
         CREATE TABLE sales.orders (
             id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES sales.customers,
             status sales.status NOT NULL, amount sales.positive, placed date NOT NULL,
             amount_cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED);
         CREATE INDEX orders_open ON sales.orders (placed) WHERE status <> 'shipped';
         COMMENT ON TABLE sales.orders IS 'orders; it''s quoted';
         CREATE TABLE public.events (at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
         CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE FUNCTION sales.name_trim() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN NEW.name := btrim(NEW.name); RETURN NEW; END $$;
         CREATE TRIGGER customers_name_trim BEFORE INSERT OR UPDATE ON sales.customers
             FOR EACH ROW EXECUTE FUNCTION sales.name_trim();
         INSERT INTO sales.customers (email, name, photo)
             SELECT 'User' || g || '@example.com', CASE WHEN g % 7 = 0 THEN NULL ELSE ' Zoë ' || g || ' 東京 ' END,
                    CASE WHEN g % 5 = 0 THEN decode(md5(g::text), 'hex') END
             FROM generate_series(1, 1500) g;
         INSERT INTO sales.orders (customer_id, status, amount, placed)
             SELECT 1 + g % 1500, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::sales.status,
                    (g % 997) + 0.25, date '2025-01-01' + g % 700
             FROM generate_series(1, 4000) g;
         INSERT INTO public.events SELECT date '2025-01-01' + g % 700, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 3))
             FROM generate_series(1, 3000) g;
         CREATE MATERIALIZED VIEW sales.totals AS SELECT customer_id, sum(amount) AS total FROM sales.orders GROUP BY customer_id;
         SELECT lo_from_bytea(0, 'large object bytes');",
    );
}

/// One line that changes when any object, owner, row or sequence position differs.
fn fingerprint(cluster: &PgCluster, database: &str) -> String {
    cluster.psql(
        database,
        "SELECT concat_ws(' | ',
           (SELECT string_agg(format('%s.%s:%s:%s', n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner)), ','
                              ORDER BY n.nspname, c.relname)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'sales')),
           (SELECT md5(string_agg(c::text, ',' ORDER BY c.id)) FROM sales.customers c),
           (SELECT md5(string_agg(o::text, ',' ORDER BY o.id)) FROM sales.orders o),
           (SELECT md5(string_agg(e::text, ',' ORDER BY e::text)) FROM public.events e),
           (SELECT md5(string_agg(t::text, ',' ORDER BY t.customer_id)) FROM sales.totals t),
           (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension),
           (SELECT count(*) FROM pg_largeobject_metadata),
           (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
           obj_description('sales.orders'::regclass, 'pg_class'),
           (SELECT last_value FROM sales.orders_id_seq),
           (SELECT nextval('sales.customers_id_seq')))",
    )
}

fn backup_restore_onto_itself_and_the_newest(major: u32) {
    if !matrix_installed() {
        return;
    }
    let source = PgCluster::start_major(major);
    sample_database(&source);
    let repo = TestRepo::new();
    let backup = lifeboat_ok(&repo, &["backup", "--db", &source.url("shop"), "--json"]);
    assert_eq!(backup["rows"], 1500 + 4000 + 3000, "{backup}");
    let expected = fingerprint(&source, "shop");
    for object in ["sales.customers:r:app_owner", "public.events:p:postgres", "sales.totals:m:postgres"] {
        assert!(expected.contains(object), "{object} missing from {expected}");
    }

    // Onto its own major: another database of the same server.
    lifeboat_ok(&repo, &["restore", "latest:shop", "--to", &source.url("shop_copy"), "--json"]);
    assert_eq!(fingerprint(&source, "shop_copy"), expected, "PostgreSQL {major} onto itself");

    // Over a database with data in it (--force): swapped in, the old one
    // kept. With parallel jobs: schema and rows, then indexes and
    // constraints with the row counts beside, in two pg_restore runs.
    source.psql("shop_copy", "DELETE FROM sales.orders WHERE id % 2 = 0");
    let report = lifeboat_ok(
        &repo,
        &[
            "restore",
            "latest:shop",
            "--to",
            &source.url("shop_copy"),
            "--force",
            "--jobs",
            "2",
            "--json",
        ],
    );
    assert_eq!(report["jobs"], 2, "{report}");
    let kept = report["previous_database_kept_as"].as_str().unwrap();
    assert_eq!(fingerprint(&source, "shop_copy"), expected, "PostgreSQL {major} forced");
    assert_eq!(source.psql(kept, "SELECT count(*) FROM sales.orders"), "2000");

    // A drill on its own major: checks pass and its scratch database is
    // dropped (PostgreSQL 12 lacks DROP DATABASE ... WITH (FORCE)).
    let drill = lifeboat_ok(&repo, &["drill", "latest:shop", "--server", &source.url("postgres"), "--json"]);
    assert_eq!(drill["passed"], true, "{drill:#}");
    assert_eq!(
        source.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat%'"),
        "0"
    );

    // Onto the newest major, a fresh server where the role does not exist yet.
    if major != NEWEST {
        let newest = PgCluster::start_major(NEWEST);
        let report = lifeboat_ok(&repo, &["restore", "latest:shop", "--to", &newest.url("shop"), "--json"]);
        assert_eq!(report["roles_created"], serde_json::json!(["app_owner"]), "{report}");
        assert_eq!(fingerprint(&newest, "shop"), expected, "PostgreSQL {major} onto {NEWEST}");
    }
}

#[test]
fn postgresql_12() {
    backup_restore_onto_itself_and_the_newest(12);
}

#[test]
fn postgresql_13() {
    backup_restore_onto_itself_and_the_newest(13);
}

#[test]
fn postgresql_14() {
    backup_restore_onto_itself_and_the_newest(14);
}

#[test]
fn postgresql_15() {
    backup_restore_onto_itself_and_the_newest(15);
}

#[test]
fn postgresql_16() {
    backup_restore_onto_itself_and_the_newest(16);
}

#[test]
fn postgresql_17() {
    backup_restore_onto_itself_and_the_newest(17);
}

#[test]
fn postgresql_18() {
    backup_restore_onto_itself_and_the_newest(18);
}

/// A newer pg_dump writes what an older server may reject part-way: the
/// restore is refused up front, nothing is created, and `--force` is named.
#[test]
fn a_dump_of_the_newest_is_refused_by_an_older_server_before_anything_is_created() {
    if !matrix_installed() {
        return;
    }
    let source = PgCluster::start_major(NEWEST);
    sample_database(&source);
    let repo = TestRepo::new();
    lifeboat_ok(&repo, &["backup", "--db", &source.url("shop"), "--json"]);
    let older = PgCluster::start_major(OLDEST);
    let out = lifeboat(&repo, &["restore", "latest:shop", "--to", &older.url("shop")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("PostgreSQL {OLDEST}, older than the server the dump came from ({NEWEST})")) && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        older.psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')"
        ),
        "0"
    );
    assert_eq!(
        older.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'app_owner'"),
        "0"
    );
}
