//! A change to a connection's schedule, as the CLI's flags or the app's
//! form say it, applied and saved in one place.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::jobs::drill::Probe;
use crate::schedule::{Cadence, Schedule};

/// What to change; `None` leaves a setting as it is. For the options of
/// options, `Some(None)` turns the setting off.
#[derive(Clone, Debug, Default)]
pub struct ScheduleChange {
    /// A preset or five cron fields; `Some(None)`: no scheduled backups.
    pub backup: Option<Option<String>>,
    pub drill: Option<Option<String>>,
    /// Base backups of the cluster (point-in-time recovery); `Some(None)`: none.
    pub base_backup: Option<Option<String>>,
    /// Whether the scheduler keeps the cluster's WAL streaming.
    pub wal_stream: Option<bool>,
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    pub keep_within_hours: Option<u32>,
    pub min_age_hours: Option<u32>,
    pub checkpoint_expiry_hours: Option<u32>,
    /// `Some(None)`: twice the backup interval.
    pub stale_after: Option<Option<Duration>>,
    /// A saved connection's name or a postgres:// URL; `Some(None)`: none.
    pub drill_server: Option<Option<String>>,
    pub probes: Option<Vec<Probe>>,
    /// The off-site repository; `Some(None)`: no copy.
    pub copy_to: Option<Option<String>>,
    /// The monitor's ping URL; `Some(None)`: no heartbeat.
    pub heartbeat: Option<Option<String>>,
    /// The repository the jobs go to.
    pub repository_id: Option<String>,
}

impl ScheduleChange {
    /// `schedule` with this change applied, checked as a whole.
    pub fn apply(&self, mut schedule: Schedule, now: DateTime<Utc>) -> Result<Schedule> {
        let cadence = |text: &Option<String>| -> Result<Option<Cadence>> {
            text.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Cadence::parse)
                .transpose()
        };
        if let Some(text) = &self.backup {
            schedule.backup = cadence(text).map_err(|e| e.in_field("backup"))?;
        }
        if let Some(text) = &self.drill {
            schedule.drill = cadence(text).map_err(|e| e.in_field("drill"))?;
        }
        if let Some(text) = &self.base_backup {
            schedule.base_backup = cadence(text).map_err(|e| e.in_field("base_backup"))?;
        }
        schedule.wal_stream = self.wal_stream.unwrap_or(schedule.wal_stream);
        let r = &mut schedule.retention;
        r.keep_last = self.keep_last.unwrap_or(r.keep_last);
        r.keep_daily = self.keep_daily.unwrap_or(r.keep_daily);
        r.keep_weekly = self.keep_weekly.unwrap_or(r.keep_weekly);
        r.keep_monthly = self.keep_monthly.unwrap_or(r.keep_monthly);
        r.keep_yearly = self.keep_yearly.unwrap_or(r.keep_yearly);
        r.keep_within_hours = self.keep_within_hours.unwrap_or(r.keep_within_hours);
        r.min_age_hours = self.min_age_hours.unwrap_or(r.min_age_hours);
        r.checkpoint_expiry_hours = self.checkpoint_expiry_hours.unwrap_or(r.checkpoint_expiry_hours);
        if let Some(stale_after) = self.stale_after {
            schedule.stale_after = stale_after;
        }
        if let Some(server) = &self.drill_server {
            schedule.drill_server = server.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        }
        if let Some(probes) = &self.probes {
            for probe in probes {
                probe.validate().map_err(|e| e.in_field("probes"))?;
            }
            schedule.probes = probes.clone();
        }
        if let Some(location) = &self.copy_to {
            schedule.copy_to = match location.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
                Some(location) => {
                    crate::backend::Location::parse(location).map_err(|e| e.in_field("copy_to"))?;
                    Some(location.to_owned())
                }
                None => None,
            };
        }
        if let Some(url) = &self.heartbeat {
            schedule.heartbeat = match url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                Some(url) => {
                    super::heartbeat::validate_url(url).map_err(|e| e.in_field("heartbeat"))?;
                    Some(url.to_owned())
                }
                None => None,
            };
        }
        if self.repository_id.is_some() {
            schedule.repository_id = self.repository_id.clone();
        }
        schedule.updated_at = now;
        // What `validate` checks as a whole is the drill server's to fix.
        schedule.validate().map_err(|e| e.in_field("drill_server"))?;
        Ok(schedule)
    }

    /// Applies this change to `connection`'s schedule (a new one when it
    /// has none) and saves it.
    pub async fn save(&self, catalog: &Catalog, connection: &str, now: DateTime<Utc>) -> Result<Schedule> {
        let connection = catalog.find_connection(connection).await?;
        let current = catalog
            .schedule(&connection.name)
            .await?
            .unwrap_or_else(|| Schedule::new(&connection.name, now));
        let schedule = self.apply(current, now)?;
        catalog.save_schedule(&schedule).await?;
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_change_touches_only_what_it_names_and_none_turns_a_setting_off() {
        let created = at("2026-11-01T00:00:00Z");
        let first = ScheduleChange {
            backup: Some(Some("daily 02:30".into())),
            keep_daily: Some(7),
            drill: Some(Some("weekly sun 03:00".into())),
            drill_server: Some(Some("  drills  ".into())),
            ..Default::default()
        }
        .apply(Schedule::new("shop", created), created)
        .unwrap();
        assert_eq!(first.backup.as_ref().map(Cadence::as_str), Some("30 2 * * *"));
        assert_eq!(first.drill_server.as_deref(), Some("drills"));

        let later = at("2026-11-02T00:00:00Z");
        let second = ScheduleChange {
            keep_last: Some(3),
            drill: Some(None),
            ..Default::default()
        }
        .apply(first.clone(), later)
        .unwrap();
        assert_eq!(second.backup, first.backup, "untouched");
        assert_eq!((second.retention.keep_last, second.retention.keep_daily), (3, 7));
        assert!(second.drill.is_none());
        assert_eq!((second.created_at, second.updated_at), (created, later));
    }

    #[test]
    fn a_change_that_leaves_the_schedule_unusable_is_refused() {
        let now = at("2026-11-01T00:00:00Z");
        let bad_cron = ScheduleChange {
            backup: Some(Some("every tuesday".into())),
            ..Default::default()
        };
        assert!(matches!(
            bad_cron.apply(Schedule::new("shop", now), now),
            Err(Error::InvalidField { field: "backup", .. })
        ));
        let drill_nowhere = ScheduleChange {
            drill: Some(Some("daily".into())),
            ..Default::default()
        };
        let err = drill_nowhere.apply(Schedule::new("shop", now), now).unwrap_err();
        assert!(matches!(err, Error::InvalidField { field: "drill_server", .. }));
        assert!(err.to_string().contains("needs a server"), "{err}");
        let password_in_url = ScheduleChange {
            drill_server: Some(Some("postgres://u:secret@db/postgres".into())),
            ..Default::default()
        };
        assert!(matches!(
            password_in_url.apply(Schedule::new("shop", now), now),
            Err(Error::InvalidField { field: "drill_server", .. })
        ));
        let bad_drill_cron = ScheduleChange {
            drill: Some(Some("61 * * * *".into())),
            drill_server: Some(Some("drills".into())),
            ..Default::default()
        };
        assert!(matches!(
            bad_drill_cron.apply(Schedule::new("shop", now), now),
            Err(Error::InvalidField { field: "drill", .. })
        ));
    }
}
