//! Which snapshots a retention policy keeps (`forget`).
//!
//! Per name, newest first: `keep_last` keeps the N newest; `keep_daily`,
//! `keep_weekly`, `keep_monthly` and `keep_yearly` keep the newest snapshot
//! of each of the N most recent days, ISO weeks, months and years that have
//! one; `keep_within` keeps every snapshot taken within that long of the
//! name's newest (so backups that stopped never age the last ones out).
//! Times are the manifests' recorded start times, in the time zone given
//! (the admin's local one in the product), never file names or
//! modification times.
//!
//! `min_age` is a floor under every rule ("30 days minimum"): nothing
//! younger than it (by `now`) is removed. Checkpoints ("before upgrade")
//! and snapshots marked keep-forever are exempt: always kept, and they take
//! no place in the policy's counts; with `checkpoint_expiry` a checkpoint
//! older than that becomes an ordinary snapshot. An empty snapshot (0
//! bytes, stored only with `--allow-empty`) is no backup: it takes no
//! place either, and no rule keeps it.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::manifest::{self, Snapshot, SnapshotKind, SnapshotSummary};
use super::pins;
use super::{lock, Repository};
use crate::error::{Error, Result};

/// A retention policy; zero means "not used".
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RetentionPolicy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    #[serde(default)]
    pub keep_yearly: u32,
    /// Every snapshot within this many hours of the name's newest.
    #[serde(default)]
    pub keep_within_hours: u32,
    /// Nothing younger than this many hours is removed.
    #[serde(default)]
    pub min_age_hours: u32,
    /// Checkpoints older than this many hours follow the rules like any
    /// snapshot (0: checkpoints are kept until deleted by hand).
    #[serde(default)]
    pub checkpoint_expiry_hours: u32,
}

impl RetentionPolicy {
    /// Whether no rule says what to keep (a minimum age or a checkpoint
    /// expiry alone keeps nothing, so they do not count).
    pub fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
            && self.keep_yearly == 0
            && self.keep_within_hours == 0
    }
}

/// Reads a period as the policies state it: `30d`, `48h`, `2w`, `6m`
/// (30 days each), `1y` (365 days), or combined as `1y6m`; in hours.
pub fn parse_period(text: &str) -> std::result::Result<u32, String> {
    let bad = || format!("{text:?} is not a period: write it as 30d, 48h, 2w, 6m or 1y (or combined, as 1y6m)");
    let mut hours: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        hours = n.checked_mul(unit).and_then(|h| h.checked_add(hours)).ok_or_else(bad)?;
    }
    if !number.is_empty() || hours == 0 {
        return Err(bad());
    }
    u32::try_from(hours).map_err(|_| bad())
}

/// Why a snapshot is kept.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    Last,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    /// Within `keep_within` of the newest snapshot.
    Within,
    /// Younger than the policy's minimum age.
    MinAge,
    /// A checkpoint: exempt from retention.
    Checkpoint,
    /// Marked keep-forever: exempt from retention.
    Forever,
    /// One database of a server backup that is kept: the group restores
    /// only with its databases' snapshots.
    Group,
}

/// The outcome for one snapshot.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Verdict {
    pub snapshot: SnapshotSummary,
    /// Empty when the snapshot would be removed.
    pub keep: Vec<KeepReason>,
}

fn hours(n: u32) -> chrono::Duration {
    chrono::Duration::hours(i64::from(n))
}

