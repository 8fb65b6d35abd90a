//! What runs by itself: per connection, a backup schedule with its
//! retention policy and staleness alarm, and a drill schedule with the
//! server to drill on and the probes to run.
//!
//! Schedules are cron expressions (five fields, the workstation's local
//! time) or presets. The scheduler that runs them and the jobs it starts
//! are orchestration, in `ops`; this module is the vocabulary they share.

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

    /// The cadence field by field, for OS schedulers that take lists of
    /// values (launchd, Windows Task Scheduler). Refused for what they
    /// cannot say: `L`, `W` or `#`, and days that must match both fields.
    pub fn calendar_fields(&self) -> Result<CalendarFields> {
        let pattern = &self.cron.pattern;
        let fields = [
            &pattern.minutes,
            &pattern.hours,
            &pattern.days,
            &pattern.months,
            &pattern.days_of_week,
        ];
        if fields.iter().any(|field| field.has_modifiers()) {
            return Err(Error::InvalidInput(format!(
                "{:?} uses L, W or #, which OS schedulers cannot express: run `lifeboat daemon` instead",
                self.text
            )));
        }
        // None where every value is listed, as `*` would.
        let listed = |field: &croner::CronComponent, count: usize| {
            let values: Vec<u8> = field.values().into_iter().filter_map(|v| u8::try_from(v).ok()).collect();
            (values.len() < count).then_some(values)
        };
        let mut days_of_month = listed(&pattern.days, 31);
        // croner may list Sunday as both 0 and 7.
        let mut weekdays = listed(&pattern.days_of_week, 7)
            .map(|days| {
                let mut days: Vec<u8> = days.into_iter().map(|d| d % 7).collect();
                days.sort_unstable();
                days.dedup();
                days
            })
            .filter(|days| days.len() < 7);
        let both_restricted = !pattern.is_dom_wildcard() && !pattern.is_dow_wildcard();
        if both_restricted && pattern.matches_dom_and_dow() {
            return Err(Error::InvalidInput(format!(
                "{:?} requires both day fields to match, which OS schedulers cannot express: run `lifeboat daemon` instead",
                self.text
            )));
        }
        // cron runs on a day that matches either field when both are given:
        // one that lists every day makes every day match.
        if both_restricted && (days_of_month.is_none() || weekdays.is_none()) {
            days_of_month = None;
            weekdays = None;
        }
        Ok(CalendarFields {
            minutes: listed(&pattern.minutes, 60),
            hours: listed(&pattern.hours, 24),
            days_of_month,
            months: listed(&pattern.months, 12),
            weekdays,
        })
    }

    /// The first slot strictly after `after`, in `tz`'s wall-clock time.
    pub fn next_after<Tz: TimeZone>(&self, after: DateTime<Utc>, tz: &Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// A cadence field by field: the values each field lists, None where it
/// lists them all (`*`). When both day fields list values, a day matching
/// either one runs (cron's rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarFields {
    pub minutes: Option<Vec<u8>>,
    pub hours: Option<Vec<u8>>,
    pub days_of_month: Option<Vec<u8>>,
    pub months: Option<Vec<u8>>,
    /// 0 is Sunday.
    pub weekdays: Option<Vec<u8>>,
}

