//! `lifeboat schedule systemd|launchd|task-scheduler`: a connection's
//! schedule written for the OS scheduler, for admins who prefer it to
//! `lifeboat daemon`. Each renderer is a pure function of a [`ScheduledJob`]
//! with unit tests; only the systemd units can also be run on Linux.

mod launchd;
mod systemd;
mod task_scheduler;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use lifeboat_core::paths::Paths;
use lifeboat_core::schedule::{Cadence, JobKind};

use crate::context::{open_catalog, runtime};

#[derive(Args)]
pub struct UnitArgs {
    connection: String,
    /// The drill schedule instead of the backup schedule.
    #[arg(long, conflicts_with = "base_backup")]
    drill: bool,
    /// The base backup schedule instead of the backup schedule.
    #[arg(long)]
    base_backup: bool,
}

#[derive(Clone, Copy)]
pub enum OsScheduler {
    Systemd,
    Launchd,
    TaskScheduler,
}

/// What an OS scheduler's entry runs: `lifeboat schedule run CONNECTION
/// [--drill|--base-backup]` at the times of the schedule, for this workstation's catalog
/// and repository.
pub struct ScheduledJob {
    pub connection: String,
    pub job: JobKind,
    pub cadence: Cadence,
    /// The `lifeboat` binary printing the unit.
    pub exe: String,
    pub repo: String,
    pub data_dir: String,
    pub user: String,
}

impl ScheduledJob {
    /// `schedule run CONNECTION [--drill|--base-backup]`.
    fn arguments(&self) -> Vec<String> {
        let mut arguments = vec!["schedule".to_string(), "run".to_string(), self.connection.clone()];
        match self.job {
            JobKind::Backup => {}
            JobKind::Drill => arguments.push("--drill".to_string()),
            JobKind::BaseBackup => arguments.push("--base-backup".to_string()),
        }
        arguments
    }

    /// A name for the entry; connection names are checked to be simple.
    fn name(&self) -> String {
        format!("lifeboat-{}-{}", self.job.as_str(), self.connection)
    }
}

/// Prints the entry for `os`; `repo` is the global `--repo` / `LIFEBOAT_REPO`.
pub fn print_unit(os: OsScheduler, a: &UnitArgs, repo: Option<&str>) -> Result<ExitCode> {
    let job = runtime()?.block_on(async {
        let catalog = open_catalog().await?;
        let schedule = catalog
            .schedule(&a.connection)
            .await?
            .with_context(|| format!("{0} has no schedule: set one with `lifeboat schedule set {0}`", a.connection))?;
        let job = job_kind(a.drill, a.base_backup);
        let cadence = schedule
            .cadence(job)
            .with_context(|| format!("{} has no {} schedule", a.connection, job.as_str()))?
            .clone();
        anyhow::Ok(ScheduledJob {
            connection: a.connection.clone(),
            job,
            cadence,
            exe: std::env::current_exe()?.display().to_string(),
            repo: repo.unwrap_or("/path/to/repository").to_owned(),
            data_dir: Paths::from_env()?.data_dir.display().to_string(),
            user: std::env::var("USER").unwrap_or_else(|_| "lifeboat".into()),
        })
    })?;
    let text = match os {
        OsScheduler::Systemd => systemd::render(&job)?,
        OsScheduler::Launchd => launchd::render(&job)?,
        OsScheduler::TaskScheduler => task_scheduler::render(&job)?,
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The job the `--drill` / `--base-backup` flags name.
pub(crate) fn job_kind(drill: bool, base_backup: bool) -> JobKind {
    match (drill, base_backup) {
        (true, _) => JobKind::Drill,
        (_, true) => JobKind::BaseBackup,
        _ => JobKind::Backup,
    }
}

/// Text for an XML element or attribute.
fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A job as `print_unit` builds it, with awkward paths.
    pub fn job(cron: &str, kind: JobKind) -> ScheduledJob {
        ScheduledJob {
            connection: "shop".into(),
            job: kind,
            cadence: Cadence::parse(cron).unwrap(),
            exe: "/opt/life boat/lifeboat".into(),
            repo: "/mnt/nas/team \"a\" & <b>".into(),
            data_dir: "/home/ops/.local/share/lifeboat".into(),
            user: "ops".into(),
        }
    }

    /// The text of every element named `tag`, in document order; fails on XML that is not well formed.
    pub fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let (mut inside, mut texts) = (false, Vec::<String>::new());
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) if e.name().as_ref() == tag => {
                    inside = true;
                    texts.push(String::new());
                }
                Event::Text(t) if inside => texts.last_mut().unwrap().push_str(&t.into_inner()),
                Event::GeneralRef(r) if inside => {
                    let entity = format!("&{};", r.into_inner());
                    texts.last_mut().unwrap().push_str(&quick_xml::escape::unescape(&entity).unwrap());
                }
                Event::End(e) if e.name().as_ref() == tag => inside = false,
                Event::Eof => return texts,
                _ => {}
            }
        }
    }

    #[test]
    fn xml_escaping_round_trips_through_a_parser() {
        let xml = format!("<a><b>{}</b></a>", xml_escaped("x & <y> \"z\" 'w'"));
        assert_eq!(xml_texts(&xml, "b"), ["x & <y> \"z\" 'w'"]);
    }
}
