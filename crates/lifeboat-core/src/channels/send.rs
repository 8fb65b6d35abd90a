//! Sending a message to a channel: an HTTP POST or an SMTP transaction,
//! tried again after a pause when the failure may pass (a timeout, a
//! refused connection, a 5xx or 429, a transient SMTP reply), at once given
//! up when it will not (a 4xx, a rejected password or address).

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::message::{webhook_request, Message};
use super::{Channel, Destination, SmtpSecurity};
use crate::error::{Error, Result};

const ATTEMPTS: u32 = 3;
/// The pause before each retry.
const PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];
const TIMEOUT: Duration = Duration::from_secs(15);
/// The most one attempt may take, whatever a server does (lettre's timeout
/// does not cover every step: a server that stalls in the TLS handshake).
const ATTEMPT_LIMIT: Duration = Duration::from_secs(45);

/// How a delivery went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Delivery {
    pub attempts: u32,
    /// Why the last attempt failed; `None` once delivered.
    pub error: Option<String>,
}

impl Delivery {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// One attempt's failure, and whether trying again may help.
struct Failure {
    why: String,
    transient: bool,
}

/// Checks an address as an e-mail header takes it (`a@b`, `Name <a@b>`).
pub(super) fn check_mailbox(text: &str) -> Result<Mailbox> {
    text.parse::<Mailbox>()
        .map_err(|e| Error::InvalidInput(format!("`{text}` is not an e-mail address: {e}")))
}

/// Sends `message` through `channel`, trying up to three times; never
/// fails: the outcome says what happened. `password` is the SMTP user's.
pub async fn send(channel: &Channel, password: Option<&SecretString>, message: &Message) -> Delivery {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = async {
            match &channel.destination {
                Destination::Webhook { url, format } => match webhook_request(url, *format, message) {
                    Ok(request) => post(request.url, &request.body).await,
                    Err(e) => Err(Failure {
                        why: e.to_string(),
                        transient: false,
                    }),
                },
                Destination::Email { .. } => mail(channel, password, message).await,
            }
        };
        let outcome = tokio::time::timeout(ATTEMPT_LIMIT, attempt).await.unwrap_or_else(|_| {
            Err(Failure {
                why: format!("no answer within {} s", ATTEMPT_LIMIT.as_secs()),
                transient: true,
            })
        });
        match outcome {
            Ok(()) => return Delivery { attempts, error: None },
            Err(failure) if failure.transient && attempts < ATTEMPTS => {
                tokio::time::sleep(PAUSES[attempts as usize - 1]).await;
            }
            Err(failure) => {
                return Delivery {
                    attempts,
                    error: Some(failure.why),
                }
            }
        }
    }
}

async fn post(url: reqwest::Url, body: &serde_json::Value) -> std::result::Result<(), Failure> {
    crate::backend::install_tls_provider();
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(|e| Failure {
        why: format!("building the HTTP client: {e}"),
        transient: false,
    })?;
    let body = serde_json::to_vec(body).map_err(|e| Failure {
        why: format!("encoding the message: {e}"),
        transient: false,
    })?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, concat!("Lifeboat/", env!("CARGO_PKG_VERSION")))
        .body(body)
        .send()
        .await
        .map_err(|e| Failure {
            // Without the URL: a chat webhook's URL is its secret.
            why: e.without_url().to_string(),
            transient: true,
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(Failure {
        why: format!(
            "the service answered HTTP {status}{}",
            if status.is_client_error() {
                " (check the URL and the format)"
            } else {
                ""
            }
        ),
        transient: status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429,
    })
}

async fn mail(channel: &Channel, password: Option<&SecretString>, message: &Message) -> std::result::Result<(), Failure> {
    let permanent = |why: String| Failure { why, transient: false };
    let Destination::Email { server, from, to } = &channel.destination else {
        return Err(permanent("not an e-mail channel".into()));
    };
    let mut mail = lettre::Message::builder()
        .from(check_mailbox(from).map_err(|e| permanent(e.to_string()))?)
        .subject(format!("[Lifeboat] {}", message.title))
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        mail = mail.to(check_mailbox(address).map_err(|e| permanent(e.to_string()))?);
    }
    let mail = mail
        .body(message.text.clone())
        .map_err(|e| permanent(format!("building the e-mail: {e}")))?;

    crate::backend::install_tls_provider();
    let parameters = TlsParameters::builder(server.host.clone())
        .build_rustls()
        .map_err(|e| permanent(format!("setting up TLS: {e}")))?;
    let tls = match server.security {
        SmtpSecurity::Tls => Tls::Wrapper(parameters),
        SmtpSecurity::StartTls => Tls::Required(parameters),
        SmtpSecurity::LocalStartTlsIfOffered => Tls::Opportunistic(parameters),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        .port(server.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if let Some(user) = &server.user {
        let password = password.ok_or_else(|| {
            permanent(format!(
                "no password for {user} at {}: save it with `lifeboat notify add {} ... --replace` or set LIFEBOAT_SMTP_PASSWORD",
                server.host, channel.name
            ))
        })?;
        transport = transport.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
    }
    transport.build().send(mail).await.map(|_| ()).map_err(|e| Failure {
        transient: !e.is_permanent(),
        why: format!("the SMTP server {}:{}: {e}", server.host, server.port),
    })
}
