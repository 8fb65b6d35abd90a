//! A real SFTP server for the remote-repository suites: Debian's OpenSSH
//! `sshd` on a free port of 127.0.0.1, with its own host key and one
//! authorised client key, serving the test's user (installed by
//! `scripts/setup`).
//!
//! Lifeboat runs the real `ssh` against it. What the test cannot do is touch
//! the user's `~/.ssh` (ssh reads the home folder from the password database,
//! not `$HOME`), so the client's settings (this server's host key, the key to
//! log in with) come from an ssh config file that `LIFEBOAT_SSH_COMMAND`
//! names: `ssh -F <config>`, as a team would configure a service account.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct SftpServer {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lifeboat-test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("running ssh-keygen (apt install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

impl SftpServer {
    /// Starts a server; panics with what to install when sshd is missing.
    pub fn start() -> SftpServer {
        assert!(Path::new(SSHD).exists(), "no {SSHD}: install openssh-server (scripts/setup does)");
        // sshd run by root wants its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("client_key"));
        keygen(&path("stranger_key"));
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        std::fs::create_dir(path("files")).unwrap();
        let mut server = SftpServer {
            port: free_port(),
            child: None,
            dir,
        };
        let host_key = std::fs::read_to_string(server.file("host_key.pub")).unwrap();
        let known = format!("[127.0.0.1]:{} {host_key}", server.port);
        std::fs::write(server.file("known_hosts"), known).unwrap();
        std::fs::write(server.file("no_known_hosts"), "").unwrap();
        std::fs::write(
            server.file("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
                 Subsystem sftp internal-sftp\nLogLevel ERROR\n",
                port = server.port,
                dir = server.dir.path().display()
            ),
        )
        .unwrap();
        for (name, key, known_hosts) in [
            ("ssh_config", "client_key", "known_hosts"),
            ("ssh_config_unknown_host", "client_key", "no_known_hosts"),
            ("ssh_config_stranger", "stranger_key", "known_hosts"),
        ] {
            std::fs::write(
                server.file(name),
                format!(
                    "Host *\n  IdentityFile {dir}/{key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {dir}/{known_hosts}\n  \
                     GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
                    dir = server.dir.path().display()
                ),
            )
            .unwrap();
        }
        server.recover();
        server
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The folder on the server (this machine) the suites keep repositories in.
    pub fn files(&self) -> PathBuf {
        self.file("files")
    }

    /// `sftp://USER@127.0.0.1:PORT/<files>/<name>`.
    pub fn location(&self, name: &str) -> String {
        format!("sftp://{}@127.0.0.1:{}{}/{name}", whoami(), self.port, self.files().display())
    }

    /// The environment that makes Lifeboat's ssh trust this server and log in.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.env_with("ssh_config")
    }

    /// As [`SftpServer::env`], but this server's host key is unknown.
    pub fn env_unknown_host(&self) -> Vec<(&'static str, String)> {
        self.env_with("ssh_config_unknown_host")
    }

    /// As [`SftpServer::env`], but logging in with a key the server does not know.
    pub fn env_stranger(&self) -> Vec<(&'static str, String)> {
        self.env_with("ssh_config_stranger")
    }

    fn env_with(&self, config: &str) -> Vec<(&'static str, String)> {
        vec![("LIFEBOAT_SSH_COMMAND", format!("ssh -F {}", self.file(config).display()))]
    }

    /// Kills the server and every session it serves, as a crash or a
    /// network cut would.
    pub fn fail(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Each connection's sshd is a child in a session of its own.
            let mut doomed = descendants(child.id());
            doomed.push(child.id());
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(doomed.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts (again) listening on the same port.
    pub fn recover(&mut self) {
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.file("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "sshd exited at start ({status}); run `{SSHD} -D -e -f {}` to see why",
                    self.file("sshd_config").display()
                );
            }
            assert!(Instant::now() < deadline, "sshd did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        self.fail();
    }
}

/// Every process below `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let child: u32 = entry.file_name().to_str()?.parse().ok()?;
                    let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                    // "pid (name) state ppid ...": the name may hold spaces.
                    let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
                    Some((child, parent))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![];
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        for (child, _) in parents.iter().filter(|(_, p)| *p == parent) {
            found.push(*child);
            queue.push(*child);
        }
    }
    found
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("running id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
