//! `lifeboat schedule ...`, `lifeboat daemon`, `lifeboat drill` and
//! `lifeboat events`: thin callers of `lifeboat_core::schedule`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Local, Utc};
use clap::{Args, Subcommand};
use lifeboat_core::catalog::Catalog;
use lifeboat_core::events::{Event, EventLog};
use lifeboat_core::jobs::drill::{self, DrillReport};
use lifeboat_core::ops::Runner;
use lifeboat_core::paths::Paths;
use lifeboat_core::repo::manifest;
use lifeboat_core::repo::retention::RetentionPolicy;
use lifeboat_core::schedule::change::ScheduleChange;
use lifeboat_core::schedule::scheduler::{Claims, Scheduler, SystemClock};
use lifeboat_core::schedule::{JobKind, Schedule, SchedulerLock};

use crate::commands::print_json;
use crate::context::{claim, open_catalog, runner, runtime};
use crate::credentials::backend;
use crate::progress::Bars;
use crate::GlobalArgs;
use lifeboat_core::repo::Repository;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Set (or change) what runs by itself for a saved connection.
    Set(SetArgs),
    /// Show schedules: next runs, last results, staleness.
    Show {
        /// One connection (all by default).
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connection's schedule (its snapshots stay).
    Remove { connection: String },
    /// Run a connection's scheduled job now: the backup (then its retention), or with --drill its drill.
    Run {
        connection: String,
        #[arg(long)]
        drill: bool,
    },
    /// Print a systemd service and timer that run the schedule, for admins who prefer the OS scheduler.
    Systemd {
        connection: String,
        #[arg(long)]
        drill: bool,
    },
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
    /// Alarm after this long without a successful backup (90m, 36h, 3d; default: twice the interval).
    #[arg(long, value_name = "DURATION")]
    stale_after: Option<String>,
    /// When to drill the latest snapshot (same forms as --backup).
    #[arg(long, value_name = "WHEN")]
    drill: Option<String>,
    /// Stop scheduled drills.
    #[arg(long, conflicts_with = "drill")]
    no_drill: bool,
    /// Where drills restore: a saved connection's name or postgres://user@host:port/.
    #[arg(long, value_name = "SERVER")]
    drill_server: Option<String>,
    /// SQL probes for drills: a JSON list of {"name", "sql", "expect"}.
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
}