/// Applies `policy` to snapshots of one name at `now`; returns verdicts
/// newest first. `kept_forever` holds the ids marked keep-forever.
pub fn apply<Tz: TimeZone>(
    snapshots: &[Snapshot],
    policy: &RetentionPolicy,
    kept_forever: &HashSet<String>,
    tz: &Tz,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    let mut sorted: Vec<&Snapshot> = snapshots.iter().collect();
    sorted.sort_by(|a, b| b.manifest.recency().cmp(&a.manifest.recency()).then_with(|| b.id.cmp(&a.id)));
    struct Bucket {
        left: u32,
        last: Option<(i32, u32)>,
        reason: KeepReason,
    }
    let bucket = |left, reason| Bucket { left, last: None, reason };
    let mut buckets = [
        bucket(policy.keep_daily, KeepReason::Daily),
        bucket(policy.keep_weekly, KeepReason::Weekly),
        bucket(policy.keep_monthly, KeepReason::Monthly),
        bucket(policy.keep_yearly, KeepReason::Yearly),
    ];
    let newest = sorted.iter().find(|s| s.manifest.size > 0).map(|s| s.manifest.start);
    let mut position = 0u64;
    sorted
        .into_iter()
        .map(|snapshot| {
            let start = snapshot.manifest.start;
            let checkpoint_current = policy.checkpoint_expiry_hours == 0 || now - start < hours(policy.checkpoint_expiry_hours);
            let exempt = if kept_forever.contains(&snapshot.id) {
                Some(KeepReason::Forever)
            } else if snapshot.manifest.kind == SnapshotKind::Checkpoint && checkpoint_current {
                Some(KeepReason::Checkpoint)
            } else {
                None
            };
            if let Some(reason) = exempt {
                return Verdict {
                    snapshot: snapshot.summary(),
                    keep: vec![reason],
                };
            }
            if snapshot.manifest.size == 0 {
                // An empty stream is no backup: it takes no place and is not kept.
                return Verdict {
                    snapshot: snapshot.summary(),
                    keep: Vec::new(),
                };
            }
            position += 1;
            let local = start.with_timezone(tz);
            let periods = [
                (local.year(), local.ordinal()),
                (local.iso_week().year(), local.iso_week().week()),
                (local.year(), local.month()),
                (local.year(), 0),
            ];
            let mut keep = Vec::new();
            if position <= u64::from(policy.keep_last) {
                keep.push(KeepReason::Last);
            }
            for (bucket, period) in buckets.iter_mut().zip(periods) {
                if bucket.left > 0 && bucket.last != Some(period) {
                    bucket.last = Some(period);
                    bucket.left -= 1;
                    keep.push(bucket.reason);
                }
            }
            if policy.keep_within_hours > 0 && newest.is_some_and(|newest| newest - start < hours(policy.keep_within_hours)) {
                keep.push(KeepReason::Within);
            }
            if policy.min_age_hours > 0 && now - start < hours(policy.min_age_hours) {
                keep.push(KeepReason::MinAge);
            }
            Verdict {
                snapshot: snapshot.summary(),
                keep,
            }
        })
        .collect()
}

