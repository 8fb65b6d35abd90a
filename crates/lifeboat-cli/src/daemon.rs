//! `lifeboat daemon`: the scheduler in the foreground.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use lifeboat_core::ops::scheduler::SchedulerLock;
use lifeboat_core::paths::Paths;

use crate::context::{runner, runtime, scheduler};
use crate::schedule::local;
use crate::GlobalArgs;

/// `lifeboat daemon`: the scheduler in the foreground until SIGTERM or Ctrl-C.
pub fn daemon(g: &GlobalArgs) -> Result<ExitCode> {
    let lock = SchedulerLock::acquire(&Paths::from_env()?.data_dir)?;
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let catalog = runner.catalog.clone();
        let count = catalog.schedules().await?.len();
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
        scheduler.shutdown().await;
        drop(lock);
        Ok(ExitCode::SUCCESS)
    })
}

/// How often the daemon looks for due jobs: slots are whole minutes.
const TICK_SECONDS: u64 = 15;
