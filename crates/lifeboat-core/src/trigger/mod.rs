//! The checkpoint trigger API: a deploy pipeline (or a person with a
//! token) asks this workstation for a checkpoint before a risky change.
//!
//! - `POST /v1/checkpoints` with `Authorization: Bearer TOKEN` and
//!   `{"database": NAME, "label": WHAT_FOR}` starts a checkpoint of the
//!   saved connection NAME and answers `202 {"job": ID, ...}`.
//! - `GET /v1/jobs/{ID}` answers the job's state and, once done, its
//!   snapshot id and facts (or why it failed).
//!
//! Tokens (see [`crate::tokens`]) allow checkpoints only, optionally of one
//! database; nothing here restores, deletes or reads data. The token's name
//! is recorded in the snapshot's facts and in the event log. Errors are JSON
//! `{"error": CODE, "message": WHAT_HAPPENED_AND_WHAT_TO_DO}`. Failed
//! authentications are counted per client address and requests per token
//! (429 past the limit). It listens on loopback unless told otherwise, and
//! then only with TLS.

mod jobs;
mod limits;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use secrecy::SecretString;
use serde::Deserialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::events::SnapshotFacts;
use crate::ops::scheduler::{Claim, Claims};
use crate::ops::{blocking, Runner};
use crate::progress::NoProgress;
use crate::repo::manifest::{self, SnapshotKind};
use crate::tokens::{self, ApiToken};
use jobs::JobTable;
pub use jobs::{ApiJob, JobState};
use limits::RateLimits;

/// Failed authentications a client address may make per minute.
const FAILURES_PER_MINUTE: u32 = 10;
/// Requests one token may make per minute (a pipeline polling its job).
const REQUESTS_PER_MINUTE: u32 = 120;
/// Checkpoints one token may start per minute.
const CHECKPOINTS_PER_MINUTE: u32 = 6;
/// A request body is two short strings.
const MAX_BODY: usize = 4 * 1024;
const MAX_LABEL: usize = 200;
/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;
/// A client that sends no headers (or no TLS handshake) within this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Gives the runner of the open repository, or why there is none (the
/// app's repository is locked); asked at each checkpoint.
pub type RunnerSource = Box<dyn Fn() -> Result<Arc<Runner>> + Send + Sync>;

/// The API's state: tokens (in the catalog), jobs, counters.
pub struct TriggerApi {
    runner: RunnerSource,
    catalog: Catalog,
    claims: Claims,
    jobs: Arc<Mutex<JobTable>>,
    limits: Mutex<RateLimits>,
}

