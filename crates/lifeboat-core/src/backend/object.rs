//! A repository in an S3-compatible bucket, through OpenDAL.
//!
//! An object store has no rename and no folders: every PUT replaces an object
//! whole, atomically, and the repository format never needs more (packs,
//! indexes, manifests, key slots and locks are written once under fresh
//! names; the latest pointer is only a hint the manifests outvote). The one
//! write that must not replace anything, a new repository's `config`, uses
//! a conditional PUT (`If-None-Match: *`) where the server honours it; the
//! first such write probes whether it does (see [`ObjectBackend::guarantees`]).
//!
//! Listings carry each object's ETag, for this workstation's copies of
//! index files and manifests (see `cache.rs`).
//!
//! Each call runs on the shared storage runtime (see `runtime.rs`).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator};

use super::{Backend, FileInfo, StorageGuarantees};
use crate::crypto::keychain::StorageCredentials;
use crate::crypto::random_bytes;
use crate::error::{Error, Result};

/// Objects larger than this go up as a multipart upload, in parts this large.
const MULTIPART_PART: usize = 8 << 20;
/// Parts of one object uploaded at once.
const MULTIPART_CONCURRENCY: usize = 4;
/// Where the probe for conditional writes writes; removed right after. Lock
/// listings skip `locks/clock-*` (the lock module's clock probes), so a
/// probe a killed process left behind is never taken for a lock.
const PROBE_PREFIX: &str = "locks/clock-conditional-";

/// How to reach an S3-compatible bucket.
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// Folder inside the bucket, without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// `https://...` or `http://...`; None for AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// An access key from the keychain; None: the environment's or the
    /// AWS profile's.
    pub credentials: Option<StorageCredentials>,
}

/// Makes rustls's ring provider the process's default, once. Lifeboat's
/// reqwest is built without a provider of its own (see Cargo.toml); any
/// other reqwest client in the same process (a test's WebDriver client)
/// needs this before it is built.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client: rustls over the ring provider the rest of Lifeboat
/// uses, trusting the system's certificate store (a self-hosted MinIO with
/// the team's own CA works once that CA is installed system-wide).
fn http_transport() -> Result<opendal::HttpTransporter> {
    install_tls_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
    Ok(opendal::HttpTransporter::new(
        opendal_http_transport_reqwest::ReqwestTransport::new(client),
    ))
}

pub struct ObjectBackend {
    operator: Operator,
    location: String,
    guarantees: OnceLock<StorageGuarantees>,
}

impl ObjectBackend {
    pub fn s3(settings: &S3Settings, location: String) -> Result<ObjectBackend> {
        let mut builder = opendal::services::S3::default()
            .bucket(&settings.bucket)
            .root(&format!("/{}", settings.prefix))
            .region(settings.region.as_deref().unwrap_or(match settings.endpoint {
                // Self-hosted servers mostly ignore the region; AWS needs the right one.
                Some(_) => "us-east-1",
                None => "",
            }));
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if !settings.path_style {
            builder = builder.enable_virtual_host_style();
        }
        if let Some(credentials) = &settings.credentials {
            use secrecy::ExposeSecret;
            builder = builder
                .access_key_id(&credentials.access_key_id)
                .secret_access_key(credentials.secret_access_key.expose_secret());
        }
        let operator = Operator::new(builder).map_err(|e| Error::InvalidInput(format!("{location}: {}", e.message())))?;
        Self::with_operator(operator, location)
    }

    fn with_operator(operator: Operator, location: String) -> Result<ObjectBackend> {
        let context = opendal::OperationContext::new().with_http_transport(http_transport()?);
        let operator = operator
            .with_context(context)
            // Whole requests time out; a stalled transfer fails over to a retry.
            .layer(
                TimeoutLayer::new()
                    .with_timeout(Duration::from_secs(120))
                    .with_io_timeout(Duration::from_secs(60)),
            )
            .layer(
                RetryLayer::new()
                    .with_jitter()
                    .with_max_times(6)
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(20)),
            );
        Ok(ObjectBackend {
            operator,
            location,
            guarantees: OnceLock::new(),
        })
    }

    /// Runs one storage call to completion on the storage runtime.
    fn run<T: Send + 'static>(&self, call: impl Future<Output = opendal::Result<T>> + Send + 'static) -> opendal::Result<T> {
        super::runtime::block_on(call)
            .unwrap_or_else(|| Err(opendal::Error::new(ErrorKind::Unexpected, "the storage call stopped unexpectedly")))
    }

    /// An OpenDAL error as a Lifeboat one that says what to do.
    fn error(&self, action: &str, path: &str, e: opendal::Error) -> Error {
        let hint = match e.kind() {
            ErrorKind::NotFound => {
                return match action {
                    "reading" => Error::Missing(path.to_string()),
                    _ => storage_error(
                        action,
                        &self.location,
                        path,
                        "the bucket does not exist (or the endpoint or region is wrong): create the bucket, or check the location",
                    ),
                }
            }
            ErrorKind::PermissionDenied => {
                "access denied: check the access key (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the keychain \
                 entry) and that its policy allows listing the bucket and reading, writing and deleting objects under the prefix"
            }
            _ if e.to_string().contains("NoSuchBucket") => {
                "the bucket does not exist (or the endpoint or region is wrong): create the bucket, or check the location"
            }
            ErrorKind::ConfigInvalid => "the location's settings are not usable",
            ErrorKind::RateLimited => "the storage kept refusing requests (rate limited) after several retries: run the job again later",
            _ if e.is_temporary() || e.is_persistent() => {
                "the storage did not answer after several retries (unreachable, timing out or failing with 5xx): check the network and the \
                 endpoint, then run the job again; what earlier jobs stored is unchanged"
            }
            _ => "",
        };
        let detail = if hint.is_empty() {
            e.message().to_string()
        } else {
            format!("{hint} ({})", e.message())
        };
        storage_error(action, &self.location, path, &detail)
    }

    /// Whether the server honours conditional PUTs: one probe object, written
    /// twice with `If-None-Match: *`; the second must be refused.
    fn probe(&self) -> Result<StorageGuarantees> {
        let path = format!("{PROBE_PREFIX}{}", data_encoding::HEXLOWER.encode(&random_bytes::<8>()));
        let put = |op: Operator, path: String| async move { op.write_with(&path, vec![0u8]).if_not_exists(true).await };
        self.run(put(self.operator.clone(), path.clone()))
            .map_err(|e| self.error("writing", &path, e))?;
        let second = self.run(put(self.operator.clone(), path.clone()));
        let _ = self.remove(&path);
        let conditional_create = match second {
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => true,
            Ok(_) => false,
            // Some servers answer an unknown condition with 501 or 400.
            Err(e) if e.kind() == ErrorKind::Unsupported || !(e.is_temporary() || e.is_persistent()) => false,
            Err(e) => return Err(self.error("probing conditional writes at", &path, e)),
        };
        Ok(StorageGuarantees {
            atomic_replace: true,
            conditional_create,
        })
    }
}