/// `90m`, `36h`, `3d`, `2w` (or plain seconds).
fn parse_duration(text: &str) -> Result<Duration> {
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
        ScheduleCommand::Run { connection, drill } => run_now(g, connection, *drill),
        ScheduleCommand::Systemd { connection, drill } => systemd(connection, *drill),
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
        keep_last: a.keep_last,
        keep_daily: a.keep_daily,
        keep_weekly: a.keep_weekly,
        keep_monthly: a.keep_monthly,
        stale_after: a.stale_after.as_deref().map(parse_duration).transpose()?.map(Some),
        drill_server: a.drill_server.clone().map(Some),
        probes: a.probe_file.as_deref().map(drill::read_probes).transpose()?,
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
    let parts: Vec<String> = [
        (policy.keep_last, "last"),
        (policy.keep_daily, "daily"),
        (policy.keep_weekly, "weekly"),
        (policy.keep_monthly, "monthly"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{what} {n}"))
    .collect();
    format!("keep {} (checkpoints and keep-forever snapshots are exempt)", parts.join(", "))
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

async fn print_schedule(catalog: &Catalog, s: &Schedule) -> Result<()> {
    println!("{}", s.connection);
    for job in [JobKind::Backup, JobKind::Drill] {
        let state = catalog.job_state(&s.connection, job).await?;
        let Some(cadence) = s.cadence(job) else {
            println!("  {:<7} not scheduled", job.as_str());
            continue;
        };
        let next = s.next_run(job, &state, &Local);
        println!(
            "  {:<7} {} ({}); next {}",
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
            println!("          last run {}: {outcome}", local(finished));
        }
        if let Some(since) = state.stale_since {
            println!("          STALE since {}: no recent successful backup", local(since));
        }
    }
    println!("  retention {}", describe_retention(&s.retention));
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
                out.push(serde_json::json!({
                    "schedule": s,
                    "next_backup": s.next_run(JobKind::Backup, &backup, &Local),
                    "backup_state": backup,
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

fn scheduler(runner: Runner) -> Result<Scheduler<Runner, SystemClock, Local>> {
    let catalog = runner.catalog.clone();
    let claims = Claims::in_folder(Paths::from_env()?.claims_dir());
    Ok(Scheduler::new(catalog, Arc::new(runner), Arc::new(SystemClock), Local, claims))
}

fn run_now(g: &GlobalArgs, connection: &str, drill: bool) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let schedule = runner
            .catalog
            .schedule(connection)
            .await?
            .with_context(|| format!("{connection} has no schedule: set one with `lifeboat schedule set {connection}`"))?;
        let job = if drill { JobKind::Drill } else { JobKind::Backup };
        if drill && schedule.drill_server.is_none() {
            bail!("{connection} has no drill server: set one with `lifeboat schedule set {connection} --drill-server SERVER`");
        }
        scheduler(runner)?.run_now(&schedule, job).await?;
        eprintln!("the scheduled {} of {connection} succeeded", job.as_str());
        Ok(ExitCode::SUCCESS)
    })
}

/// `OnCalendar=` for a five-field cron expression, or why it has none.
fn on_calendar(cron: &str) -> Result<String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        bail!("{cron:?} is not five cron fields");
    };
    if *dom != "*" && *dow != "*" {
        // cron runs when either day field matches; systemd when both do.
        bail!("{cron:?} restricts both the day of the month and the day of the week: write the timer's OnCalendar= by hand");
    }
    // `first` is where `*/N` starts: minute and hour count from 0, day and month from 1.
    let convert = |field: &str, first: &str| -> Result<String> {
        if field.chars().any(|c| c.is_ascii_alphabetic() || "#?LW".contains(c)) {
            bail!("the cron field {field:?} has no systemd equivalent here: write the timer's OnCalendar= by hand");
        }
        Ok(field
            .split(',')
            .map(|part| {
                let part = part.replace('-', "..");
                match part.split_once('/') {
                    Some(("*", step)) => format!("{first}/{step}"),
                    Some((start, step)) => format!("{start}/{step}"),
                    None => part,
                }
            })
            .collect::<Vec<_>>()
            .join(","))
    };
    const DAYS: [&str; 8] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let weekdays = if *dow == "*" {
        String::new()
    } else {
        let mut names = Vec::new();
        for part in dow.split(',') {
            let day = |d: &str| -> Result<&str> {
                let n: usize = d
                    .parse()
                    .with_context(|| format!("the day-of-week {d:?} has no systemd equivalent here"))?;
                DAYS.get(n).copied().with_context(|| format!("day-of-week {n} does not exist"))
            };
            names.push(match part.split_once('-') {
                Some((a, b)) => format!("{}..{}", day(a)?, day(b)?),
                None => day(part)?.to_string(),
            });
        }
        format!("{} ", names.join(","))
    };
    Ok(format!(
        "{weekdays}*-{}-{} {}:{}:00",
        convert(month, "1")?,
        convert(dom, "1")?,
        convert(hour, "0")?,
        convert(minute, "0")?
    ))
}

/// A value for a unit file's `Environment=`: quoted, with `"` and `\` escaped.
fn unit_quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn systemd(connection: &str, drill: bool) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let catalog = open_catalog().await?;
        let schedule = catalog
            .schedule(connection)
            .await?
            .with_context(|| format!("{connection} has no schedule: set one with `lifeboat schedule set {connection}`"))?;
        let job = if drill { JobKind::Drill } else { JobKind::Backup };
        let cadence = schedule
            .cadence(job)
            .with_context(|| format!("{connection} has no {} schedule", job.as_str()))?;
        let exe = std::env::current_exe()?.display().to_string();
        let paths = Paths::from_env()?;
        // Unit names allow only some characters; connection names are checked to be simple.
        let unit = format!("lifeboat-{}-{connection}", job.as_str());
        let flag = if drill { " --drill" } else { "" };
        let user = std::env::var("USER").unwrap_or_else(|_| "lifeboat".into());
        let repo = std::env::var("LIFEBOAT_REPO").unwrap_or_else(|_| "/path/to/repository".into());
        println!(
            "# {unit}.service: save both units to /etc/systemd/system/, give the service the repository's\n\
             # passphrase (LIFEBOAT_PASSWORD_FILE= on a root-only file, or LoadCredential=), then:\n\
             #   systemctl daemon-reload && systemctl enable --now {unit}.timer\n\
             # It runs as {user} with this workstation's catalog, where the schedule lives.\n\
             [Unit]\n\
             Description=Lifeboat scheduled {job} of {connection}\n\
             Wants=network-online.target\n\
             After=network-online.target\n\n\
             [Service]\n\
             Type=oneshot\n\
             User={user}\n\
             Environment=LIFEBOAT_REPO={repo}\n\
             Environment=LIFEBOAT_DATA_DIR={data}\n\
             Environment=LIFEBOAT_NOTIFY=log\n\
             ExecStart={exe} schedule run {connection}{flag}\n\n\
             # {unit}.timer\n\
             [Unit]\n\
             Description=Lifeboat scheduled {job} of {connection} ({cron})\n\n\
             [Timer]\n\
             OnCalendar={calendar}\n\
             Persistent=true\n\n\
             [Install]\n\
             WantedBy=timers.target",
            job = job.as_str(),
            repo = unit_quoted(&repo),
            data = unit_quoted(&paths.data_dir.display().to_string()),
            cron = cadence.as_str(),
            calendar = on_calendar(cadence.as_str())?,
        );
        Ok(ExitCode::SUCCESS)
    })
}

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