impl TriggerApi {
    /// `claims` are the workstation's (shared with the app, the timers and
    /// the CLI), so a checkpoint never runs beside another job of its database.
    pub fn new(catalog: Catalog, claims: Claims, runner: RunnerSource) -> Arc<TriggerApi> {
        Arc::new(TriggerApi {
            runner,
            catalog,
            claims,
            jobs: Arc::default(),
            limits: Mutex::default(),
        })
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/checkpoints", post(start_checkpoint))
            .route("/v1/jobs/{job}", get(job_state))
            .fallback(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no such endpoint: the API has POST /v1/checkpoints and GET /v1/jobs/{job}",
                )
            })
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    fn limits(&self) -> MutexGuard<'_, RateLimits> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn jobs(&self) -> MutexGuard<'_, JobTable> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token the request carries, if it is known and its holder is
    /// within the limits. A client that fails too often is refused before
    /// its token is even looked at.
    async fn authenticate(&self, client: IpAddr, headers: &HeaderMap) -> std::result::Result<ApiToken, ApiError> {
        let failures = format!("failures of {client}");
        self.limits()
            .check(&failures, FAILURES_PER_MINUTE, Instant::now())
            .map_err(ApiError::too_many)?;
        let refuse = |message: &str| {
            // Counting cannot fail here: `check` above found room.
            let _ = self.limits().count(&failures, FAILURES_PER_MINUTE, Instant::now());
            tracing::warn!("checkpoint API: refused a request from {client}: {message}");
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        };
        let Some(presented) = bearer(headers) else {
            return Err(refuse(
                "no token: send `Authorization: Bearer TOKEN` (the workstation's admin makes one with \
                 `lifeboat token add NAME --can checkpoint`)",
            ));
        };
        const UNKNOWN: &str = "the token is unknown or was revoked: ask the workstation's admin for a new one \
                               (`lifeboat token add NAME --can checkpoint`)";
        let Some(hash) = tokens::hash_presented(&presented) else {
            return Err(refuse(UNKNOWN));
        };
        let Some(token) = self.catalog.token_by_hash(&hash).await.map_err(ApiError::internal)? else {
            return Err(refuse(UNKNOWN));
        };
        self.limits()
            .count(&format!("requests of {}", token.name), REQUESTS_PER_MINUTE, Instant::now())
            .map_err(ApiError::too_many)?;
        if let Err(e) = self.catalog.mark_token_used(&token.name, Utc::now()).await {
            tracing::warn!("could not record the use of token {}: {e}", token.name);
        }
        Ok(token)
    }

    /// Starts the checkpoint in the background; the job as first reported.
    async fn start(self: &Arc<Self>, token: &ApiToken, request: CheckpointRequest) -> std::result::Result<ApiJob, ApiError> {
        let CheckpointRequest { database, label } = request;
        let label = label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_label",
                format!(
                    "the label says what the checkpoint is for, on one line of at most {MAX_LABEL} characters, \
                     as in \"before deploy 2024.3\""
                ),
            ));
        }
        if !token.allows_checkpoint_of(&database) {
            tracing::warn!(
                "checkpoint API: token {} asked for a checkpoint of {database}, which it may not take",
                token.name
            );
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the token `{}` may only take checkpoints of `{}`: ask the admin for a token for `{database}`",
                    token.name,
                    token.database.as_deref().unwrap_or_default()
                ),
            ));
        }
        if self.catalog.connection(&database).await.map_err(ApiError::internal)?.is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_database",
                format!(
                    "no saved connection is named `{database}` on this workstation: use a name \
                     `lifeboat connection list` shows"
                ),
            ));
        }
        self.limits()
            .count(&format!("checkpoints of {}", token.name), CHECKPOINTS_PER_MINUTE, Instant::now())
            .map_err(ApiError::too_many)?;
        if let Some(running) = self.jobs().running_of(&database) {
            return Err(ApiError::busy(format!(
                "a checkpoint of `{database}` is already running (job {}): wait for it with GET /v1/jobs/{}",
                running.job, running.job
            )));
        }
        let runner = (self.runner)().map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("no checkpoint can be taken now: {e}"),
            )
        })?;
        let Some(claim) = self.claims.claim(&database) else {
            return Err(ApiError::busy(format!(
                "a backup or drill of `{database}` is already running on this workstation (the app, a schedule \
                 or another `lifeboat`): try again when it has finished"
            )));
        };
        let job = ApiJob {
            job: data_encoding::HEXLOWER.encode(&crate::crypto::random_bytes::<8>()),
            state: JobState::Running,
            database: database.clone(),
            label: label.clone(),
            requested_by: token.name.clone(),
            started: Utc::now(),
            finished: None,
            snapshot: None,
            facts: None,
            report: None,
            error: None,
        };
        self.jobs().insert(job.clone());
        self.remember(&job).await;
        let id = job.job.clone();
        let requested_by = token.name.clone();
        let finish = async move {
            let outcome = runner
                .backup_saved(
                    &database,
                    SnapshotKind::Checkpoint,
                    Some(label),
                    Some(requested_by),
                    Arc::new(NoProgress),
                )
                .await;
            let facts = match &outcome {
                Ok(saved) => {
                    let (repo, id) = (runner.repo.clone(), saved.snapshot_id().to_owned());
                    blocking(move || manifest::load(&repo, &id))
                        .await
                        .ok()
                        .map(|s| SnapshotFacts::of(&s))
                }
                Err(_) => None,
            };
            (outcome, facts)
        };
        self.spawn_job(id, claim, finish);
        Ok(job)
    }

    /// Runs `work`, then records how the job ended; `claim` is held until
    /// that record is written, so a free claim means the record is final.
    fn spawn_job(
        self: &Arc<Self>,
        id: String,
        claim: Claim,
        work: impl Future<Output = (Result<crate::ops::SavedBackup>, Option<SnapshotFacts>)> + Send + 'static,
    ) {
        let api = self.clone();
        tokio::spawn(async move {
            let (outcome, facts) = work.await;
            let finished = {
                let mut jobs = api.jobs();
                let Some(job) = jobs.get_mut(&id) else { return };
                job.finished = Some(Utc::now());
                match outcome {
                    Ok(saved) => {
                        job.snapshot = Some(saved.snapshot_id().to_owned());
                        job.facts = facts;
                        job.error = saved.failures();
                        job.state = if job.error.is_some() {
                            JobState::Failed
                        } else {
                            JobState::Succeeded
                        };
                        job.report = serde_json::to_value(&saved).ok();
                    }
                    Err(e) => {
                        job.state = JobState::Failed;
                        job.error = Some(e.to_string());
                    }
                }
                job.clone()
            };
            api.remember(&finished).await;
            drop(claim);
        });
    }

    /// Records the job in the catalog, where it outlives this process.
    async fn remember(&self, job: &ApiJob) {
        let body = serde_json::to_string(job).expect("a job is strings, times and JSON values");
        if let Err(e) = self.catalog.record_api_job(&job.job, job.started, &body).await {
            tracing::warn!("could not record checkpoint job {} in the catalog: {e}", job.job);
        }
    }

    /// Job `id` as this process knows it, else as the catalog recorded it.
    /// A job recorded as running whose database's claim is free stopped
    /// with the process that ran it (which records the end before it lets
    /// the claim go); that is recorded unless the record changed meanwhile.
    async fn job(&self, id: &str) -> Result<Option<ApiJob>> {
        if let Some(job) = self.jobs().get(id) {
            return Ok(Some(job.clone()));
        }
        let Some(body) = self.catalog.api_job(id).await? else {
            return Ok(None);
        };
        let parse = |body: &str| -> Result<ApiJob> {
            serde_json::from_str(body).map_err(|e| Error::corrupt("the catalog", format!("checkpoint job {id}: {e}")))
        };
        let mut job = parse(&body)?;
        if job.state != JobState::Running || self.claims.is_busy(&job.database) {
            return Ok(Some(job));
        }
        job.state = JobState::Failed;
        job.error = Some(
            "the daemon or app running this checkpoint stopped before it finished: no snapshot was made; \
             start the checkpoint again"
                .to_owned(),
        );
        let stopped = serde_json::to_string(&job).expect("a job is strings, times and JSON values");
        if self.catalog.replace_api_job(id, &body, &stopped).await? {
            return Ok(Some(job));
        }
        // It ended meanwhile: its own record says how.
        self.catalog.api_job(id).await?.as_deref().map(parse).transpose()
    }
}