fn storage_error(action: &str, location: &str, path: &str, detail: &str) -> Error {
    Error::Storage {
        action: action.to_string(),
        target: format!("{}/{path}", location.trim_end_matches('/')),
        detail: detail.to_string(),
    }
}

impl Backend for ObjectBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn read(&self, path: &str, max: u64) -> Result<Vec<u8>> {
        let op = self.operator.clone();
        let owned = path.to_string();
        let size = self
            .run(async move { op.stat(&owned).await })
            .map_err(|e| self.error("reading", path, e))?
            .content_length();
        if size > max {
            return Err(Error::corrupt(
                path,
                format!("it is {size} bytes, more than such a file can hold ({max}): damaged or planted; see `lifeboat check`"),
            ));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        // Ranged to the size just checked: an object replaced by a larger
        // one since is never read whole (and then fails its authentication).
        let op = self.operator.clone();
        let owned = path.to_string();
        Ok(self
            .run(async move { op.read_with(&owned).range(0..size).await })
            .map_err(|e| self.error("reading", path, e))?
            .to_vec())
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let op = self.operator.clone();
        let owned = path.to_string();
        let end = offset + len as u64;
        let data = self
            .run(async move { op.read_with(&owned).range(offset..end).await })
            .map_err(|e| {
                // A range past the end reads as an error (or as too little
                // data); the object's size tells a short file from an outage.
                let op = self.operator.clone();
                let owned = path.to_string();
                match self.run(async move { op.stat(&owned).await }) {
                    Ok(meta) if meta.content_length() < end => Error::corrupt(path, format!("the file ends before byte {end}")),
                    _ => self.error("reading", path, e),
                }
            })?;
        if data.len() != len {
            return Err(Error::corrupt(path, format!("the file ends before byte {end}")));
        }
        Ok(data.to_vec())
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let op = self.operator.clone();
        let owned = path.to_string();
        let data = data.to_vec();
        self.run(async move {
            if data.len() > MULTIPART_PART {
                let mut writer = op
                    .writer_with(&owned)
                    .chunk(MULTIPART_PART)
                    .concurrent(MULTIPART_CONCURRENCY)
                    .await?;
                writer.write(data).await?;
                writer.close().await.map(|_| ())
            } else {
                op.write(&owned, data).await.map(|_| ())
            }
        })
        .map_err(|e| self.error("writing", path, e))
    }

    fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
        if !self.guarantees()?.conditional_create {
            // The documented fallback: look, then write. Two workstations
            // creating the same repository in the same second can both pass;
            // `init` says so when it creates one here.
            if self.exists(path)? {
                return Ok(false);
            }
            self.write(path, data)?;
            return Ok(true);
        }
        let op = self.operator.clone();
        let owned = path.to_string();
        let data = data.to_vec();
        match self.run(async move { op.write_with(&owned, data).if_not_exists(true).await }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => Ok(false),
            Err(e) => Err(self.error("writing", path, e)),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let op = self.operator.clone();
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let entries = match self.run(async move { op.list(&prefix).await }) {
            Ok(entries) => entries,
            Err(e) => return Err(self.error("listing", dir, e)),
        };
        let mut files: Vec<FileInfo> = entries
            .into_iter()
            .filter(|entry| entry.metadata().is_file())
            .map(|entry| {
                let meta = entry.metadata();
                FileInfo {
                    name: entry.name().to_string(),
                    size: meta.content_length(),
                    modified: meta.last_modified().map(std::time::SystemTime::from),
                    version: meta.etag().map(str::to_owned),
                }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    fn remove(&self, path: &str) -> Result<()> {
        let op = self.operator.clone();
        let owned = path.to_string();
        self.run(async move { op.delete(&owned).await })
            .map_err(|e| self.error("removing", path, e))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let op = self.operator.clone();
        let owned = path.to_string();
        self.run(async move { op.exists(&owned).await })
            .map_err(|e| self.error("looking for", path, e))
    }

    fn list_temporary(&self) -> Result<Vec<String>> {
        // Objects appear whole or not at all: no write leaves a part behind
        // (an interrupted multipart upload is invisible and expires by the
        // bucket's lifecycle rules).
        Ok(Vec::new())
    }

    fn guarantees(&self) -> Result<StorageGuarantees> {
        if let Some(known) = self.guarantees.get() {
            return Ok(*known);
        }
        let probed = self.probe()?;
        Ok(*self.guarantees.get_or_init(|| probed))
    }

    fn parallel_transfers(&self) -> usize {
        4
    }
}
