//! Test support shared by Lifeboat's suites. [`PgCluster`] is a real,
//! throwaway PostgreSQL server: `initdb` into a temp folder, `pg_ctl start`
//! on a free port with its socket in that folder, stopped and deleted on drop.
//! No service on the machine is used or needed. [`put_random_stream`] fills
//! a repository with real packs for the suites that read them back.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the server binaries of `major` are: `LIFEBOAT_TEST_PG_BIN` first,
/// then the Debian/Ubuntu and RHEL layouts.
pub fn server_bin_dir(major: u32) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIFEBOAT_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    [format!("/usr/lib/postgresql/{major}/bin"), format!("/usr/pgsql-{major}/bin")]
        .into_iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("initdb").exists())
}

/// The servers of `major` that `scripts/postgres-majors` installed under
/// `LIFEBOAT_TEST_PG_MAJORS` for the version matrix, if any.
pub fn matrix_bin_dir(major: u32) -> Option<PathBuf> {
    let root = std::env::var_os("LIFEBOAT_TEST_PG_MAJORS")?;
    let dir = PathBuf::from(root).join(major.to_string()).join("bin");
    dir.join("initdb").exists().then_some(dir)
}

/// The newest installed server major, if any.
pub fn newest_server_major() -> Option<u32> {
    (10..=30).rev().find(|major| server_bin_dir(*major).is_some())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn check(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A running throwaway cluster. The superuser is `postgres` (trust auth
/// over TCP on 127.0.0.1 unless [`PgCluster::start_with_password`]).
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub major: u32,
    /// The superuser's password, when password authentication is on.
    pub password: Option<String>,
}

impl PgCluster {
    /// Starts a cluster of the newest installed major; panics with what to
    /// install when there is none.
    pub fn start() -> PgCluster {
        Self::start_inner(None, false)
    }

    /// Like [`PgCluster::start`], but durable (`fsync` on) as a production
    /// server is: for benchmarks, whose timings include the writes to disk.
    pub fn start_durable() -> PgCluster {
        Self::start_inner(None, true)
    }

    /// Starts a cluster that requires `password` for `postgres` over TCP.
    pub fn start_with_password(password: &str) -> PgCluster {
        Self::start_inner(Some(password), false)
    }

    /// Starts a cluster of `major` from the version matrix's servers; panics
    /// with what to run when they are not installed.
    pub fn start_major(major: u32) -> PgCluster {
        let bin = matrix_bin_dir(major).unwrap_or_else(|| {
            panic!("no PostgreSQL {major} server: run scripts/postgres-majors (scripts/test does) and export LIFEBOAT_TEST_PG_MAJORS")
        });
        Self::start_in(bin, major, None, false, "")
    }

    /// Like [`PgCluster::start_major`], with `settings` (postgresql.conf
    /// lines: `archive_mode = on`...) added before the server starts.
    pub fn start_major_configured(major: u32, settings: &str) -> PgCluster {
        let bin = matrix_bin_dir(major).unwrap_or_else(|| {
            panic!("no PostgreSQL {major} server: run scripts/postgres-majors (scripts/test does) and export LIFEBOAT_TEST_PG_MAJORS")
        });
        Self::start_in(bin, major, None, false, settings)
    }

    fn start_inner(password: Option<&str>, durable: bool) -> PgCluster {
        let major = newest_server_major().expect(
            "no PostgreSQL server binaries found: install the `postgresql` package (scripts/setup does) or set LIFEBOAT_TEST_PG_BIN",
        );
        Self::start_in(server_bin_dir(major).unwrap(), major, password, durable, "")
    }

    fn start_in(bin: PathBuf, major: u32, password: Option<&str>, durable: bool, settings: &str) -> PgCluster {
        let dir = tempfile::Builder::new().prefix("lifeboat-pg-").tempdir().unwrap();
        // initdb and postgres refuse to run as root: run them as `nobody`.
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "nobody:nogroup"])
                    .arg(dir.path())
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let data = dir.path().join("data");
        let mut initdb = vec![bin.join("initdb").display().to_string(), "-D".into(), data.display().to_string()];
        initdb.extend(["-U", "postgres", "--encoding=UTF8", "--locale=C", "--no-sync"].map(String::from));
        if let Some(password) = password {
            let file = dir.path().join("pwfile");
            std::fs::write(&file, password).unwrap();
            if is_root() {
                check(Command::new("chown").args(["nobody:nogroup"]).arg(&file).output().unwrap(), "chown");
            }
            initdb.extend([
                "--auth-host=scram-sha-256".into(),
                "--auth-local=trust".into(),
                format!("--pwfile={}", file.display()),
            ]);
        } else {
            initdb.extend(["--auth=trust".into()]);
        }
        check(as_server_user(&initdb).output().unwrap(), "initdb");
        if !settings.is_empty() {
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str(&format!("\n{settings}\n"));
            std::fs::write(&conf, text).unwrap();
        }
        let port = free_port();
        // Tests need no durability: fsync off spares the disk.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=40",
            dir.path().display(),
            if durable { "on" } else { "off" }
        );
        let start = [
            bin.join("pg_ctl").display().to_string(),
            "-D".into(),
            data.display().to_string(),
            "-l".into(),
            dir.path().join("server.log").display().to_string(),
            "-o".into(),
            options,
            "-w".into(),
            "start".into(),
        ];
        check(as_server_user(&start).output().unwrap(), "pg_ctl start");
        PgCluster {
            dir,
            bin,
            port,
            major,
            password: password.map(str::to_owned),
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB` (no password in it).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A URL that reaches the server through its Unix socket, in libpq's
    /// `host=` form (local connections are trusted too).
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&port={}&user=postgres",
            self.dir.path().display(),
            self.port
        )
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The data directory (the server's user owns it).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Runs SQL through `psql` as the superuser on `database`; panics on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = self.psql_command(database, sql).output().unwrap();
        String::from_utf8(check(output, &format!("psql {sql:.80}")).stdout)
            .unwrap()
            .trim()
            .to_string()
    }

    /// `psql` ready to run `sql`, for callers that expect failure. Servers
    /// shipped without client tools (the matrix's 12 and 13) get the newest
    /// `psql` there is: it speaks to every older server.
    pub fn psql_command(&self, database: &str, sql: &str) -> Command {
        let own = self.bin.join("psql");
        let psql = if own.exists() {
            own
        } else {
            (self.major..=30)
                .rev()
                .filter_map(matrix_bin_dir)
                .map(|dir| dir.join("psql"))
                .find(|psql| psql.exists())
                .unwrap_or_else(|| PathBuf::from("psql"))
        };
        let mut cmd = Command::new(psql);
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-p",
        ])
        .arg(self.port.to_string())
        .args(["-d", database, "-c", sql]);
        if let Some(password) = &self.password {
            cmd.env("PGPASSWORD", password);
        }
        cmd
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`): a server that
    /// goes away under a running job.
    pub fn kill(&self) {
        let stop = [
            self.bin.join("pg_ctl").display().to_string(),
            "-D".into(),
            self.dir.path().join("data").display().to_string(),
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ];
        let _ = as_server_user(&stop).output();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `argv` as a command run by the user servers run as: `nobody` when
/// this is root (PostgreSQL refuses root), else this user.
pub fn as_server_user(argv: &[String]) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "nobody", "--"]).args(argv);
        cmd
    } else {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }
}

