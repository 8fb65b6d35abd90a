//! `lifeboat schedule systemd`: a schedule as a systemd service and timer.

use anyhow::{bail, Context, Result};

use super::ScheduledJob;

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

/// A service and a timer that run the job as `job.user`.
pub fn render(job: &ScheduledJob) -> Result<String> {
    let unit = job.name();
    Ok(format!(
        "# {unit}.service: save both units to /etc/systemd/system/, give the service the repository's\n\
         # passphrase (LIFEBOAT_PASSWORD_FILE= on a root-only file, or LoadCredential=), then:\n\
         #   systemctl daemon-reload && systemctl enable --now {unit}.timer\n\
         # It runs as {user} with this workstation's catalog, where the schedule lives.\n\
         [Unit]\n\
         Description=Lifeboat scheduled {kind} of {connection}\n\
         Wants=network-online.target\n\
         After=network-online.target\n\n\
         [Service]\n\
         Type=oneshot\n\
         User={user}\n\
         Environment=LIFEBOAT_REPO={repo}\n\
         Environment=LIFEBOAT_DATA_DIR={data}\n\
         Environment=LIFEBOAT_NOTIFY=log\n\
         ExecStart={exe} {arguments}\n\n\
         # {unit}.timer\n\
         [Unit]\n\
         Description=Lifeboat scheduled {kind} of {connection} ({cron})\n\n\
         [Timer]\n\
         OnCalendar={calendar}\n\
         Persistent=true\n\n\
         [Install]\n\
         WantedBy=timers.target",
        user = job.user,
        kind = job.job.as_str(),
        connection = job.connection,
        repo = unit_quoted(&job.repo),
        data = unit_quoted(&job.data_dir),
        // ExecStart= splits on spaces outside quotes.
        exe = if job.exe.contains(char::is_whitespace) {
            unit_quoted(&job.exe)
        } else {
            job.exe.clone()
        },
        arguments = job.arguments().join(" "),
        cron = job.cadence.as_str(),
        calendar = on_calendar(job.cadence.as_str())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_core::schedule::JobKind;

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
    fn the_units_run_the_drill_at_the_schedule() {
        let units = render(&super::super::tests::job("*/15 8-18 * * 1-5", JobKind::Drill)).unwrap();
        assert!(
            units.contains("ExecStart=\"/opt/life boat/lifeboat\" schedule run shop --drill\n"),
            "{units}"
        );
        assert!(units.contains("OnCalendar=Mon..Fri *-*-* 8..18:0/15:00\n"), "{units}");
        assert!(
            units.contains("User=ops\n") && units.contains("# lifeboat-drill-shop.timer"),
            "{units}"
        );
    }
}
