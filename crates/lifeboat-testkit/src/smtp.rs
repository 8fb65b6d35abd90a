//! A real SMTP server for the alert suites: aiosmtpd (PyPI, installed by
//! `scripts/object-servers`) on a free port of 127.0.0.1, with STARTTLS
//! required under a certificate from a throwaway CA (made with the
//! `openssl` tool) and AUTH for one user. Clients trust the CA through
//! `SSL_CERT_FILE` ([`SmtpServer::ca_file`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::{check, free_port};

/// One message as the server received it.
#[derive(Debug, serde::Deserialize)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Whether it travelled over TLS (after STARTTLS).
    pub tls: bool,
    pub authenticated: bool,
    pub subject: String,
    /// The text, decoded.
    pub body: String,
}

pub struct SmtpServer {
    child: Child,
    _stdin: ChildStdin,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// The Python with aiosmtpd, from LIFEBOAT_TEST_SMTP_PYTHON.
pub fn python() -> Option<PathBuf> {
    std::env::var_os("LIFEBOAT_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

fn openssl(dir: &Path, args: &[&str]) {
    check(
        Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("running openssl"),
        "openssl",
    );
}

impl SmtpServer {
    /// Starts a server that accepts `user` with `password`; panics with
    /// what to run when aiosmtpd is not installed.
    pub fn start(user: &str, password: &str) -> SmtpServer {
        let python =
            python().expect("no Python with aiosmtpd: run scripts/object-servers (scripts/test does) and export LIFEBOAT_TEST_SMTP_PYTHON");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Lifeboat test CA",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        std::fs::create_dir(d.join("mail")).unwrap();
        std::fs::write(d.join("smtp_server.py"), include_str!("smtp_server.py")).unwrap();
        let port = free_port();
        let mut child = Command::new(python)
            .current_dir(d)
            .args([
                "smtp_server.py",
                &port.to_string(),
                "mail",
                "server.pem",
                "server.key",
                user,
                password,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its tracebacks for refused handshakes are expected; kept beside the mail.
            .stderr(std::fs::File::create(d.join("server.log")).unwrap())
            .spawn()
            .expect("starting aiosmtpd");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "aiosmtpd did not start");
        let stdin = child.stdin.take().unwrap();
        SmtpServer {
            child,
            _stdin: stdin,
            dir,
            port,
        }
    }

    /// The CA certificate clients must trust (set `SSL_CERT_FILE` to it).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
