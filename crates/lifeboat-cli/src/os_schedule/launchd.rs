//! `lifeboat schedule launchd`: a schedule as a macOS launchd agent (a
//! property list with `StartCalendarInterval`). Written and unit-tested on
//! Linux; not run here.

use anyhow::{bail, Result};
use lifeboat_core::schedule::CalendarFields;

use super::{xml_escaped, ScheduledJob};

/// More calendar entries than this is a schedule for `lifeboat daemon`.
const MAX_ENTRIES: usize = 1000;

/// A LaunchAgent that runs the job as the user who loads it, with their
/// login keychain (where the repository's key is cached).
pub fn render(job: &ScheduledJob) -> Result<String> {
    let label = format!("org.lifeboat.{}.{}", job.job.as_str(), job.connection);
    let entries = calendar_entries(&job.cadence.calendar_fields()?)?;
    let string = |text: &str| format!("<string>{}</string>", xml_escaped(text));
    let arguments: Vec<String> = std::iter::once(job.exe.as_str())
        .chain(job.arguments().iter().map(String::as_str))
        .map(|a| format!("    {}", string(a)))
        .collect();
    let intervals: Vec<String> = entries
        .iter()
        .map(|entry| {
            let keys: String = entry
                .iter()
                .map(|(key, value)| format!("<key>{key}</key><integer>{value}</integer>"))
                .collect();
            format!("    <dict>{keys}</dict>")
        })
        .collect();
    let log = format!("{}/logs/{}.log", job.data_dir, job.name());
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Save as ~/Library/LaunchAgents/{label}.plist, then run
     launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{label}.plist
     launchd runs a time missed while the Mac slept when it wakes. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  {label_string}
  <key>ProgramArguments</key>
  <array>
{arguments}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>LIFEBOAT_REPO</key>
    {repo}
    <key>LIFEBOAT_DATA_DIR</key>
    {data_dir}
  </dict>
  <key>StartCalendarInterval</key>
  <array>
{intervals}
  </array>
  <key>StandardOutPath</key>
  {log}
  <key>StandardErrorPath</key>
  {log}
</dict>
</plist>"#,
        label_string = string(&label),
        arguments = arguments.join("\n"),
        repo = string(&job.repo),
        data_dir = string(&job.data_dir),
        intervals = intervals.join("\n"),
        log = string(&log),
    ))
}

/// `StartCalendarInterval` dictionaries: every combination of the listed
/// values, a missing key meaning "every". A day matching either day field
/// runs (cron's rule), so those are separate entries, never both keys.
fn calendar_entries(fields: &CalendarFields) -> Result<Vec<Vec<(&'static str, u8)>>> {
    let product = |entries: Vec<Vec<(&'static str, u8)>>, key: &'static str, values: &Option<Vec<u8>>| match values {
        None => entries,
        Some(values) => entries
            .iter()
            .flat_map(|entry| {
                values.iter().map(move |&value| {
                    let mut entry = entry.clone();
                    entry.push((key, value));
                    entry
                })
            })
            .collect(),
    };
    let months = product(vec![Vec::new()], "Month", &fields.months);
    let mut days = match (&fields.days_of_month, &fields.weekdays) {
        (None, None) => months,
        (Some(_), None) => product(months, "Day", &fields.days_of_month),
        (None, Some(_)) => product(months, "Weekday", &fields.weekdays),
        (Some(_), Some(_)) => {
            let mut either = product(months.clone(), "Day", &fields.days_of_month);
            either.extend(product(months, "Weekday", &fields.weekdays));
            either
        }
    };
    let count = days.len() * fields.hours.as_ref().map_or(1, Vec::len) * fields.minutes.as_ref().map_or(1, Vec::len);
    if count > MAX_ENTRIES {
        bail!("this schedule needs {count} launchd calendar entries: run `lifeboat daemon` instead, or write the plist by hand");
    }
    days = product(days, "Hour", &fields.hours);
    Ok(product(days, "Minute", &fields.minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os_schedule::tests::{job, xml_texts};
    use lifeboat_core::schedule::JobKind;

    #[test]
    fn a_daily_backup_is_one_calendar_entry() {
        let plist = render(&job("daily 02:30", JobKind::Backup)).unwrap();
        assert_eq!(xml_texts(&plist, "string")[0], "org.lifeboat.backup.shop");
        assert_eq!(xml_texts(&plist, "integer"), ["2", "30"]);
        assert!(plist.contains("<dict><key>Hour</key><integer>2</integer><key>Minute</key><integer>30</integer></dict>"));
        let strings = xml_texts(&plist, "string");
        assert_eq!(strings[1..5], ["/opt/life boat/lifeboat", "schedule", "run", "shop"]);
        assert!(strings.contains(&"/mnt/nas/team \"a\" & <b>".to_string()), "{strings:?}");
        assert!(strings.contains(&"/home/ops/.local/share/lifeboat/logs/lifeboat-backup-shop.log".to_string()));
    }

    #[test]
    fn lists_multiply_and_either_day_field_is_its_own_entry() {
        let plist = render(&job("0,30 9 1,15 * 1", JobKind::Drill)).unwrap();
        let entries = xml_texts(&plist, "dict").len() - 2; // the plist's own and the environment's
        assert_eq!(entries, (2 + 1) * 2, "{plist}");
        assert!(plist.contains("<string>--drill</string>"));
        assert!(plist.contains(
            "<dict><key>Day</key><integer>15</integer><key>Hour</key><integer>9</integer><key>Minute</key><integer>30</integer></dict>"
        ));
        assert!(plist.contains(
            "<dict><key>Weekday</key><integer>1</integer><key>Hour</key><integer>9</integer><key>Minute</key><integer>0</integer></dict>"
        ));
        assert!(!plist.contains("<key>Day</key><integer>1</integer><key>Weekday</key>"));
        let fields = CalendarFields {
            minutes: None,
            hours: None,
            days_of_month: None,
            months: None,
            weekdays: None,
        };
        assert_eq!(
            calendar_entries(&fields).unwrap(),
            vec![Vec::new()],
            "every minute: one empty entry"
        );
    }

    #[test]
    fn what_launchd_cannot_say_is_refused_with_what_to_do() {
        let error = render(&job("*/2 0-22 1-10 * *", JobKind::Backup)).unwrap_err().to_string();
        assert!(
            error.contains("6900 launchd calendar entries") && error.contains("lifeboat daemon"),
            "{error}"
        );
        let error = render(&job("0 4 L * *", JobKind::Backup)).unwrap_err().to_string();
        assert!(error.contains("lifeboat daemon"), "{error}");
    }
}
