//! A real S3-compatible server for the remote-repository suites: `moto_server`
//! (PyPI `moto[server]`, installed by `scripts/object-servers`) on a free
//! port of 127.0.0.1, with a bucket made for the test, behind a small TCP
//! relay that can cut every connection and answer 503 for a while: the
//! faults a real network and a real service produce (the relay is the one
//! piece that stands in for them; the server behind it is real).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::free_port;

/// The access key the suites use; moto accepts any.
pub const ACCESS_KEY_ID: &str = "lifeboat-test-key";
pub const SECRET_ACCESS_KEY: &str = "lifeboat-test-secret";
/// What the suites' own requests carry: moto checks that a request names an
/// access key (anonymous ones meet the bucket's private ACL), not its signature.
const AUTHORIZATION: &str = "Authorization: AWS4-HMAC-SHA256 Credential=lifeboat-test-key/20260101/us-east-1/s3/aws4_request, \
                             SignedHeaders=host, Signature=0\r\n";

/// `moto_server`, from LIFEBOAT_TEST_MOTO or the place scripts/object-servers uses.
pub fn moto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LIFEBOAT_TEST_MOTO").map(PathBuf::from) {
        return path.exists().then_some(path);
    }
    None
}

pub struct S3Server {
    child: Child,
    /// Where clients connect: the relay.
    pub port: u16,
    failing: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
    relayed: Arc<AtomicU64>,
}

impl S3Server {
    /// Starts a server with an empty bucket named `bucket`; panics with what
    /// to run when moto is not installed.
    pub fn start(bucket: &str) -> S3Server {
        let binary = moto_binary().expect("no moto_server: run scripts/object-servers (scripts/test does) and export LIFEBOAT_TEST_MOTO");
        let server_port = free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &server_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", server_port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start listening within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let failing = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let relayed = Arc::new(AtomicU64::new(0));
        let (relay_failing, relay_live, relay_count) = (failing.clone(), live.clone(), relayed.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                relay(client, server_port, &relay_failing, &relay_live, &relay_count);
            }
        });
        let server = S3Server {
            child,
            port,
            failing,
            live,
            relayed,
        };
        // Listening is not serving yet (moto starts its app after the
        // socket), and a loaded machine makes that slow: ask until it answers.
        loop {
            let status = server.request("PUT", &format!("/{bucket}"), b"");
            if status.starts_with("HTTP/1.1 200") {
                return server;
            }
            assert!(Instant::now() < deadline, "creating bucket {bucket}: {status:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a Lifeboat process needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("LIFEBOAT_S3_PATH_STYLE", "true".into()),
        ]
    }

    /// From now on every connection is cut and every request answered 503,
    /// until [`S3Server::recover`].
    pub fn fail(&self) {
        self.failing.store(true, Ordering::SeqCst);
        for stream in self.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Bytes relayed so far, both ways: what Lifeboat's requests cost.
    pub fn bytes_relayed(&self) -> u64 {
        self.relayed.load(Ordering::SeqCst)
    }

    pub fn recover(&self) {
        self.failing.store(false, Ordering::SeqCst);
    }

    /// Replaces an object's bytes behind Lifeboat's back (a path-style PUT).
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) {
        let status = self.request("PUT", &format!("/{bucket}/{key}"), data);
        assert!(status.starts_with("HTTP/1.1 200"), "PUT {key}: {status}");
    }

    /// An object's bytes.
    pub fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.get(&format!("/{bucket}/{key}"))
    }

    /// The keys under `prefix` (up to a thousand).
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listing = String::from_utf8(self.get(&format!("/{bucket}?list-type=2&prefix={prefix}"))).unwrap();
        tag_values(&listing, "Key")
    }

    /// The bytes stored under `prefix`.
    pub fn bucket_size(&self, bucket: &str, prefix: &str) -> u64 {
        let mut total = 0;
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{bucket}?list-type=2&prefix={prefix}");
            if let Some(token) = &token {
                path.push_str(&format!(
                    "&continuation-token={}",
                    token.replace('=', "%3D").replace('+', "%2B").replace('/', "%2F")
                ));
            }
            let listing = String::from_utf8(self.get(&path)).unwrap();
            total += tag_values(&listing, "Size").iter().map(|s| s.parse::<u64>().unwrap()).sum::<u64>();
            token = tag_values(&listing, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                return total;
            }
        }
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTHORIZATION}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
        assert!(
            response.starts_with(b"HTTP/1.1 200"),
            "GET {path}: {}",
            String::from_utf8_lossy(&response[..head_end])
        );
        let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
        assert!(!head.contains("transfer-encoding: chunked"), "GET {path}: a chunked answer");
        response.split_off(head_end)
    }

    /// Sends one request with `Connection: close`; returns the status line.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTHORIZATION}Content-Type: application/octet-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.lines().next().unwrap_or_default().to_string()
    }
}

/// The texts of every `<tag>` element of an XML listing.
fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(value, _)| value.to_string()))
        .collect()
}

/// Relays one client connection, or answers it 503 while failing.
fn relay(client: TcpStream, server_port: u16, failing: &Arc<AtomicBool>, live: &Arc<Mutex<Vec<TcpStream>>>, relayed: &Arc<AtomicU64>) {
    if failing.load(Ordering::SeqCst) {
        std::thread::spawn(move || answer_unavailable(client));
        return;
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
        return;
    };
    {
        let mut live = live.lock().unwrap();
        live.retain(|s| s.peer_addr().is_ok());
        live.push(client.try_clone().unwrap());
        live.push(server.try_clone().unwrap());
    }
    for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
        let relayed = relayed.clone();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buffer) {
                if n == 0 || to.write_all(&buffer[..n]).is_err() {
                    break;
                }
                relayed.fetch_add(n as u64, Ordering::SeqCst);
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }
}

/// Reads the request head and answers like an overloaded S3 endpoint.
fn answer_unavailable(mut client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
        head.push(byte[0]);
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ServiceUnavailable</Code>\
                <Message>injected by the test relay</Message></Error>";
    let _ = write!(
        client,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.shutdown(Shutdown::Both);
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