/// Time allowed past a slot for the job itself: a tenth of the interval, at most an hour.
fn grace(interval: chrono::Duration) -> chrono::Duration {
    (interval / 10).min(chrono::Duration::hours(1))
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
    /// The repository its jobs use: they refuse to run against another one
    /// (the admin may open a second repository to restore from it).
    pub repository_id: Option<String>,
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
    /// A second repository (a location) each successful scheduled backup
    /// is copied to; `None`: no off-site copy.
    pub copy_to: Option<String>,
    /// A monitor's ping URL (see `ops::heartbeat`): pinged on each scheduled
    /// backup, so an outside service notices when they stop.
    #[serde(default)]
    pub heartbeat: Option<String>,
    /// Base backups of the connection's cluster into the archive named
    /// after the connection (point-in-time recovery). Retention applies to
    /// them as to dumps, and the WAL follows the kept ones.
    #[serde(default)]
    pub base_backup: Option<Cadence>,
    /// Keep the cluster's WAL streaming into the archive over a replication
    /// slot while the scheduler runs (`lifeboat wal stream`).
    #[serde(default)]
    pub wal_stream: bool,
    /// Slots count from here until a job first fires.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    pub fn new(connection: &str, now: DateTime<Utc>) -> Schedule {
        Schedule {
            connection: connection.to_owned(),
            repository_id: None,
            backup: None,
            retention: RetentionPolicy::default(),
            stale_after: None,
            drill: None,
            drill_server: None,
            probes: Vec::new(),
            copy_to: None,
            heartbeat: None,
            base_backup: None,
            wal_stream: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// When the connection, last backed up successfully at `since`, becomes
    /// stale: `stale_after` later when set, else when the second slot after
    /// `since` has passed too (plus a tenth of the gap before it, at most an
    /// hour, for the backup's own run time) — twice the interval for a
    /// regular schedule, and no false alarm over a weekday schedule's
    /// weekend. `None` when nothing is scheduled.
    pub fn staleness_deadline<Tz: TimeZone>(&self, since: DateTime<Utc>, tz: &Tz) -> Option<DateTime<Utc>> {
        if let Some(limit) = self.stale_after {
            return Some(since + chrono::Duration::from_std(limit).ok()?);
        }
        let cadence = self.backup.as_ref()?;
        let first = cadence.next_after(since, tz)?;
        let second = cadence.next_after(first, tz)?;
        Some(second + grace(second - first))
    }

    /// How fresh the connection's backups are against this schedule: green
    /// until the next slot (plus its grace), red past the staleness deadline
    /// (the alarm), amber between.
    pub fn freshness<Tz: TimeZone>(&self, last_backup: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: &Tz) -> Freshness {
        let Some(cadence) = &self.backup else {
            return Freshness::Unscheduled;
        };
        // A new schedule counts from its creation, so it starts green.
        let since = last_backup.unwrap_or(self.created_at);
        if self.staleness_deadline(since, tz).is_some_and(|deadline| now > deadline) {
            return Freshness::Red;
        }
        let due = cadence.next_after(since, tz);
        let after = due.and_then(|d| cadence.next_after(d, tz));
        match (due, after) {
            (Some(due), Some(after)) if now > due + grace(after - due) => Freshness::Amber,
            _ => Freshness::Green,
        }
    }

    /// When `job` runs next, given what the scheduler remembers of it.
    pub fn next_run<Tz: TimeZone>(&self, job: JobKind, state: &JobState, tz: &Tz) -> Option<DateTime<Utc>> {
        self.cadence(job)?.next_after(state.fired_at.unwrap_or(self.created_at), tz)
    }

    pub fn cadence(&self, job: JobKind) -> Option<&Cadence> {
        match job {
            JobKind::Backup => self.backup.as_ref(),
            JobKind::Drill => self.drill.as_ref(),
            JobKind::BaseBackup => self.base_backup.as_ref(),
        }
    }

    /// Refuses to run this schedule's jobs against another repository than its own.
    pub fn check_repository(&self, open_id: &str) -> Result<()> {
        match &self.repository_id {
            Some(id) if id != open_id => Err(Error::InvalidInput(format!(
                "the schedule of {} backs up into repository {}, but repository {} is open: open that one again, or set the \
                 schedule anew to move it",
                self.connection,
                &id[..id.len().min(8)],
                &open_id[..open_id.len().min(8)]
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a schedule that cannot run.
    pub fn validate(&self) -> Result<()> {
        // Base backups are drilled on a scratch cluster of this workstation;
        // dumps need a server to restore into.
        if self.drill.is_some() && self.base_backup.is_none() && self.drill_server.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(Error::InvalidInput(format!(
                "the drill schedule of {} needs a server to drill on: a saved connection's name, a postgres:// URL, or \
                 `local` (a scratch cluster on this workstation)",
                self.connection
            )));
        }
        if let Some(server) = &self.drill_server {
            check_no_password(server)?;
        }
        Ok(())
    }
}

/// The drill server that means a scratch cluster of this workstation
/// (`jobs::local_drill`).
pub const LOCAL_DRILL_SERVER: &str = "local";

/// Refuses a server URL that holds a password: the catalog and the event
/// log never keep one (a saved connection's goes to the keychain).
pub fn check_no_password(server: &str) -> Result<()> {
    if url::Url::parse(server).is_ok_and(|url| url.password().is_some()) {
        return Err(Error::InvalidInput(
            "the drill server URL holds a password: save the server as a connection (its password goes to the keychain) \
             or use PGPASSWORD / ~/.pgpass"
                .into(),
        ));
    }
    Ok(())
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
    BaseBackup,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Drill => "drill",
            JobKind::BaseBackup => "base-backup",
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
    /// Set while the off-site copy's staleness alarm is raised (backup job only).
    pub offsite_stale_since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadences_break_into_calendar_fields() {
        let fields = |text: &str| Cadence::parse(text).unwrap().calendar_fields();
        let daily = fields("daily 02:30").unwrap();
        assert_eq!(
            daily,
            CalendarFields {
                minutes: Some(vec![30]),
                hours: Some(vec![2]),
                days_of_month: None,
                months: None,
                weekdays: None
            }
        );
        let office = fields("*/15 8-18 * * mon-fri").unwrap();
        assert_eq!(office.minutes, Some(vec![0, 15, 30, 45]));
        assert_eq!(office.hours, Some((8..=18).collect()));
        assert_eq!(office.weekdays, Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(fields("0 3 * * 7").unwrap().weekdays, Some(vec![0]), "7 is Sunday too");
        assert_eq!(fields("* * * * *").unwrap().minutes, None);
        let either = fields("0 4 1,15 * 1").unwrap();
        assert_eq!((either.days_of_month, either.weekdays), (Some(vec![1, 15]), Some(vec![1])));
        let every_day = fields("0 4 1-31 * 1").unwrap();
        assert_eq!(
            (every_day.days_of_month, every_day.weekdays),
            (None, None),
            "cron ORs the day fields"
        );
        assert_eq!(fields("0 0 1 1,7 *").unwrap().months, Some(vec![1, 7]));
        let last_day = fields("0 4 L * *").unwrap_err().to_string();
        assert!(last_day.contains("lifeboat daemon"), "{last_day}");
    }

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
    fn next_slots_follow_wall_clock_time() {
        let daily = Cadence::parse("daily 02:30").unwrap();
        assert_eq!(daily.next_after(t("2026-11-23T02:30:00Z"), &Utc), Some(t("2026-11-24T02:30:00Z")));
        assert_eq!(daily.next_after(t("2026-11-23T02:29:59Z"), &Utc), Some(t("2026-11-23T02:30:00Z")));
        let east = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        // 02:30 at UTC+2 is 00:30 UTC.
        assert_eq!(daily.next_after(t("2026-11-23T00:00:00Z"), &east), Some(t("2026-11-23T00:30:00Z")));
        assert_eq!(daily.next_after(t("2026-11-23T00:30:00Z"), &east), Some(t("2026-11-24T00:30:00Z")));
    }

    #[test]
    fn freshness_turns_amber_after_a_missed_slot_and_red_at_the_alarm() {
        let mut schedule = Schedule::new("shop", t("2026-11-01T00:00:00Z"));
        let last = Some(t("2026-11-23T02:30:00Z"));
        assert_eq!(schedule.freshness(last, t("2026-11-23T03:00:00Z"), &Utc), Freshness::Unscheduled);
        schedule.backup = Some(Cadence::parse("daily 02:30").unwrap());
        assert_eq!(schedule.freshness(last, t("2026-11-24T02:40:00Z"), &Utc), Freshness::Green);
        assert_eq!(schedule.freshness(last, t("2026-11-24T06:00:00Z"), &Utc), Freshness::Amber);
        assert_eq!(schedule.freshness(last, t("2026-11-25T03:31:00Z"), &Utc), Freshness::Red);
    }

    #[test]
    fn a_drill_server_url_with_a_password_is_refused() {
        let mut schedule = Schedule::new("shop", t("2026-11-01T00:00:00Z"));
        schedule.drill = Some(Cadence::parse("weekly").unwrap());
        schedule.drill_server = Some("postgres://admin:s3cret@drills/postgres".into());
        assert!(schedule.validate().unwrap_err().to_string().contains("holds a password"));
        schedule.drill_server = Some("postgres://admin@drills/postgres".into());
        assert!(schedule.validate().is_ok());
    }

    #[test]
    fn staleness_comes_two_slots_late_even_over_a_weekday_schedules_weekend() {
        let mut schedule = Schedule::new("shop", t("2026-11-01T00:00:00Z"));
        assert_eq!(schedule.staleness_deadline(t("2026-11-01T00:00:00Z"), &Utc), None);
        schedule.backup = Some(Cadence::parse("hourly").unwrap());
        assert_eq!(
            schedule.staleness_deadline(t("2026-11-01T00:00:00Z"), &Utc),
            Some(t("2026-11-01T02:06:00Z"))
        );
        // Every quarter hour in office hours, Monday to Friday: the last backup on Friday 18:45.
        schedule.backup = Some(Cadence::parse("*/15 8-18 * * 1-5").unwrap());
        let friday = t("2026-11-27T18:45:00Z");
        assert_eq!(schedule.staleness_deadline(friday, &Utc), Some(t("2026-11-30T08:16:30Z")));
        assert_eq!(schedule.freshness(Some(friday), t("2026-11-28T12:00:00Z"), &Utc), Freshness::Green);
        assert_eq!(schedule.freshness(Some(friday), t("2026-11-30T08:10:00Z"), &Utc), Freshness::Amber);
        assert_eq!(schedule.freshness(Some(friday), t("2026-11-30T08:20:00Z"), &Utc), Freshness::Red);
        schedule.stale_after = Some(std::time::Duration::from_secs(600));
        assert_eq!(schedule.staleness_deadline(friday, &Utc), Some(t("2026-11-27T18:55:00Z")));
    }
}