/// Whether `name` is `tag` or, for a server connection's name, one of its
/// databases (`tag/DATABASE`): a server's retention covers all of them.
fn covers(name: &str, tag: &str) -> bool {
    tag.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What `forget` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct ForgetOptions {
    pub policy: RetentionPolicy,
    /// The time `min_age` and checkpoint expiry count from.
    pub now: DateTime<Utc>,
    /// Only snapshots of this name (and, for a server, of its databases);
    /// all names otherwise. Each name is judged on its own.
    pub tag: Option<String>,
    pub dry_run: bool,
    pub lock_wait: Duration,
}

/// The verdicts for one name.
#[derive(Clone, Debug, Serialize)]
pub struct ForgetGroup {
    pub tag: String,
    pub verdicts: Vec<Verdict>,
}

/// Removes the snapshots `policy` does not keep (unless `dry_run`) and moves
/// latest pointers to the newest remaining snapshot. Data is freed by `prune`.
pub fn forget<Tz: TimeZone>(repo: &Repository, options: &ForgetOptions, tz: &Tz) -> Result<Vec<ForgetGroup>> {
    if options.policy.is_empty() {
        return Err(Error::InvalidInput(
            "no retention policy given: say what to keep with --keep-last, --keep-daily, --keep-weekly, --keep-monthly, \
             --keep-yearly or --keep-within (--min-age only sets a floor under them)"
                .into(),
        ));
    }
    let lock = if options.dry_run {
        lock::acquire_for_reading(repo, "forget (dry run)", options.lock_wait)?
    } else {
        Some(lock::acquire(repo, true, "forget", options.lock_wait)?)
    };
    let manifest::SnapshotList { snapshots, damaged } = manifest::list(repo)?;
    let kept_forever = pins::kept_forever(repo)?;
    if let Some((id, e)) = damaged.into_iter().next() {
        return Err(Error::corrupt(
            format!("snapshot {id}"),
            format!("{e}; forget refuses to run until `lifeboat check` is clean"),
        ));
    }
    let mut by_tag: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
    for snapshot in &snapshots {
        if options.tag.as_ref().is_none_or(|t| covers(t, &snapshot.manifest.tag)) {
            by_tag.entry(snapshot.manifest.tag.clone()).or_default().push(snapshot.clone());
        }
    }
    if let (Some(lock), false) = (&lock, options.dry_run) {
        lock.verify()?;
    }
    let mut judged: Vec<(String, Vec<Snapshot>, Vec<Verdict>)> = by_tag
        .into_iter()
        .map(|(tag, snapshots)| {
            let verdicts = apply(&snapshots, &options.policy, &kept_forever, tz, options.now);
            (tag, snapshots, verdicts)
        })
        .collect();
    // Each database's snapshots are judged under their own tag; one that a
    // server backup staying in the repository (kept, or not judged here)
    // names stays too, or that group would no longer restore.
    let removed: HashSet<&str> = judged
        .iter()
        .flat_map(|(_, _, verdicts)| verdicts.iter().filter(|v| v.keep.is_empty()))
        .map(|v| v.snapshot.id.as_str())
        .collect();
    let members: HashSet<String> = snapshots
        .iter()
        .filter(|s| !removed.contains(s.id.as_str()))
        .flat_map(group_members)
        .collect();
    for (_, _, verdicts) in &mut judged {
        for verdict in verdicts.iter_mut().filter(|v| v.keep.is_empty()) {
            if members.contains(&verdict.snapshot.id) {
                verdict.keep.push(KeepReason::Group);
            }
        }
    }
    let mut groups = Vec::new();
    for (tag, snapshots, verdicts) in judged {
        if !options.dry_run {
            for verdict in verdicts.iter().filter(|v| v.keep.is_empty()) {
                manifest::record_forget(repo, &verdict.snapshot)?;
                repo.backend().remove(&format!("snapshots/{}", verdict.snapshot.id))?;
            }
            let kept: HashSet<&str> = verdicts
                .iter()
                .filter(|v| !v.keep.is_empty())
                .map(|v| v.snapshot.id.as_str())
                .collect();
            repoint_latest(repo, &tag, snapshots.iter().filter(|s| kept.contains(s.id.as_str())))?;
        }
        groups.push(ForgetGroup { tag, verdicts });
    }
    Ok(groups)
}

/// The database snapshots a server backup's globals snapshot groups (the
/// group record `jobs::server::ServerGroup` writes); none for others.
fn group_members(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .manifest
        .metadata
        .get(manifest::SERVER_GROUP)
        .and_then(|group| group.get("databases"))
        .and_then(|databases| databases.as_object())
        .map(|databases| databases.values().filter_map(|id| id.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Removes the snapshots `specs` name (ids, id prefixes, `latest:NAME`),
/// whatever a policy would say: a person chose them ("delete that bad
/// backup"), checkpoints included. One marked keep-forever is refused
/// until unmarked, and nothing is removed then. Each name's latest pointer
/// moves to its newest remaining snapshot. Returns the snapshots removed
/// (or, with `dry_run`, that would be); `prune` frees their data.
pub fn forget_snapshots(repo: &Repository, specs: &[String], dry_run: bool, lock_wait: Duration) -> Result<Vec<SnapshotSummary>> {
    let lock = if dry_run {
        lock::acquire_for_reading(repo, "forget (dry run)", lock_wait)?
    } else {
        Some(lock::acquire(repo, true, "forget", lock_wait)?)
    };
    let manifest::SnapshotList {
        snapshots: remaining,
        damaged,
    } = manifest::list(repo)?;
    // An unreadable manifest may be the newest of a name: `latest:` would
    // then name an older one, and the pointer could move back past it.
    if let Some((id, e)) = damaged.into_iter().next() {
        return Err(Error::corrupt(
            format!("snapshot {id}"),
            format!("{e}; forget refuses to run until `lifeboat check` is clean"),
        ));
    }
    let kept_forever = pins::kept_forever(repo)?;
    let mut chosen: Vec<Snapshot> = Vec::new();
    for spec in specs {
        let snapshot = manifest::resolve(repo, spec)?;
        if kept_forever.contains(&snapshot.id) {
            return Err(Error::InvalidInput(format!(
                "snapshot {} is kept forever: run `lifeboat keep {} --off` first, then forget it",
                &snapshot.id[..8],
                &snapshot.id[..8]
            )));
        }
        if !chosen.iter().any(|c| c.id == snapshot.id) {
            chosen.push(snapshot);
        }
    }
    if dry_run {
        return Ok(chosen.iter().map(Snapshot::summary).collect());
    }
    if let Some(lock) = &lock {
        lock.verify()?;
    }
    for snapshot in &chosen {
        manifest::record_forget(repo, &snapshot.summary())?;
        repo.backend().remove(&format!("snapshots/{}", snapshot.id))?;
    }
    let tags: std::collections::BTreeSet<&str> = chosen.iter().map(|s| s.manifest.tag.as_str()).collect();
    for tag in tags {
        let left = remaining
            .iter()
            .filter(|s| s.manifest.tag == tag && !chosen.iter().any(|c| c.id == s.id));
        repoint_latest(repo, tag, left)?;
    }
    Ok(chosen.iter().map(Snapshot::summary).collect())
}

/// Points `tag`'s latest pointer at the newest of `remaining` that holds
/// data, or removes the pointer when none does.
fn repoint_latest<'a>(repo: &Repository, tag: &str, remaining: impl Iterator<Item = &'a Snapshot>) -> Result<()> {
    let newest = remaining
        .filter(|s| s.manifest.size > 0)
        .max_by(|a, b| a.manifest.recency().cmp(&b.manifest.recency()).then_with(|| a.id.cmp(&b.id)));
    match newest {
        Some(newest) => manifest::write_latest(repo, tag, newest),
        None => manifest::remove_latest(repo, tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::manifest::{Manifest, SnapshotKind, MANIFEST_VERSION};
    use chrono::{DateTime, Utc};

    fn snapshot(time: &str) -> Snapshot {
        let start: DateTime<Utc> = time.parse().unwrap();
        Snapshot {
            id: format!("{:0>64}", start.timestamp()),
            manifest: Manifest {
                version: MANIFEST_VERSION,
                tag: "db".into(),
                kind: SnapshotKind::Scheduled,
                label: None,
                host: "h".into(),
                user: "u".into(),
                start,
                end: start,
                size: 1,
                sha256: String::new(),
                chunks: 1,
                blob_lists: vec![],
                sketch_lists: vec![],
                metadata: Default::default(),
                generation: 0,
            },
        }
    }

    fn kept(snapshots: &[Snapshot], policy: RetentionPolicy) -> Vec<(String, Vec<KeepReason>)> {
        apply(snapshots, &policy, &HashSet::new(), &Utc, Utc::now())
            .into_iter()
            .filter(|v| !v.keep.is_empty())
            .map(|v| (v.snapshot.time.format("%Y-%m-%d %H:%M").to_string(), v.keep))
            .collect()
    }

    /// Four snapshots a day, 06:00 to 24:00, for 70 days from 2026-01-01.
    fn history() -> Vec<Snapshot> {
        let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        (0..70 * 4)
            .map(|i| snapshot(&(base + chrono::Duration::hours(6 * i + 6)).to_rfc3339()))
            .collect()
    }

    /// Every other day at 02:00 from January to March, with an afternoon
    /// backup on some days, a checkpoint, one kept forever and an empty one.
    fn irregular_history() -> (Vec<Snapshot>, HashSet<String>) {
        let base: DateTime<Utc> = "2026-01-01T02:00:00Z".parse().unwrap();
        let mut snapshots = Vec::new();
        for day in (0..90).step_by(2) {
            let morning = base + chrono::Duration::days(day);
            snapshots.push(snapshot(&morning.to_rfc3339()));
            if day % 10 == 0 {
                snapshots.push(snapshot(&(morning + chrono::Duration::hours(12)).to_rfc3339()));
            }
        }
        let mut checkpoint = snapshot("2026-03-15T10:00:00Z");
        checkpoint.manifest.kind = SnapshotKind::Checkpoint;
        let mut empty = snapshot("2026-03-31T03:00:00Z");
        empty.manifest.size = 0;
        snapshots.extend([checkpoint, empty]);
        let forever = HashSet::from([snapshot("2026-01-21T02:00:00Z").id]);
        (snapshots, forever)
    }

    /// Each policy over the same history, as a table of every snapshot and
    /// why it stays, pinned with insta (as rustic_core pins its keep-*).
    /// Days, weeks and months are the workstation's: here UTC+02:00, so the
    /// 22:00 UTC backups count for the next local day.
    #[test]
    fn policies_over_an_irregular_history() {
        let (mut snapshots, forever) = irregular_history();
        snapshots.push(snapshot("2026-02-27T22:00:00Z"));
        let tz = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let policies = [
            (
                "keep-last 3",
                RetentionPolicy {
                    keep_last: 3,
                    ..Default::default()
                },
            ),
            (
                "keep-daily 7",
                RetentionPolicy {
                    keep_daily: 7,
                    ..Default::default()
                },
            ),
            (
                "keep-weekly 4",
                RetentionPolicy {
                    keep_weekly: 4,
                    ..Default::default()
                },
            ),
            (
                "keep-monthly 2",
                RetentionPolicy {
                    keep_monthly: 2,
                    ..Default::default()
                },
            ),
            (
                "keep-last 2, daily 5, weekly 3, monthly 3",
                RetentionPolicy {
                    keep_last: 2,
                    keep_daily: 5,
                    keep_weekly: 3,
                    keep_monthly: 3,
                    ..Default::default()
                },
            ),
            (
                "keep-yearly 1",
                RetentionPolicy {
                    keep_yearly: 1,
                    ..Default::default()
                },
            ),
            (
                "keep-within 10d",
                RetentionPolicy {
                    keep_within_hours: 240,
                    ..Default::default()
                },
            ),
            (
                "keep-last 2, min-age 30d (now 2026-04-10)",
                RetentionPolicy {
                    keep_last: 2,
                    min_age_hours: 30 * 24,
                    ..Default::default()
                },
            ),
            (
                "keep-last 2, checkpoints expire after 14d (now 2026-04-10)",
                RetentionPolicy {
                    keep_last: 2,
                    checkpoint_expiry_hours: 14 * 24,
                    ..Default::default()
                },
            ),
            (
                "keep-daily 400 (more than exist)",
                RetentionPolicy {
                    keep_daily: 400,
                    ..Default::default()
                },
            ),
            ("no policy", RetentionPolicy::default()),
        ];
        let mut table = String::new();
        for (name, policy) in policies {
            table.push_str(&format!("== {name}\n"));
            let now = "2026-04-10T00:00:00Z".parse().unwrap();
            for verdict in apply(&snapshots, &policy, &forever, &tz, now) {
                let local = verdict.snapshot.time.with_timezone(&tz).format("%Y-%m-%d %a %H:%M");
                let reasons: Vec<String> = verdict.keep.iter().map(|r| format!("{r:?}").to_lowercase()).collect();
                let verdict_text = if reasons.is_empty() {
                    "remove".to_string()
                } else {
                    reasons.join(", ")
                };
                let size = if verdict.snapshot.size == 0 { " (empty)" } else { "" };
                table.push_str(&format!("{local}{size}  {verdict_text}\n"));
            }
        }
        insta::assert_snapshot!("policies_over_an_irregular_history", table);
    }

    #[test]
    fn keep_last_keeps_the_newest_by_recorded_time() {
        // Given out of order: order comes from the manifests' times.
        let snaps = vec![
            snapshot("2026-03-01T10:00:00Z"),
            snapshot("2026-03-03T10:00:00Z"),
            snapshot("2026-03-02T10:00:00Z"),
        ];
        let policy = RetentionPolicy {
            keep_last: 2,
            ..Default::default()
        };
        assert_eq!(
            kept(&snaps, policy),
            vec![
                ("2026-03-03 10:00".into(), vec![KeepReason::Last]),
                ("2026-03-02 10:00".into(), vec![KeepReason::Last])
            ]
        );
    }

    #[test]
    fn empty_snapshots_take_no_place_and_are_not_kept() {
        let mut empty = snapshot("2026-03-03T10:00:00Z");
        empty.manifest.size = 0;
        let snaps = vec![snapshot("2026-03-01T10:00:00Z"), snapshot("2026-03-02T10:00:00Z"), empty];
        let policy = RetentionPolicy {
            keep_last: 2,
            keep_daily: 1,
            ..Default::default()
        };
        assert_eq!(
            kept(&snaps, policy),
            vec![
                ("2026-03-02 10:00".into(), vec![KeepReason::Last, KeepReason::Daily]),
                ("2026-03-01 10:00".into(), vec![KeepReason::Last])
            ]
        );
    }

    #[test]
    fn checkpoints_and_keep_forever_are_exempt_and_take_no_place() {
        let mut checkpoint = snapshot("2026-03-04T10:00:00Z");
        checkpoint.manifest.kind = SnapshotKind::Checkpoint;
        let forever = snapshot("2026-03-01T10:00:00Z");
        let snaps = vec![
            snapshot("2026-03-02T10:00:00Z"),
            checkpoint,
            snapshot("2026-03-03T10:00:00Z"),
            forever.clone(),
        ];
        let policy = RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        };
        let verdicts: Vec<(String, Vec<KeepReason>)> = apply(&snaps, &policy, &HashSet::from([forever.id]), &Utc, Utc::now())
            .into_iter()
            .map(|v| (v.snapshot.time.format("%m-%d").to_string(), v.keep))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ("03-04".into(), vec![KeepReason::Checkpoint]),
                ("03-03".into(), vec![KeepReason::Last]),
                ("03-02".into(), vec![]),
                ("03-01".into(), vec![KeepReason::Forever]),
            ]
        );
    }

    #[test]
    fn keep_daily_keeps_newest_of_each_recent_day() {
        let policy = RetentionPolicy {
            keep_daily: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&history(), policy),
            vec![
                ("2026-03-12 00:00".into(), vec![KeepReason::Daily]),
                ("2026-03-11 18:00".into(), vec![KeepReason::Daily]),
                ("2026-03-10 18:00".into(), vec![KeepReason::Daily]),
            ]
        );
    }

    #[test]
    fn weekly_and_monthly_use_iso_weeks_and_calendar_months() {
        let policy = RetentionPolicy {
            keep_last: 1,
            keep_weekly: 2,
            keep_monthly: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&history(), policy),
            vec![
                (
                    "2026-03-12 00:00".into(),
                    vec![KeepReason::Last, KeepReason::Weekly, KeepReason::Monthly]
                ),
                // Sunday 2026-03-08 closes ISO week 10.
                ("2026-03-08 18:00".into(), vec![KeepReason::Weekly]),
                ("2026-02-28 18:00".into(), vec![KeepReason::Monthly]),
                ("2026-01-31 18:00".into(), vec![KeepReason::Monthly]),
            ]
        );
    }

    #[test]
    fn time_zone_moves_day_boundaries() {
        let snaps = vec![snapshot("2026-03-01T23:30:00Z"), snapshot("2026-03-01T20:00:00Z")];
        let policy = RetentionPolicy {
            keep_daily: 2,
            ..Default::default()
        };
        assert_eq!(
            apply(&snaps, &policy, &HashSet::new(), &Utc, Utc::now())
                .iter()
                .filter(|v| !v.keep.is_empty())
                .count(),
            1
        );
        let plus_two = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            apply(&snaps, &policy, &HashSet::new(), &plus_two, Utc::now())
                .iter()
                .filter(|v| !v.keep.is_empty())
                .count(),
            2
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A generated history: hours after 2024-01-01, kind, empty or
        /// not, marked keep-forever or not; and a policy and a `now`.
        /// Per snapshot: hours after the base, kind, empty, kept forever.
        type History = Vec<(u32, u8, bool, bool)>;

        fn case() -> impl Strategy<Value = (History, RetentionPolicy, u32)> {
            let snapshots = proptest::collection::vec(
                (
                    0u32..24 * 900,
                    0u8..6,
                    proptest::bool::weighted(0.05),
                    proptest::bool::weighted(0.05),
                ),
                1..80,
            );
            let policy = (
                0u32..4,
                0u32..8,
                0u32..5,
                0u32..4,
                0u32..3,
                prop_oneof![Just(0u32), 1u32..24 * 400],
                prop_oneof![Just(0u32), 1u32..24 * 400],
                prop_oneof![Just(0u32), 1u32..24 * 400],
            )
                .prop_map(|(last, daily, weekly, monthly, yearly, within, min_age, expiry)| RetentionPolicy {
                    keep_last: last,
                    keep_daily: daily,
                    keep_weekly: weekly,
                    keep_monthly: monthly,
                    keep_yearly: yearly,
                    keep_within_hours: within,
                    min_age_hours: min_age,
                    checkpoint_expiry_hours: expiry,
                })
                .prop_filter("a policy that keeps something", |p| !p.is_empty());
            (snapshots, policy, 24 * 900u32..24 * 1000)
        }

        fn build(spec: &[(u32, u8, bool, bool)]) -> (Vec<Snapshot>, HashSet<String>) {
            let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
            let mut forever = HashSet::new();
            let snapshots = spec
                .iter()
                .enumerate()
                .map(|(i, &(hour, kind, empty, pinned))| {
                    let mut s = snapshot(&(base + chrono::Duration::hours(i64::from(hour))).to_rfc3339());
                    s.id = format!("{i:0>64}");
                    s.manifest.kind = match kind {
                        0 => SnapshotKind::Checkpoint,
                        1 => SnapshotKind::Manual,
                        _ => SnapshotKind::Scheduled,
                    };
                    s.manifest.size = u64::from(!empty);
                    if pinned {
                        forever.insert(s.id.clone());
                    }
                    s
                })
                .collect();
            (snapshots, forever)
        }

        proptest! {
            #[test]
            fn no_rule_removes_what_the_policy_promises_to_keep((spec, policy, now_hours) in case()) {
                let (snapshots, forever) = build(&spec);
                let now = "2024-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::hours(i64::from(now_hours));
                let verdicts = apply(&snapshots, &policy, &forever, &Utc, now);
                prop_assert_eq!(verdicts.len(), snapshots.len());
                let removed: HashSet<&str> = verdicts.iter().filter(|v| v.keep.is_empty()).map(|v| v.snapshot.id.as_str()).collect();
                for s in &snapshots {
                    let age = now - s.manifest.start;
                    let is_removed = removed.contains(s.id.as_str());
                    if forever.contains(&s.id) {
                        prop_assert!(!is_removed, "kept forever");
                    }
                    let checkpoint_current = policy.checkpoint_expiry_hours == 0 || age < hours(policy.checkpoint_expiry_hours);
                    if s.manifest.kind == SnapshotKind::Checkpoint && checkpoint_current {
                        prop_assert!(!is_removed, "a checkpoint before its expiry");
                    }
                    if s.manifest.size > 0 && policy.min_age_hours > 0 && age < hours(policy.min_age_hours) {
                        prop_assert!(!is_removed, "younger than the minimum age");
                    }
                }
                let newest = snapshots.iter().filter(|s| s.manifest.size > 0).max_by(|a, b| a.manifest.recency().cmp(&b.manifest.recency()).then_with(|| a.id.cmp(&b.id)));
                if let Some(newest) = newest {
                    prop_assert!(!removed.contains(newest.id.as_str()), "the newest snapshot survives");
                }
                // The input's order is no input.
                let mut reversed = snapshots.clone();
                reversed.reverse();
                prop_assert_eq!(apply(&reversed, &policy, &forever, &Utc, now), verdicts);
            }
        }
    }
}