/// Makes a token for `name` allowed `scope` (of `database` only, if
/// given) and records its hash; the token itself is returned only here.
pub async fn issue_token(
    catalog: &Catalog,
    name: &str,
    scope: tokens::TokenScope,
    database: Option<&str>,
) -> Result<(ApiToken, SecretString)> {
    tokens::validate_name(name).map_err(|e| e.in_field("name"))?;
    if let Some(database) = database {
        if catalog.connection(database).await?.is_none() {
            return Err(Error::InvalidInput(format!(
                "no saved connection is named `{database}`: a token is for a saved connection's checkpoints \
                 (`lifeboat connection list` shows them)"
            ))
            .in_field("database"));
        }
    }
    let made = tokens::generate();
    let token = ApiToken {
        name: name.to_owned(),
        scope,
        database: database.map(str::to_owned),
        hint: made.hint,
        created_at: Utc::now(),
        last_used: None,
        hash: made.hash,
    };
    catalog.add_token(&token).await.map_err(|e| e.in_field("name"))?;
    Ok((token, made.token))
}

/// `Authorization: Bearer TOKEN`, as a secret.
fn bearer(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned().into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointRequest {
    /// The saved connection's name.
    database: String,
    /// What the checkpoint is for.
    label: String,
}

/// The client's address, set on each connection's requests.
#[derive(Clone, Copy)]
struct Client(SocketAddr);

async fn start_checkpoint(
    State(api): State<Arc<TriggerApi>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    body: std::result::Result<Json<CheckpointRequest>, JsonRejection>,
) -> std::result::Result<Response, ApiError> {
    let token = api.authenticate(client.ip(), &headers).await?;
    let Json(request) = body.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "bad_request",
            format!(
                "{}: send `Content-Type: application/json` and {{\"database\": \"NAME\", \"label\": \"what it is for\"}} \
                 (at most {MAX_BODY} bytes)",
                rejection.body_text()
            ),
        )
    })?;
    let job = api.start(&token, request).await?;
    tracing::info!("checkpoint API: token {} started job {} ({})", token.name, job.job, job.database);
    let location = HeaderValue::from_str(&format!("/v1/jobs/{}", job.job)).expect("a hex id is a header value");
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

async fn job_state(
    State(api): State<Arc<TriggerApi>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> std::result::Result<Json<ApiJob>, ApiError> {
    let token = api.authenticate(client.ip(), &headers).await?;
    // A token sees only the jobs it started.
    match api.job(&id).await.map_err(ApiError::internal)? {
        Some(job) if job.requested_by == token.name => Ok(Json(job)),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_job",
            format!(
                "no job `{id}` was started with this token on this workstation: use the id a POST \
                 /v1/checkpoints answered"
            ),
        )),
    }
}

