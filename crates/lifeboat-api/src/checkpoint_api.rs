//! The checkpoint trigger API in the app: while the app runs, and when the
//! admin turns it on, it serves `POST /v1/checkpoints` on a loopback port
//! (the same API as `lifeboat daemon --listen`), with the tokens
//! `lifeboat token` manages. Off loopback (with TLS) is the daemon's job.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifeboat_core::tokens::TokenScope;
use lifeboat_core::trigger::{self, Bound, Listen, TriggerApi};
use secrecy::ExposeSecret;

use crate::dto::{ApiTokenRequest, CheckpointApiView, NewApiToken};
use crate::{ApiError, ApiResult, App};

/// The catalog setting: the loopback port, or none when off.
const PORT_SETTING: &str = "checkpoint_api_port";

/// Whether the API is served, and a wake-up when its setting changes.
#[derive(Default)]
pub(crate) struct CheckpointApiState {
    changed: tokio::sync::Notify,
    /// The port it serves on and its URL, or why it cannot.
    status: Mutex<Option<(u16, Result<String, String>)>>,
}

impl App {
    /// The API's setting, whether it serves, and the tokens.
    pub async fn checkpoint_api(&self) -> ApiResult<CheckpointApiView> {
        let port = self.catalog.setting::<u16>(PORT_SETTING).await?;
        let status = self.checkpoint_api.status.lock().unwrap().clone();
        let (url, error) = match status {
            Some((served, Ok(url))) if Some(served) == port => (Some(url), None),
            Some((served, Err(e))) if Some(served) == port => (None, Some(e)),
            _ => (None, None),
        };
        Ok(CheckpointApiView {
            port,
            url,
            error,
            tokens: self.catalog.tokens().await?,
        })
    }

    /// Serves the API on 127.0.0.1:`port`, or stops it (None); answers
    /// once it listens or could not.
    pub async fn set_checkpoint_api(&self, port: Option<u16>) -> ApiResult<CheckpointApiView> {
        if port == Some(0) {
            return Err(
                lifeboat_core::Error::InvalidInput("choose a port from 1 to 65535, for example 8555".into())
                    .in_field("port")
                    .into(),
            );
        }
        match port {
            Some(port) => self.catalog.set_setting(PORT_SETTING, &port).await?,
            None => self.catalog.set_setting(PORT_SETTING, &None::<u16>).await?,
        }
        self.checkpoint_api.changed.notify_one();
        // The server task applies it at once; wait for its word.
        for _ in 0..50 {
            let applied = self.checkpoint_api.status.lock().unwrap().as_ref().map(|(p, _)| *p);
            if applied == port {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.checkpoint_api().await
    }

    /// Makes a checkpoint token; its secret is in the answer only.
    pub async fn add_api_token(&self, request: ApiTokenRequest) -> ApiResult<NewApiToken> {
        let database = request.database.as_deref().map(str::trim).filter(|d| !d.is_empty());
        let (made, secret) = trigger::issue_token(&self.catalog, request.name.trim(), TokenScope::Checkpoint, database).await?;
        Ok(NewApiToken {
            name: made.name,
            token: secret.expose_secret().to_owned(),
            api: self.checkpoint_api().await?,
        })
    }

    pub async fn revoke_api_token(&self, name: String) -> ApiResult<CheckpointApiView> {
        if !self.catalog.revoke_token(&name).await? {
            return Err(ApiError::invalid_input(format!("no token is named `{name}`")));
        }
        self.checkpoint_api().await
    }

    /// Serves the API as its setting says, for as long as the app runs.
    pub async fn run_checkpoint_api(self: Arc<Self>) {
        let state = &self.checkpoint_api;
        loop {
            let port = match self.catalog.setting::<u16>(PORT_SETTING).await {
                Ok(port) => port,
                Err(e) => {
                    tracing::warn!("the checkpoint API setting cannot be read: {e}");
                    None
                }
            };
            let Some(port) = port else {
                *state.status.lock().unwrap() = None;
                state.changed.notified().await;
                continue;
            };
            let listen = Listen {
                address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                tls: None,
            };
            match Bound::bind(&listen).await {
                Ok(bound) => {
                    tracing::info!("checkpoint API on {}", bound.url());
                    *state.status.lock().unwrap() = Some((port, Ok(bound.url())));
                    let app = self.clone();
                    let runner = Box::new(move || {
                        app.runner()
                            .map(Arc::new)
                            .map_err(|e| lifeboat_core::Error::InvalidInput(format!("{}: open it in the app", e.message)))
                    });
                    let api = TriggerApi::new(self.catalog.clone(), self.claims.clone(), runner);
                    bound.serve(api, state.changed.notified()).await;
                }
                Err(e) => {
                    tracing::warn!("the checkpoint API cannot be served: {e}");
                    *state.status.lock().unwrap() = Some((port, Err(e.to_string())));
                    state.changed.notified().await;
                }
            }
        }
    }
}
