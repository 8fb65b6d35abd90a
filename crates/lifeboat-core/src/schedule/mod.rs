//! What runs by itself: per connection, a backup schedule with its
//! retention policy and staleness alarm, and a drill schedule with the
//! server to drill on and the probes to run.
//!
//! Schedules are cron expressions (five fields, the workstation's local
//! time) or presets; [`scheduler`] runs them, [`runner`] is what a
//! scheduled job does.

pub mod runner;
pub mod scheduler;

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::jobs::drill::Probe;
use crate::repo::retention::RetentionPolicy;

/// When a job runs: a parsed five-field cron expression.
#[derive(Clone, Debug)]
pub struct Cadence {
    text: String,
    cron: croner::Cron,
}

impl PartialEq for Cadence {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cadence {
    /// Parses a preset (`hourly`, `daily`, `daily HH:MM`, `weekly`,
    /// `weekly DAY HH:MM`) or a five-field cron expression
    /// (`minute hour day-of-month month day-of-week`).
    pub fn parse(text: &str) -> Result<Cadence> {
        let text = text.trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        let cron_text = match words.as_slice() {
            ["hourly"] => "0 * * * *".to_string(),
            ["daily"] => "0 2 * * *".to_string(),
            ["daily", time] => {
                let (hour, minute) = parse_time_of_day(time)?;
                format!("{minute} {hour} * * *")
            }
            ["weekly"] => "0 3 * * 0".to_string(),
            ["weekly", day, time] => {
                let (hour, minute) = parse_time_of_day(time)?;
                let day = day.to_ascii_lowercase();
                let number = WEEKDAYS
                    .iter()
                    .position(|d| day.starts_with(d))
                    .ok_or_else(|| Error::InvalidInput(format!("unknown day {day:?}: use mon, tue, wed, thu, fri, sat or sun")))?;
                format!("{minute} {hour} * * {number}")
            }
            fields if fields.len() == 5 => fields.join(" "),
            _ => {
                return Err(Error::InvalidInput(format!(
                    "{text:?} is not a schedule: use hourly, daily, \"daily 02:30\", weekly, \"weekly sun 03:00\", \
                     or five cron fields (minute hour day-of-month month day-of-week), as in \"30 2 * * *\""
                )))
            }
        };
        let cron =
            croner::Cron::from_str(&cron_text).map_err(|e| Error::InvalidInput(format!("{text:?} is not a valid cron expression: {e}")))?;
        Ok(Cadence { text: cron_text, cron })
    }

    /// The cron expression (presets expanded): what the catalog stores.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// In words, for people.
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first slot strictly after `after`, in `tz`'s wall-clock time.
    pub fn next_after<Tz: TimeZone>(&self, after: DateTime<Utc>, tz: &Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The longest gap between consecutive slots over the next fourteen
    /// after `after` (weekday-only schedules have a long weekend gap).
    pub fn longest_gap<Tz: TimeZone>(&self, after: DateTime<Utc>, tz: &Tz) -> chrono::Duration {
        let mut longest = chrono::Duration::zero();
        let mut previous = self.next_after(after, tz);
        for _ in 0..14 {
            let Some(slot) = previous else { break };
            let next = self.next_after(slot, tz);
            if let Some(next) = next {
                longest = longest.max(next - slot);
            }
            previous = next;
        }
        longest
    }
}

fn parse_time_of_day(text: &str) -> Result<(u32, u32)> {
    let bad = || Error::InvalidInput(format!("{text:?} is not a time of day: use HH:MM, as in 02:30"));
    let (hour, minute) = text.split_once(':').ok_or_else(bad)?;
    let hour: u32 = hour.parse().map_err(|_| bad())?;
    let minute: u32 = minute.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

impl Serialize for Cadence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Cadence {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Cadence::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Everything that runs by itself for one connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub connection: String,
    pub backup: Option<Cadence>,
    /// Applied after each successful scheduled backup; empty keeps everything.
    pub retention: RetentionPolicy,
    /// Raise a staleness alarm after this long without a successful backup;
    /// `None`: twice the schedule's longest interval.
    pub stale_after: Option<std::time::Duration>,
    pub drill: Option<Cadence>,
    /// A saved connection's name (its server and credentials) or a
    /// `postgres://` URL: where drills restore into scratch databases.
    pub drill_server: Option<String>,
    pub probes: Vec<Probe>,
    /// Slots count from here until a job first fires.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    pub fn new(connection: &str, now: DateTime<Utc>) -> Schedule {
        Schedule {
            connection: connection.to_owned(),
            backup: None,
            retention: RetentionPolicy::default(),
            stale_after: None,
            drill: None,
            drill_server: None,
            probes: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// How long the connection may go without a successful backup, counted
    /// from `since`; `None` when nothing is scheduled.
    pub fn staleness_limit<Tz: TimeZone>(&self, since: DateTime<Utc>, tz: &Tz) -> Option<chrono::Duration> {
        if let Some(limit) = self.stale_after {
            return chrono::Duration::from_std(limit).ok();
        }
        let gap = self.backup.as_ref()?.longest_gap(since, tz);
        Some(gap * 2)
    }

    /// How fresh the connection's backups are against this schedule: green
    /// within one interval (plus a tenth for the backup's own duration),
    /// red past the staleness limit (the alarm), amber between.
    pub fn freshness<Tz: TimeZone>(&self, last_backup: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: &Tz) -> Freshness {
        let Some(cadence) = &self.backup else {
            return Freshness::Unscheduled;
        };
        let since = last_backup.unwrap_or(self.created_at);
        let age = now - since;
        let interval = cadence.longest_gap(since, tz);
        if self.staleness_limit(since, tz).is_some_and(|limit| age > limit) {
            Freshness::Red
        } else if age <= interval + interval / 10 {
            // Also a new schedule whose first slot has not come yet.
            Freshness::Green
        } else {
            Freshness::Amber
        }
    }

    pub fn cadence(&self, job: JobKind) -> Option<&Cadence> {
        match job {
            JobKind::Backup => self.backup.as_ref(),
            JobKind::Drill => self.drill.as_ref(),
        }
    }

    /// Refuses a schedule that cannot run.
    pub fn validate(&self) -> Result<()> {
        if self.drill.is_some() && self.drill_server.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(Error::InvalidInput(format!(
                "the drill schedule of {} needs a server to drill on: a saved connection's name or a postgres:// URL",
                self.connection
            )));
        }
        Ok(())
    }
}

/// Holds the workstation's one scheduler: the app and `lifeboat daemon`
/// never both run the schedules of one data folder. Released on drop.
pub struct SchedulerLock(#[allow(dead_code)] std::fs::File);

impl SchedulerLock {
    pub fn acquire(data_dir: &std::path::Path) -> Result<SchedulerLock> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
        let path = data_dir.join("scheduler.lock");
        let file = std::fs::File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        file.try_lock().map_err(|_| {
            Error::InvalidInput(format!(
                "another Lifeboat scheduler (the app or `lifeboat daemon`) already runs the schedules in {}: stop it first",
                data_dir.display()
            ))
        })?;
        Ok(SchedulerLock(file))
    }
}

/// A database card's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    Unscheduled,
    Green,
    Amber,
    Red,
}

/// The jobs a schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Backup,
    Drill,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Drill => "drill",
        }
    }
}

