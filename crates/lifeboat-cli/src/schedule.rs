//! `lifeboat schedule set|show|remove|run`: thin callers of
//! `lifeboat_core::schedule` (`os_schedule` writes it for systemd, launchd
//! and Task Scheduler).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Local, Utc};
use clap::{Args, Subcommand};
use lifeboat_core::catalog::Catalog;
use lifeboat_core::jobs::drill::{self};
use lifeboat_core::jobs::pitr::stream;
use lifeboat_core::ops::ScheduleChange;
use lifeboat_core::repo::retention::{parse_period, RetentionPolicy};
use lifeboat_core::schedule::{JobKind, Schedule};

use crate::commands::print_json;
use crate::context::{open_catalog, runner, runtime, scheduler};
use crate::credentials::backend;
use crate::os_schedule::{job_kind, print_unit, OsScheduler, UnitArgs};
use crate::GlobalArgs;
use lifeboat_core::repo::Repository;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Set (or change) what runs by itself for a saved connection.
    Set(Box<SetArgs>),
    /// Show schedules: next runs, last results, staleness.
    Show {
        /// One connection (all by default).
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connection's schedule (its snapshots stay).
    Remove { connection: String },
    /// Run a connection's scheduled job now: the backup (then its retention), with --drill its drill, with --base-backup its base backup.
    Run {
        connection: String,
        #[arg(long, conflicts_with = "base_backup")]
        drill: bool,
        /// Its base backup (then the retention of base backups and WAL).
        #[arg(long)]
        base_backup: bool,
    },
    /// Print a systemd service and timer that run the schedule, for admins who prefer the OS scheduler.
    Systemd(UnitArgs),
    /// Print a macOS launchd agent (a plist) that runs the schedule.
    Launchd(UnitArgs),
    /// Print a Windows Task Scheduler task (XML) that runs the schedule.
    TaskScheduler(UnitArgs),
}

#[derive(Args)]
pub struct SetArgs {
    connection: String,
    /// When to back up: hourly, daily, "daily 02:30", weekly, "weekly sun 03:00", or five cron fields.
    #[arg(long, value_name = "WHEN")]
    backup: Option<String>,
    /// Stop scheduled backups.
    #[arg(long, conflicts_with = "backup")]
    no_backup: bool,
    /// Retention after each scheduled backup: keep the N newest.
    #[arg(long, value_name = "N")]
    keep_last: Option<u32>,
    /// ...the newest of each of the last N days.
    #[arg(long, value_name = "N")]
    keep_daily: Option<u32>,
    /// ...of each of the last N ISO weeks.
    #[arg(long, value_name = "N")]
    keep_weekly: Option<u32>,
    /// ...of each of the last N months.
    #[arg(long, value_name = "N")]
    keep_monthly: Option<u32>,
    /// ...of each of the last N years.
    #[arg(long, value_name = "N")]
    keep_yearly: Option<u32>,
    /// Keep every snapshot within this period of the newest (30d, 48h, 1y6m; 0: rule unused).
    #[arg(long, value_name = "PERIOD", value_parser = period_or_off)]
    keep_within: Option<u32>,
    /// Remove nothing younger than this, whatever the other rules say (0: no minimum).
    #[arg(long, value_name = "PERIOD", value_parser = period_or_off)]
    min_age: Option<u32>,
    /// Checkpoints older than this follow the rules like any snapshot (0: kept until deleted).
    #[arg(long, value_name = "PERIOD", value_parser = period_or_off)]
    checkpoints_expire_after: Option<u32>,
    /// Alarm after this long without a successful backup (90m, 36h, 3d; default: twice the interval).
    #[arg(long, value_name = "DURATION")]
    stale_after: Option<String>,
    /// When to drill the latest snapshot (same forms as --backup).
    #[arg(long, value_name = "WHEN")]
    drill: Option<String>,
    /// Stop scheduled drills.
    #[arg(long, conflicts_with = "drill")]
    no_drill: bool,
    /// When to take a base backup of the connection's cluster, for
    /// point-in-time recovery (same forms as --backup); its drills then
    /// recover it on a scratch cluster here.
    #[arg(long, value_name = "WHEN")]
    base_backup: Option<String>,
    /// Stop scheduled base backups.
    #[arg(long, conflicts_with = "base_backup")]
    no_base_backup: bool,
    /// Keep the cluster's WAL streaming into the repository over a
    /// replication slot while the scheduler (daemon or app) runs.
    #[arg(long)]
    wal_stream: bool,
    /// Stop streaming WAL (the slot stays on the server: drop it there
    /// when no stream will use it again).
    #[arg(long, conflicts_with = "wal_stream")]
    no_wal_stream: bool,
    /// Where drills restore: a saved connection's name, postgres://user@host:port/,
    /// or `local` (a scratch cluster on this workstation).
    #[arg(long, value_name = "SERVER")]
    drill_server: Option<String>,
    /// SQL probes for drills: a JSON list of {"name", "sql", "expect"}.
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
    /// After each successful scheduled backup, copy it to this second
    /// repository (opened with the keychain's key, or LIFEBOAT_TO_PASSWORD).
    #[arg(long, value_name = "LOCATION")]
    copy_to: Option<String>,
    /// Stop the off-site copy.
    #[arg(long, conflicts_with = "copy_to")]
    no_copy: bool,
    /// A monitor's ping URL (Healthchecks, Uptime Kuma, Cronitor): URL/start
    /// before each scheduled backup, URL on success, URL/fail on failure.
    #[arg(long, value_name = "URL")]
    heartbeat: Option<String>,
    /// Stop the heartbeat.
    #[arg(long, conflicts_with = "heartbeat")]
    no_heartbeat: bool,
}

