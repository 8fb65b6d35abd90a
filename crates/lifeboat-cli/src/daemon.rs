//! `lifeboat daemon`: the scheduler in the foreground, and with `--listen`
//! the checkpoint trigger API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use lifeboat_core::ops::scheduler::{Claims, SchedulerLock};
use lifeboat_core::paths::Paths;
use lifeboat_core::progress::CancelFlag;
use lifeboat_core::trigger::{Bound, Listen, TlsFiles, TriggerApi};

use crate::context::{runner, runtime, scheduler};
use crate::schedule::local;
use crate::GlobalArgs;

#[derive(Args)]
pub struct DaemonArgs {
    /// Also serve the checkpoint trigger API here (POST /v1/checkpoints,
    /// GET /v1/jobs/ID; tokens from `lifeboat token add`). An address other
    /// machines can reach needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDRESS:PORT")]
    listen: Option<SocketAddr>,
    /// The API's TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["listen", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// `lifeboat daemon`: the scheduler (and the API) in the foreground until
/// SIGTERM or Ctrl-C.
pub fn daemon(g: &GlobalArgs, a: &DaemonArgs) -> Result<ExitCode> {
    let paths = Paths::from_env()?;
    let lock = SchedulerLock::acquire(&paths.data_dir)?;
    runtime()?.block_on(async {
        let runner = Arc::new(runner(g).await?);
        let catalog = runner.catalog.clone();
        let count = catalog.schedules().await?.len();
        let api = match a.listen {
            Some(address) => {
                let listen = Listen {
                    address,
                    tls: a
                        .tls_cert
                        .clone()
                        .zip(a.tls_key.clone())
                        .map(|(certificate, key)| TlsFiles { certificate, key }),
                };
                if let Some(warning) = listen.exposure_warning()? {
                    eprintln!("{warning}");
                }
                let bound = Bound::bind(&listen).await?;
                eprintln!("lifeboat daemon: checkpoint API on {}", bound.url());
                let shared = runner.clone();
                let api = TriggerApi::new(
                    catalog.clone(),
                    Claims::in_folder(paths.claims_dir()),
                    Box::new(move || Ok(shared.clone())),
                );
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let serving = tokio::spawn(bound.serve(api, async {
                    let _ = stopped.await;
                }));
                Some((stop, serving))
            }
            None => None,
        };
        // Schedules that stream WAL keep a stream running while the daemon runs.
        let streams_stop = CancelFlag::default();
        let streams = tokio::spawn(runner.clone().supervise_wal_streams(
            Claims::in_folder(paths.claims_dir()),
            paths.wal_spool_dir(),
            streams_stop.clone(),
        ));
        let scheduler = scheduler(runner)?;
        eprintln!("lifeboat daemon: {count} schedule(s); stop with SIGTERM or Ctrl-C");
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            match scheduler.tick().await {
                Ok(started) => {
                    for s in started {
                        eprintln!("{} started the scheduled {} of {}", local(Utc::now()), s.job.as_str(), s.connection);
                    }
                }
                Err(e) => eprintln!("warning: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(TICK_SECONDS)) => {}
                _ = terminate.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        eprintln!("lifeboat daemon: stopping; a running job is cancelled and leaves no partial snapshot");
        if let Some((stop, serving)) = api {
            let _ = stop.send(());
            let _ = serving.await;
        }
        streams_stop.cancel();
        let _ = streams.await;
        scheduler.shutdown().await;
        drop(lock);
        Ok(ExitCode::SUCCESS)
    })
}

/// How often the daemon looks for due jobs: slots are whole minutes.
const TICK_SECONDS: u64 = 15;
