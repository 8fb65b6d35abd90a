//! `lifeboat schedule task-scheduler`: a schedule as a Windows Task
//! Scheduler task (the XML that `Register-ScheduledTask -Xml` and
//! `schtasks /create /xml` take). Written and unit-tested on Linux; not run here.

use anyhow::{bail, Result};
use lifeboat_core::schedule::CalendarFields;

use super::{xml_escaped, ScheduledJob};

/// Task Scheduler's limit of triggers per task.
const MAX_TRIGGERS: usize = 48;

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The days a trigger fires on. A schedule restricting both day fields
/// gets triggers of both kinds: Task Scheduler ORs triggers, as cron ORs
/// the day fields.
enum DaySet {
    EveryDay,
    Weekly(Vec<u8>),
    MonthlyByDate { days: Vec<u8>, months: Vec<u8> },
    MonthlyByWeekday { weekdays: Vec<u8>, months: Vec<u8> },
}

/// A time of day a trigger starts at, repeating every `interval` minutes
/// for `duration` minutes when the schedule runs several times an hour.
struct Start {
    hour: u8,
    minute: u8,
    repeat: Option<(u32, u32)>,
}

/// A task that runs the job as the user who registers it, with their
/// Credential Manager (where the repository's key is cached) and catalog.
pub fn render(job: &ScheduledJob) -> Result<String> {
    let fields = job.cadence.calendar_fields()?;
    let kinds = day_kinds(&fields);
    let starts = starts(&fields, kinds.len())?;
    let mut triggers = Vec::new();
    for days in &kinds {
        for start in &starts {
            triggers.push(trigger(start, days));
        }
    }
    let mut arguments = vec!["--repo".to_string(), job.repo.clone()];
    arguments.extend(job.arguments());
    let arguments: Vec<String> = arguments.iter().map(|a| windows_quoted(a)).collect();
    let name = job.name();
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Save as {name}.xml and register it as the user it runs as, in PowerShell:
     Register-ScheduledTask -TaskName "{name}" -Xml (Get-Content -Raw {name}.xml)
     A start missed while the PC was off runs when it is back (StartWhenAvailable). -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{description}</Description>
  </RegistrationInfo>
  <Triggers>
{triggers}
  </Triggers>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
    </Exec>
  </Actions>
</Task>"#,
        description = xml_escaped(&format!(
            "Lifeboat scheduled {} of {} ({})",
            job.job.as_str(),
            job.connection,
            job.cadence.as_str()
        )),
        triggers = triggers.join("\n"),
        command = xml_escaped(&job.exe),
        arguments = xml_escaped(&arguments.join(" ")),
    ))
}

fn day_kinds(fields: &CalendarFields) -> Vec<DaySet> {
    let months = || fields.months.clone().unwrap_or_else(|| (1..=12).collect());
    let mut kinds = Vec::new();
    if let Some(days) = &fields.days_of_month {
        kinds.push(DaySet::MonthlyByDate {
            days: days.clone(),
            months: months(),
        });
    }
    if let Some(weekdays) = &fields.weekdays {
        kinds.push(match fields.months {
            None => DaySet::Weekly(weekdays.clone()),
            Some(_) => DaySet::MonthlyByWeekday {
                weekdays: weekdays.clone(),
                months: months(),
            },
        });
    }
    if kinds.is_empty() {
        kinds.push(match fields.months {
            None => DaySet::EveryDay,
            Some(_) => DaySet::MonthlyByDate {
                days: (1..=31).collect(),
                months: months(),
            },
        });
    }
    kinds
}