/// A retention period in hours, or `0` to turn the rule off.
fn period_or_off(text: &str) -> std::result::Result<u32, String> {
    match text.trim() {
        "0" => Ok(0),
        _ => parse_period(text),
    }
}

/// `90m`, `36h`, `3d`, `2w` (or plain seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration: use 90m, 36h, 3d or 2w"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("{text:?} is not a duration: use 90m, 36h, 3d or 2w"),
    };
    Ok(Duration::from_secs(n * seconds))
}

pub fn schedule(g: &GlobalArgs, command: &ScheduleCommand) -> Result<ExitCode> {
    match command {
        ScheduleCommand::Set(a) => set(g, a),
        ScheduleCommand::Show { connection, json } => show(connection.as_deref(), *json),
        ScheduleCommand::Remove { connection } => runtime()?.block_on(async {
            let catalog = open_catalog().await?;
            if !catalog.remove_schedule(connection).await? {
                bail!("{connection} has no schedule (see `lifeboat schedule show`)");
            }
            println!("removed the schedule of {connection}; its snapshots stay");
            Ok(ExitCode::SUCCESS)
        }),
        ScheduleCommand::Run {
            connection,
            drill,
            base_backup,
        } => run_now(g, connection, job_kind(*drill, *base_backup)),
        ScheduleCommand::Systemd(a) => print_unit(OsScheduler::Systemd, a, g.repo.as_deref()),
        ScheduleCommand::Launchd(a) => print_unit(OsScheduler::Launchd, a, g.repo.as_deref()),
        ScheduleCommand::TaskScheduler(a) => print_unit(OsScheduler::TaskScheduler, a, g.repo.as_deref()),
    }
}