#[derive(Args)]
pub struct DrillArgs {
    /// Snapshot id, unique id prefix, or latest:NAME.
    snapshot: String,
    /// Where to restore the scratch database: a saved connection's name or postgres://user@host:port/.
    #[arg(long)]
    server: String,
    /// SQL probes: a JSON list of {"name", "sql", "expect"}, as in
    /// [{"name": "users exist", "sql": "select count(*) from users", "expect": ">= 1"}].
    #[arg(long, value_name = "FILE")]
    probe_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn print_drill(report: &DrillReport) {
    println!(
        "drill of {} ({}) on {}: {}",
        report.name,
        &report.snapshot_id[..8],
        report.server,
        if report.passed { "PASSED" } else { "FAILED" }
    );
    for check in &report.checks {
        println!(
            "  {} {:<24} {}",
            if check.passed { "ok  " } else { "FAIL" },
            check.name,
            check.detail
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if !report.leftovers_dropped.is_empty() {
        eprintln!(
            "dropped scratch databases of earlier drills: {}",
            report.leftovers_dropped.join(", ")
        );
    }
}

pub fn drill(g: &GlobalArgs, a: &DrillArgs) -> Result<ExitCode> {
    let probes = a.probe_file.as_deref().map(drill::read_probes).transpose()?.unwrap_or_default();
    runtime()?.block_on(async {
        let runner = runner(g).await?;
        let name = manifest::resolve(&runner.repo, &a.snapshot)?.manifest.tag;
        let _claim = claim(&name)?;
        let report = runner.drill(&a.snapshot, &a.server, probes, Arc::new(Bars::new())).await?;
        if a.json {
            print_json(&report)?;
        } else {
            print_drill(&report);
        }
        Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

#[derive(Args)]
pub struct EventsArgs {
    /// Only events since this time (2026-11-20, 2026-11-20T08:00:00Z) or this long ago (36h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only events of this connection.
    #[arg(long, short = 'c')]
    connection: Option<String>,
    /// JSON lines, as stored.
    #[arg(long)]
    json: bool,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        return midnight
            .and_local_timezone(Local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .context("that day has no midnight here");
    }
    let ago = parse_duration(text).with_context(|| format!("--since {text:?}: use a date (2026-11-20), a time (RFC 3339) or 36h / 7d"))?;
    Ok(Utc::now() - chrono::Duration::from_std(ago)?)
}

pub fn events(a: &EventsArgs) -> Result<ExitCode> {
    let since = a.since.as_deref().map(parse_since).transpose()?;
    let log = EventLog::new(Paths::from_env()?.events());
    let events: Vec<Event> = log
        .read(since)?
        .into_iter()
        .filter(|e| a.connection.as_ref().is_none_or(|c| e.connection.as_ref() == Some(c)))
        .collect();
    for event in &events {
        if a.json {
            println!("{}", serde_json::to_string(event)?);
        } else {
            let kind = serde_json::to_value(event.kind)?.as_str().unwrap_or_default().to_string();
            println!(
                "{}  {:<17} {:<4} {}",
                local(event.time),
                kind,
                if event.ok { "ok" } else { "FAIL" },
                event.message
            );
        }
    }
    if events.is_empty() && !a.json {
        eprintln!("no events{}", if since.is_some() { " in that time" } else { " yet" });
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_becomes_on_calendar() {
        assert_eq!(on_calendar("30 2 * * *").unwrap(), "*-*-* 2:30:00");
        assert_eq!(on_calendar("0 3 * * 0").unwrap(), "Sun *-*-* 3:0:00");
        assert_eq!(on_calendar("*/15 8-18 * * 1-5").unwrap(), "Mon..Fri *-*-* 8..18:0/15:00");
        assert_eq!(on_calendar("0 4 1,15 * *").unwrap(), "*-*-1,15 4:0:00");
        assert_eq!(on_calendar("0 4 */2 */3 *").unwrap(), "*-1/3-1/2 4:0:00");
        assert!(on_calendar("0 4 L * *").unwrap_err().to_string().contains("by hand"));
        assert!(on_calendar("0 4 1 * 1").unwrap_err().to_string().contains("both"));
        assert_eq!(unit_quoted("/mnt/nas/team \"a\""), "\"/mnt/nas/team \\\"a\\\"\"");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("3d").unwrap(), Duration::from_secs(3 * 86_400));
        assert!(parse_duration("soon").is_err());
    }
}
