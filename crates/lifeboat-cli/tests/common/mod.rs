//! Helpers for driving the real `lifeboat` binary against real folders.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("lifeboat")
}

/// A deterministic, dump-like (compressible, mostly unique) stream.
pub fn stream(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(len + 128);
    let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
    let mut row = 0u64;
    while out.len() < len {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let r = state >> 33;
        out.extend_from_slice(format!("{row}\t{}\t{}\t{:x}\n", words[(r % 8) as usize], r % 100_000, state).as_bytes());
        row += 1;
    }
    out.truncate(len);
    out
}

/// A repository in a temporary folder, opened by passphrase, keychain off,
/// with its own app data folder (catalog of connections).
pub struct TestRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub data_dir: PathBuf,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let data_dir = dir.path().join("data");
        let repo = TestRepo { _dir: dir, path, data_dir };
        repo.ok(&["init"], None);
        repo
    }

    /// A `lifeboat` command for this repository.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd_with_keychain(args);
        cmd.arg("--no-keychain");
        cmd
    }

    /// A `lifeboat` command for this repository that uses the OS keychain.
    pub fn cmd_with_keychain(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env_remove("LIFEBOAT_NO_KEYCHAIN")
            .env("LIFEBOAT_REPO", &self.path)
            .env("LIFEBOAT_DATA_DIR", &self.data_dir)
            .env("LIFEBOAT_PASSWORD", PASSWORD)
            // Events become log lines: no test pops up (or D-Bus-activates) a notification server.
            .env("LIFEBOAT_NOTIFY", "log")
            .env_remove("LIFEBOAT_PASSWORD_FILE")
            .env_remove("LIFEBOAT_RECOVERY_KIT_FILE");
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(self.cmd(args), stdin)
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "lifeboat {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Stores `data` under `tag`; returns the snapshot id.
    pub fn put(&self, tag: &str, data: &[u8]) -> String {
        String::from_utf8(self.ok(&["put", "--tag", tag], Some(data)))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn cat(&self, snapshot: &str) -> Vec<u8> {
        self.ok(&["cat", snapshot], None)
    }

    pub fn files(&self, dir: &str) -> Vec<PathBuf> {
        files_under(&self.path.join(dir))
    }

    /// Makes every file under `dir` look `age` old to the storage (its
    /// modification time): what time alone does to leftovers.
    pub fn age(&self, dir: &str, age: std::time::Duration) {
        for file in self.files(dir) {
            let when = std::time::SystemTime::now() - age;
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
    }

    pub fn check_json(&self, read_data: bool) -> (bool, serde_json::Value) {
        let mut args = vec!["check", "--json"];
        if read_data {
            args.push("--read-data");
        }
        let out = self.run(&args, None);
        (
            out.status.success(),
            serde_json::from_slice(&out.stdout).expect("check --json prints JSON"),
        )
    }
}

pub fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub use lifeboat_testkit::files_under;

pub fn flip_byte(path: &Path, offset_from_start: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = offset_from_start.min(bytes.len() - 1);
    bytes[at] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

/// Database `shop` on `cluster`: two tables (40 users, 90 orders) and an extension (citext).
pub fn shop(cluster: &lifeboat_testkit::PgCluster) {
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE EXTENSION citext;
         CREATE TABLE public.users (id serial PRIMARY KEY, email citext NOT NULL);
         CREATE TABLE public.orders (id serial PRIMARY KEY, user_id int REFERENCES public.users, total numeric);
         INSERT INTO public.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 40) g;
         INSERT INTO public.orders (user_id, total) SELECT 1 + g % 40, g FROM generate_series(1, 90) g;",
    );
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// A private mount namespace holding a small tmpfs, for disk-full and
/// read-only faults; commands run inside it through `nsenter`.
pub struct PrivateTmpfs {
    holder: Child,
    pub dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl PrivateTmpfs {
    pub fn new(size: &str) -> Self {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        let script = format!(
            "mount -t tmpfs -o size={size},mode=0700 lifeboat-test {} && echo ready && exec sleep 600",
            dir.display()
        );
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) runs");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "could not mount a tmpfs in a private namespace");
        PrivateTmpfs {
            holder,
            dir,
            _parent: parent,
        }
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.holder.id().to_string(), "--mount", "--"]).arg(program);
        cmd
    }

    pub fn lifeboat(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        let mut cmd = self.command(&bin());
        cmd.args(args)
            .arg("--no-keychain")
            .env("LIFEBOAT_REPO", self.dir.join("repo"))
            .env("LIFEBOAT_PASSWORD", PASSWORD);
        run(cmd, stdin)
    }
}

impl Drop for PrivateTmpfs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// What `sha256sum` prints for `data`: an independent check of the SHA-256s Lifeboat records.
pub fn sha256_hex(data: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