fn open_repository(location: &Path, passphrase: &str) -> lifeboat_core::repo::Repository {
    open_repository_in(std::sync::Arc::new(lifeboat_core::backend::LocalBackend::new(location)), passphrase)
}

/// The repository in `backend`, opened with `passphrase`.
pub fn open_repository_in(
    backend: std::sync::Arc<dyn lifeboat_core::backend::Backend>,
    passphrase: &str,
) -> lifeboat_core::repo::Repository {
    use lifeboat_core::repo::open;
    open::open(
        backend,
        open::OpenRequest {
            passphrase: Some(passphrase.into()),
            ..Default::default()
        },
    )
    .expect("opening the test repository")
    .repo
}

/// The ids of the snapshots tagged `tag` in the repository at `location`,
/// newest first (by their recorded start).
pub fn snapshot_ids(location: &Path, passphrase: &str, tag: &str) -> Vec<String> {
    use lifeboat_core::repo::manifest;
    let repo = open_repository(location, passphrase);
    let mut snapshots: Vec<_> = manifest::list(&repo)
        .unwrap()
        .snapshots
        .into_iter()
        .filter(|s| s.manifest.tag == tag)
        .collect();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.manifest.start));
    snapshots.into_iter().map(|s| s.id).collect()
}

/// Stores `size` pseudo-random (incompressible) bytes under `tag` through
/// the engine, in the repository at `location` opened with `passphrase`.
pub fn put_random_stream(location: &Path, passphrase: &str, tag: &str, size: usize) {
    put_random_stream_into(
        std::sync::Arc::new(lifeboat_core::backend::LocalBackend::new(location)),
        passphrase,
        tag,
        size,
    );
}

/// [`put_random_stream`] into the repository in `backend` (a bucket's, say).
pub fn put_random_stream_into(backend: std::sync::Arc<dyn lifeboat_core::backend::Backend>, passphrase: &str, tag: &str, size: usize) {
    use lifeboat_core::repo::store;
    let repo = open_repository_in(backend, passphrase);
    let mut state = 0x9e3779b97f4a7c15u64;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let options = store::PutOptions {
        tag: tag.into(),
        ..Default::default()
    };
    store::put(&repo, &mut data.as_slice(), &options, &lifeboat_core::progress::NoProgress).unwrap();
}

/// Every file under `dir`, recursively, sorted; an absent folder has none.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A new repository in `dir` with small chunks and packs, so a few hundred
/// KiB make many packs (to repack, to damage).
pub fn small_repository(dir: &Path) -> lifeboat_core::repo::Repository {
    small_repository_with_packs_of(dir, 48 * 1024)
}

/// A new repository in `dir` with small chunks and packs of `pack_size`;
/// its passphrase is "pw".
pub fn small_repository_with_packs_of(dir: &Path, pack_size: u32) -> lifeboat_core::repo::Repository {
    use lifeboat_core::backend::LocalBackend;
    use lifeboat_core::repo::{ChunkerParams, InitOptions, Repository};
    let backend = std::sync::Arc::new(LocalBackend::new(dir));
    backend.create_root().unwrap();
    let options = InitOptions {
        chunker: ChunkerParams {
            min_size: 512,
            avg_size: 2048,
            max_size: 8192,
        },
        compression_level: 1,
        pack_size,
    };
    Repository::init(backend, "pw", "test", &options).unwrap().0
}
pub mod http;
pub mod s3;
pub mod sftp;
pub mod smtp;