/// One start per listed time of day when they fit in the triggers left
/// for each kind of day; else, for minutes evenly spread over the hour, one
/// repeating start per run of consecutive hours.
fn starts(fields: &CalendarFields, day_kinds: usize) -> Result<Vec<Start>> {
    let budget = MAX_TRIGGERS / day_kinds;
    let hours = fields.hours.clone().unwrap_or_else(|| (0..24).collect());
    let minutes = fields.minutes.clone().unwrap_or_else(|| (0..60).collect());
    if hours.len() * minutes.len() <= budget {
        return Ok(hours
            .iter()
            .flat_map(|&hour| {
                minutes.iter().map(move |&minute| Start {
                    hour,
                    minute,
                    repeat: None,
                })
            })
            .collect());
    }
    if let Some(step) = even_step(&minutes) {
        let runs = consecutive_runs(&hours);
        if runs.len() <= budget {
            return Ok(runs
                .into_iter()
                .map(|(first, last)| Start {
                    hour: first,
                    minute: minutes[0],
                    // Up to and including the run's last slot, short of the next hour's first.
                    repeat: Some((step, (u32::from(last - first) + 1) * 60 - step + 1)),
                })
                .collect());
        }
    }
    bail!(
        "this schedule needs more than the {MAX_TRIGGERS} triggers a Task Scheduler task may have: \
         run `lifeboat daemon` instead, or write the task by hand"
    )
}

/// The step of minutes spread evenly over the whole hour (`*/15`, `5-59/10`).
fn even_step(minutes: &[u8]) -> Option<u32> {
    let step = u32::from(*minutes.get(1)? - minutes[0]);
    let even = minutes.windows(2).all(|pair| u32::from(pair[1] - pair[0]) == step);
    (even && 60 % step == 0 && minutes.len() as u32 == 60 / step).then_some(step)
}

/// Sorted hours as runs of consecutive hours: `[8, 9, 10, 14]` is `[(8, 10), (14, 14)]`.
fn consecutive_runs(hours: &[u8]) -> Vec<(u8, u8)> {
    let mut runs: Vec<(u8, u8)> = Vec::new();
    for &hour in hours {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == hour => *last = hour,
            _ => runs.push((hour, hour)),
        }
    }
    runs
}

fn trigger(start: &Start, days: &DaySet) -> String {
    let repetition = match start.repeat {
        Some((interval, duration)) => format!(
            "\n      <Repetition>\n        <Interval>PT{interval}M</Interval>\n        <Duration>PT{duration}M</Duration>\n      </Repetition>"
        ),
        None => String::new(),
    };
    let weekdays = |days: &[u8]| -> String { days.iter().map(|&d| format!("<{} />", WEEKDAYS[usize::from(d % 7)])).collect() };
    let months = |months: &[u8]| -> String {
        months
            .iter()
            .map(|&m| format!("<{} />", MONTHS[usize::from(m.clamp(1, 12) - 1)]))
            .collect()
    };
    let schedule = match days {
        DaySet::EveryDay => "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>".to_string(),
        DaySet::Weekly(days) => format!(
            "<ScheduleByWeek><WeeksInterval>1</WeeksInterval><DaysOfWeek>{}</DaysOfWeek></ScheduleByWeek>",
            weekdays(days)
        ),
        DaySet::MonthlyByDate { days, months: list } => format!(
            "<ScheduleByMonth><DaysOfMonth>{}</DaysOfMonth><Months>{}</Months></ScheduleByMonth>",
            days.iter().map(|d| format!("<Day>{d}</Day>")).collect::<String>(),
            months(list)
        ),
        DaySet::MonthlyByWeekday {
            weekdays: days,
            months: list,
        } => format!(
            "<ScheduleByMonthDayOfWeek><Weeks><Week>1</Week><Week>2</Week><Week>3</Week><Week>4</Week><Week>Last</Week></Weeks>\
             <DaysOfWeek>{}</DaysOfWeek><Months>{}</Months></ScheduleByMonthDayOfWeek>",
            weekdays(days),
            months(list)
        ),
    };
    format!(
        "    <CalendarTrigger>{repetition}\n      <StartBoundary>2000-01-01T{:02}:{:02}:00</StartBoundary>\n      \
         <Enabled>true</Enabled>\n      {schedule}\n    </CalendarTrigger>",
        start.hour, start.minute
    )
}