/// What the scheduler remembers about one job of one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobState {
    /// When it last started (a missed slot is caught up once, counted from here).
    pub fired_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub succeeded: Option<bool>,
    pub error: Option<String>,
    /// Set while a staleness alarm is raised (backup job only).
    pub stale_since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn presets_expand_to_cron_and_bad_input_says_what_works() {
        assert_eq!(Cadence::parse("hourly").unwrap().as_str(), "0 * * * *");
        assert_eq!(Cadence::parse("daily 02:30").unwrap().as_str(), "30 2 * * *");
        assert_eq!(Cadence::parse("weekly Sunday 03:15").unwrap().as_str(), "15 3 * * 0");
        assert_eq!(Cadence::parse(" */15 * * * 1-5 ").unwrap().as_str(), "*/15 * * * 1-5");
        for bad in ["daily 25:00", "every day", "* * * *", "61 * * * *", "weekly someday 01:00"] {
            let e = Cadence::parse(bad).unwrap_err().to_string();
            assert!(e.contains("use") || e.contains("cron"), "{bad}: the error says what works: {e}");
        }
    }

    #[test]
    fn next_slots_follow_wall_clock_time_and_gaps_see_the_weekend() {
        let daily = Cadence::parse("daily 02:30").unwrap();
        assert_eq!(daily.next_after(t("2026-11-23T02:30:00Z"), &Utc), Some(t("2026-11-24T02:30:00Z")));
        assert_eq!(daily.next_after(t("2026-11-23T02:29:59Z"), &Utc), Some(t("2026-11-23T02:30:00Z")));
        let east = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        // 02:30 at UTC+2 is 00:30 UTC.
        assert_eq!(daily.next_after(t("2026-11-23T00:00:00Z"), &east), Some(t("2026-11-23T00:30:00Z")));
        assert_eq!(daily.next_after(t("2026-11-23T00:30:00Z"), &east), Some(t("2026-11-24T00:30:00Z")));
        assert_eq!(daily.longest_gap(t("2026-11-23T00:00:00Z"), &Utc), chrono::Duration::days(1));
        let weekdays = Cadence::parse("0 2 * * 1-5").unwrap();
        assert_eq!(weekdays.longest_gap(t("2026-11-23T00:00:00Z"), &Utc), chrono::Duration::days(3));
    }

    #[test]
    fn freshness_turns_amber_after_a_missed_slot_and_red_at_the_alarm() {
        let mut schedule = Schedule::new("shop", t("2026-11-01T00:00:00Z"));
        let last = Some(t("2026-11-23T02:30:00Z"));
        assert_eq!(schedule.freshness(last, t("2026-11-23T03:00:00Z"), &Utc), Freshness::Unscheduled);
        schedule.backup = Some(Cadence::parse("daily 02:30").unwrap());
        assert_eq!(schedule.freshness(last, t("2026-11-24T02:40:00Z"), &Utc), Freshness::Green);
        assert_eq!(schedule.freshness(last, t("2026-11-24T06:00:00Z"), &Utc), Freshness::Amber);
        assert_eq!(schedule.freshness(last, t("2026-11-25T02:31:00Z"), &Utc), Freshness::Red);
    }

    #[test]
    fn staleness_defaults_to_twice_the_interval() {
        let mut schedule = Schedule::new("shop", t("2026-11-01T00:00:00Z"));
        assert_eq!(schedule.staleness_limit(t("2026-11-01T00:00:00Z"), &Utc), None);
        schedule.backup = Some(Cadence::parse("hourly").unwrap());
        assert_eq!(
            schedule.staleness_limit(t("2026-11-01T00:00:00Z"), &Utc),
            Some(chrono::Duration::hours(2))
        );
        schedule.stale_after = Some(std::time::Duration::from_secs(600));
        assert_eq!(
            schedule.staleness_limit(t("2026-11-01T00:00:00Z"), &Utc),
            Some(chrono::Duration::minutes(10))
        );
    }
}