fn set(g: &GlobalArgs, a: &SetArgs) -> Result<ExitCode> {
    // Its jobs go to the repository given (its id is in the plaintext config: no passphrase needed).
    let repository_id = match g.repo.is_some() {
        true => Some(Repository::read_config(&*backend(g)?.0)?.id),
        false => None,
    };
    let change = ScheduleChange {
        backup: if a.no_backup { Some(None) } else { a.backup.clone().map(Some) },
        drill: if a.no_drill { Some(None) } else { a.drill.clone().map(Some) },
        base_backup: if a.no_base_backup {
            Some(None)
        } else {
            a.base_backup.clone().map(Some)
        },
        wal_stream: match (a.wal_stream, a.no_wal_stream) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        keep_last: a.keep_last,
        keep_daily: a.keep_daily,
        keep_weekly: a.keep_weekly,
        keep_monthly: a.keep_monthly,
        keep_yearly: a.keep_yearly,
        keep_within_hours: a.keep_within,
        min_age_hours: a.min_age,
        checkpoint_expiry_hours: a.checkpoints_expire_after,
        stale_after: a.stale_after.as_deref().map(parse_duration).transpose()?.map(Some),
        drill_server: a.drill_server.clone().map(Some),
        probes: a.probe_file.as_deref().map(drill::read_probes).transpose()?,
        copy_to: if a.no_copy { Some(None) } else { a.copy_to.clone().map(Some) },
        heartbeat: if a.no_heartbeat {
            Some(None)
        } else {
            a.heartbeat.clone().map(Some)
        },
        repository_id,
    };
    runtime()?.block_on(async {
        let catalog = open_catalog().await?;
        let schedule = change.save(&catalog, &a.connection, Utc::now()).await?;
        print_schedule(&catalog, &schedule).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn describe_retention(policy: &RetentionPolicy) -> String {
    if policy.is_empty() {
        return "keep everything".into();
    }
    let mut parts: Vec<String> = [
        (policy.keep_last, "last"),
        (policy.keep_daily, "daily"),
        (policy.keep_weekly, "weekly"),
        (policy.keep_monthly, "monthly"),
        (policy.keep_yearly, "yearly"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{what} {n}"))
    .collect();
    if policy.keep_within_hours > 0 {
        parts.push(format!("everything within {}", hours_text(policy.keep_within_hours)));
    }
    let mut text = format!("keep {}", parts.join(", "));
    if policy.min_age_hours > 0 {
        text += &format!("; nothing younger than {} is removed", hours_text(policy.min_age_hours));
    }
    match policy.checkpoint_expiry_hours {
        0 => text + " (checkpoints and keep-forever snapshots are exempt)",
        hours => {
            text + &format!(
                " (checkpoints older than {} follow the rules; keep-forever snapshots are exempt)",
                hours_text(hours)
            )
        }
    }
}

/// Hours as the flags take them: `30d` when whole days, else `36h`.
fn hours_text(hours: u32) -> String {
    if hours.is_multiple_of(24) {
        format!("{}d", hours / 24)
    } else {
        format!("{hours}h")
    }
}

pub(crate) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

async fn print_schedule(catalog: &Catalog, s: &Schedule) -> Result<()> {
    println!("{}", s.connection);
    for job in [JobKind::Backup, JobKind::BaseBackup, JobKind::Drill] {
        let state = catalog.job_state(&s.connection, job).await?;
        let Some(cadence) = s.cadence(job) else {
            println!("  {:<11} not scheduled", job.as_str());
            continue;
        };
        let next = s.next_run(job, &state, &Local);
        println!(
            "  {:<11} {} ({}); next {}",
            job.as_str(),
            cadence.as_str(),
            cadence.describe(),
            next.map(local).unwrap_or_else(|| "never".into())
        );
        if let Some(finished) = state.finished_at {
            let outcome = match (&state.succeeded, &state.error) {
                (Some(true), _) => "succeeded".to_string(),
                (_, Some(error)) => format!("FAILED: {error}"),
                _ => "ended".to_string(),
            };
            println!("              last run {}: {outcome}", local(finished));
        }
        if let Some(since) = state.stale_since {
            println!("              STALE since {}: no recent successful backup", local(since));
        }
    }
    if s.wal_stream {
        println!(
            "  WAL stream  over slot {}, while the daemon or app runs",
            stream::default_slot(&s.connection)
        );
    }
    println!("  retention {}", describe_retention(&s.retention));
    if let Some(url) = &s.heartbeat {
        println!("  heartbeat: {url} (/start, success, /fail)");
    }
    if let Some(location) = &s.copy_to {
        println!("  copied off-site to {location} after each scheduled backup");
    }
    if let Some(server) = &s.drill_server {
        println!("  drills on {server}, {} probe(s)", s.probes.len());
    }
    Ok(())
}

fn show(connection: Option<&str>, json: bool) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let catalog = open_catalog().await?;
        let schedules: Vec<Schedule> = catalog
            .schedules()
            .await?
            .into_iter()
            .filter(|s| connection.is_none_or(|c| c == s.connection))
            .collect();
        if let (Some(name), true) = (connection, schedules.is_empty()) {
            bail!("{name} has no schedule: set one with `lifeboat schedule set {name} --backup daily`");
        }
        if json {
            let mut out = Vec::new();
            for s in &schedules {
                let backup = catalog.job_state(&s.connection, JobKind::Backup).await?;
                let drill = catalog.job_state(&s.connection, JobKind::Drill).await?;
                let base_backup = catalog.job_state(&s.connection, JobKind::BaseBackup).await?;
                out.push(serde_json::json!({
                    "schedule": s,
                    "next_backup": s.next_run(JobKind::Backup, &backup, &Local),
                    "backup_state": backup,
                    "next_base_backup": s.next_run(JobKind::BaseBackup, &base_backup, &Local),
                    "base_backup_state": base_backup,
                    "next_drill": s.next_run(JobKind::Drill, &drill, &Local),
                    "drill_state": drill,
                }));
            }
            print_json(&out)?;
        } else if schedules.is_empty() {
            println!("no schedules: set one with `lifeboat schedule set CONNECTION --backup daily`");
        } else {
            for s in &schedules {
                print_schedule(&catalog, s).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn run_now(g: &GlobalArgs, connection: &str, job: JobKind) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let schedule = runner
            .catalog
            .schedule(connection)
            .await?
            .with_context(|| format!("{connection} has no schedule: set one with `lifeboat schedule set {connection}`"))?;
        if job == JobKind::Drill && schedule.drill_server.is_none() && schedule.base_backup.is_none() {
            bail!("{connection} has no drill server: set one with `lifeboat schedule set {connection} --drill-server SERVER`");
        }
        scheduler(Arc::new(runner))?.run_now(&schedule, job).await?;
        eprintln!("the scheduled {} of {connection} succeeded", job.as_str());
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("3d").unwrap(), Duration::from_secs(3 * 86_400));
        assert!(parse_duration("soon").is_err());
    }
}