/// One argument as Windows' command-line parser (CommandLineToArgvW) reads it back.
fn windows_quoted(argument: &str) -> String {
    if !argument.is_empty() && !argument.contains([' ', '\t', '"']) {
        return argument.to_string();
    }
    let mut quoted = String::from("\"");
    let mut backslashes = 0;
    for c in argument.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // Backslashes before a quote are escaped, and so is the quote.
                quoted.push_str(&"\\".repeat(backslashes * 2 + 1));
                quoted.push('"');
                backslashes = 0;
            }
            _ => {
                quoted.push_str(&"\\".repeat(backslashes));
                quoted.push(c);
                backslashes = 0;
            }
        }
    }
    quoted.push_str(&"\\".repeat(backslashes * 2));
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os_schedule::tests::{job, xml_texts};
    use lifeboat_core::schedule::JobKind;

    #[test]
    fn a_daily_backup_is_one_daily_trigger() {
        let task = render(&job("daily 02:30", JobKind::Backup)).unwrap();
        assert_eq!(xml_texts(&task, "StartBoundary"), ["2000-01-01T02:30:00"]);
        assert_eq!(xml_texts(&task, "DaysInterval"), ["1"]);
        assert_eq!(xml_texts(&task, "Command"), ["/opt/life boat/lifeboat"]);
        assert_eq!(
            xml_texts(&task, "Arguments"),
            [r#"--repo "/mnt/nas/team \"a\" & <b>" schedule run shop"#]
        );
        assert_eq!(xml_texts(&task, "StartWhenAvailable"), ["true"]);
        assert_eq!(xml_texts(&task, "ExecutionTimeLimit"), ["PT0S"], "a long backup is not killed");
    }

    #[test]
    fn office_hours_every_quarter_hour_repeat_within_one_trigger() {
        let task = render(&job("*/15 8-18 * * 1-5", JobKind::Drill)).unwrap();
        assert_eq!(xml_texts(&task, "StartBoundary").len(), 44, "44 explicit starts fit in 48");
        let task = render(&job("*/5 8-18 * * 1-5", JobKind::Drill)).unwrap();
        assert_eq!(xml_texts(&task, "StartBoundary"), ["2000-01-01T08:00:00"]);
        assert_eq!(xml_texts(&task, "Interval"), ["PT5M"]);
        // 08:00 .. 18:55 inclusive, short of 19:00.
        assert_eq!(xml_texts(&task, "Duration"), ["PT656M"]);
        assert!(task.contains("<DaysOfWeek><Monday /><Tuesday /><Wednesday /><Thursday /><Friday /></DaysOfWeek>"));
        assert!(xml_texts(&task, "Arguments")[0].ends_with("schedule run shop --drill"));
    }

    #[test]
    fn both_day_fields_become_two_kinds_of_trigger_and_months_restrict_weekdays() {
        let task = render(&job("0 4 1,15 * 0", JobKind::Backup)).unwrap();
        assert!(task.contains("<DaysOfMonth><Day>1</Day><Day>15</Day></DaysOfMonth>"));
        assert!(task.contains("<ScheduleByWeek><WeeksInterval>1</WeeksInterval><DaysOfWeek><Sunday /></DaysOfWeek>"));
        let task = render(&job("0 4 * 1,7 6", JobKind::Backup)).unwrap();
        assert!(
            task.contains("<DaysOfWeek><Saturday /></DaysOfWeek><Months><January /><July /></Months>"),
            "{task}"
        );
    }

    #[test]
    fn what_task_scheduler_cannot_say_is_refused_with_what_to_do() {
        let error = render(&job("7,11,13,17,19 * * * *", JobKind::Backup)).unwrap_err().to_string();
        assert!(error.contains("48 triggers") && error.contains("lifeboat daemon"), "{error}");
    }

    #[test]
    fn arguments_read_back_as_written() {
        assert_eq!(windows_quoted("shop"), "shop");
        assert_eq!(windows_quoted(""), "\"\"");
        assert_eq!(windows_quoted(r"C:\Backups\team a"), r#""C:\Backups\team a""#);
        assert_eq!(windows_quoted(r"C:\x y\"), r#""C:\x y\\""#);
        assert_eq!(windows_quoted(r#"say \"hi""#), r#""say \\\"hi\"""#);
    }
}