/// A refusal, as JSON that says what to do.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn too_many(wait: Duration) -> ApiError {
        ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests: try again in {} s", wait.as_secs().max(1)),
            )
        }
    }

    fn busy(message: String) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "busy", message)
    }

    fn internal(error: Error) -> ApiError {
        tracing::error!("checkpoint API: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the workstation could not answer: {error}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.code, "message": self.message }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        response
    }
}

/// Where the API listens, and the certificate it needs off loopback.
#[derive(Clone, Debug)]
pub struct Listen {
    pub address: SocketAddr,
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its PEM private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Listen {
    /// The loud warning for an address other machines can reach; an error
    /// when it is one and no certificate was given, since the tokens would
    /// then cross the network in clear text.
    pub fn exposure_warning(&self) -> Result<Option<String>> {
        if self.address.ip().is_loopback() {
            return Ok(None);
        }
        if self.tls.is_none() {
            return Err(Error::InvalidInput(format!(
                "{} can be reached from other machines, and tokens must not cross the network in clear text: \
                 give a certificate and its key (--tls-cert FILE --tls-key FILE), or listen on 127.0.0.1",
                self.address
            )));
        }
        Ok(Some(format!(
            "WARNING: the checkpoint API listens on {}, reachable from other machines. Anyone holding a token \
             can start checkpoints from there: keep tokens secret, revoke the ones no longer needed, and limit \
             who reaches the port with a firewall.",
            self.address
        )))
    }
}

/// A bound listener, ready to serve.
pub struct Bound {
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Bound {
    /// Binds `listen` (see [`Listen::exposure_warning`] for what is refused).
    pub async fn bind(listen: &Listen) -> Result<Bound> {
        listen.exposure_warning()?;
        let tls = listen.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind(listen.address).await.map_err(|e| {
            Error::InvalidInput(format!(
                "cannot listen on {}: {e} (is another program using the port?)",
                listen.address
            ))
        })?;
        Ok(Bound { listener, tls })
    }

    /// "http://127.0.0.1:8555" or "https://…".
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match self.listener.local_addr() {
            Ok(address) => format!("{scheme}://{address}"),
            Err(_) => format!("{scheme}://?"),
        }
    }

    /// Serves `api` until `shutdown` completes.
    pub async fn serve(self, api: Arc<TriggerApi>, shutdown: impl Future<Output = ()>) {
        let router = api.router();
        let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut shutdown => return,
            };
            let (stream, client) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!("checkpoint API: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let Ok(permit) = connections.clone().acquire_owned().await else {
                return;
            };
            let service = TowerToHyperService::new(router.clone().layer(Extension(Client(client))));
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
                // A connection's errors (a client that went away) concern only it.
                let _ = match tls {
                    None => http.serve_connection(TokioIo::new(stream), service).await,
                    Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => http.serve_connection(TokioIo::new(stream), service).await,
                        _ => return,
                    },
                };
            });
        }
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let unusable = |what: &str, path: &PathBuf, e: &dyn std::fmt::Display| {
        Error::InvalidInput(format!("the TLS {what} {} cannot be used: {e} (give a PEM file)", path.display()))
    };
    let certificates = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|each| each.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| unusable("certificate", &files.certificate, &e))?;
    if certificates.is_empty() {
        return Err(unusable("certificate", &files.certificate, &"it holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| unusable("key", &files.key, &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certificates, key))
        .map_err(|e| unusable("certificate and key", &files.certificate, &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_listens_without_tls_and_elsewhere_is_warned_about() {
        let listen = |address: &str, tls: bool| Listen {
            address: address.parse().unwrap(),
            tls: tls.then(|| TlsFiles {
                certificate: "c.pem".into(),
                key: "k.pem".into(),
            }),
        };
        assert_eq!(listen("127.0.0.1:8555", false).exposure_warning().unwrap(), None);
        assert_eq!(listen("[::1]:8555", false).exposure_warning().unwrap(), None);
        let refused = listen("0.0.0.0:8555", false).exposure_warning().unwrap_err().to_string();
        assert!(refused.contains("--tls-cert FILE --tls-key FILE"), "{refused}");
        let warning = listen("0.0.0.0:8555", true).exposure_warning().unwrap().unwrap();
        assert!(warning.starts_with("WARNING"), "{warning}");
    }

    #[test]
    fn the_bearer_token_is_read_whatever_the_scheme_case() {
        use secrecy::ExposeSecret;
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer lbt_abc"));
        assert_eq!(bearer(&headers).unwrap().expose_secret(), "lbt_abc");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcg=="));
        assert!(bearer(&headers).is_none());
    }
}
