//! The app's Schedules and Drills flows against a real, throwaway cluster:
//! a schedule with retention and its preview, drills run from the app with
//! their history, the drilled badge and the Overview card's freshness.

mod common;

use common::{save_cluster_connection, start_with_repository};
use lifeboat_api::*;
use lifeboat_core::jobs::drill::Probe;
use lifeboat_core::ops::SavedBackup;
use lifeboat_core::repo::retention::{KeepReason, RetentionPolicy};
use lifeboat_core::schedule::Freshness;
use lifeboat_testkit::PgCluster;

fn probe(name: &str, sql: &str, expect: &str) -> Probe {
    Probe {
        name: name.into(),
        sql: sql.into(),
        expect: expect.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_preview_retention_and_drills_run_from_the_app() {
    let cluster = PgCluster::start();
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql(
        "shop",
        "CREATE TABLE users (id serial PRIMARY KEY, name text); INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 25) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let app = start_with_repository(dir.path(), None).await;
    save_cluster_connection(&app, "shop", &cluster, "shop").await;
    let backup = |label: Option<&str>| BackupRequest {
        connection: "shop".into(),
        checkpoint_label: label.map(Into::into),
    };
    let backup_now = |request, job| {
        let app = &app;
        async move {
            match app.backup(request, job, |_| {}).await.unwrap() {
                SavedBackup::Database(report) => report,
                made => panic!("a connection to one database makes one snapshot: {made:?}"),
            }
        }
    };
    let first = backup_now(backup(None), 1).await;
    let checkpoint = backup_now(backup(Some("before upgrade")), 2).await;
    let newest = backup_now(backup(None), 3).await;
    let card = &app.databases().await.unwrap()[0];
    assert_eq!((card.freshness, card.next_backup), (Freshness::Unscheduled, None));

    // A bad schedule says what works and saves nothing.
    let mut form = ScheduleForm {
        connection: "shop".into(),
        backup: Some("every day".into()),
        retention: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        stale_after_seconds: None,
        drill: None,
        drill_server: None,
        probes: vec![],
        heartbeat: None,
        base_backup: None,
        wal_stream: false,
    };
    let bad = app.save_schedule(form.clone()).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidInput);
    assert_eq!(bad.field.as_deref(), Some("backup"), "the form shows it beside the backup schedule");
    assert!(bad.message.contains("daily 02:30"), "{bad:?}");
    assert!(app.schedules().await.unwrap().is_empty());
    let drill_nowhere = ScheduleForm {
        backup: None,
        drill: Some("weekly".into()),
        ..form.clone()
    };
    let bad = app.save_schedule(drill_nowhere).await.unwrap_err();
    assert_eq!((bad.code, bad.field.as_deref()), (ErrorCode::InvalidInput, Some("drill_server")));

    form.backup = Some("daily 02:30".into());
    // 90 minutes crosses to the UI and back whole (it once came back as 1 hour).
    form.stale_after_seconds = Some(5400);
    let view = app.save_schedule(form.clone()).await.unwrap();
    assert_eq!(view.form.stale_after_seconds, Some(5400));
    assert_eq!(
        app.save_schedule(view.form.clone()).await.unwrap().form.stale_after_seconds,
        Some(5400)
    );
    form.stale_after_seconds = None;
    // A heartbeat that is not a URL is refused beside its field; a good one round-trips.
    let bad = app
        .save_schedule(ScheduleForm {
            heartbeat: Some("hc.example/ping".into()),
            ..form.clone()
        })
        .await
        .unwrap_err();
    assert_eq!((bad.code, bad.field.as_deref()), (ErrorCode::InvalidInput, Some("heartbeat")));
    let with_heartbeat = ScheduleForm {
        heartbeat: Some("https://hc.example/ping/abc".into()),
        ..form.clone()
    };
    let view = app.save_schedule(with_heartbeat).await.unwrap();
    assert_eq!(view.form.heartbeat.as_deref(), Some("https://hc.example/ping/abc"));
    let view = app.save_schedule(form.clone()).await.unwrap();
    assert_eq!(view.form.heartbeat, None, "an empty field removes it");
    // Point-in-time recovery from the same form: base backups and the WAL stream.
    let bad = app
        .save_schedule(ScheduleForm {
            base_backup: Some("61 3 * * *".into()),
            ..form.clone()
        })
        .await
        .unwrap_err();
    assert_eq!((bad.code, bad.field.as_deref()), (ErrorCode::InvalidInput, Some("base_backup")));
    let pitr = app
        .save_schedule(ScheduleForm {
            base_backup: Some("daily 03:00".into()),
            wal_stream: true,
            ..form.clone()
        })
        .await
        .unwrap();
    assert_eq!((pitr.form.base_backup.as_deref(), pitr.form.wal_stream), (Some("0 3 * * *"), true));
    assert!(pitr.base_backup.next_run.is_some());
    assert_eq!(pitr.form.backup.as_deref(), Some("30 2 * * *"), "the dumps' schedule stays");
    let listed = app.schedules().await.unwrap();
    assert_eq!(
        (listed[0].form.base_backup.as_deref(), listed[0].form.wal_stream),
        (Some("0 3 * * *"), true)
    );
    // With base backups, a drill schedule needs no drill server: they are drilled on this workstation.
    let drilled_here = app
        .save_schedule(ScheduleForm {
            drill: Some("weekly".into()),
            ..pitr.form.clone()
        })
        .await
        .unwrap();
    assert!(drilled_here.drill.next_run.is_some());
    let view = app.save_schedule(form.clone()).await.unwrap();
    assert_eq!(
        (view.form.base_backup, view.form.wal_stream, view.base_backup.cron),
        (None, false, None)
    );
    assert_eq!(view.form.backup.as_deref(), Some("30 2 * * *"));
    assert!(view.backup.next_run.is_some());
    assert_eq!(view.drill.cron, None);

    // keep-last 1: the newest backup stays, the older one would go, the checkpoint is exempt.
    let preview = app.retention_preview("shop".into(), form.retention).await.unwrap();
    let verdicts: Vec<(&str, &[KeepReason])> = preview.iter().map(|e| (e.snapshot.id.as_str(), e.keep.as_slice())).collect();
    assert_eq!(
        verdicts,
        vec![
            (newest.snapshot_id.as_str(), &[KeepReason::Last][..]),
            (checkpoint.snapshot_id.as_str(), &[KeepReason::Checkpoint][..]),
            (first.snapshot_id.as_str(), &[][..]),
        ]
    );
    // A minimum age keeps what the counts would drop; the rules survive a save.
    let with_minimum = RetentionPolicy {
        min_age_hours: 720,
        keep_yearly: 2,
        ..form.retention
    };
    let preview = app.retention_preview("shop".into(), with_minimum).await.unwrap();
    assert_eq!(preview.last().unwrap().keep, vec![KeepReason::MinAge]);
    let saved = app
        .save_schedule(ScheduleForm {
            retention: with_minimum,
            ..form.clone()
        })
        .await
        .unwrap();
    assert_eq!(saved.form.retention, with_minimum);
    let keep_all = app.retention_preview("shop".into(), RetentionPolicy::default()).await.unwrap();
    assert!(keep_all.iter().all(|e| !e.keep.is_empty()), "no policy removes nothing");
    // Kept forever, the oldest one is out of the policy's reach.
    assert!(app.set_keep_forever(first.snapshot_id.clone(), true).await.unwrap().kept_forever);
    let preview = app.retention_preview("shop".into(), form.retention).await.unwrap();
    assert_eq!(preview.last().unwrap().keep, vec![KeepReason::Forever]);
    assert!(!app.set_keep_forever(first.snapshot_id.clone(), false).await.unwrap().kept_forever);

    let card = &app.databases().await.unwrap()[0];
    assert_eq!(card.freshness, Freshness::Green, "backed up just now, daily schedule");
    assert!(card.next_backup.is_some());

    // A drill from the app: passes, shows in the history and as a badge on the Timeline.
    let request = DrillRequest {
        snapshot_id: "latest:shop".into(),
        server: "shop".into(),
        probes: vec![probe("users exist", "select count(*) from users", ">= 1")],
        rehearse_major: None,
    };
    let report = app.drill(request.clone(), 4, |_| {}).await.unwrap();
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.snapshot_id, newest.snapshot_id);
    assert_eq!(report.checks.len(), 4);
    assert!(report.scratch_dropped);

    let failing = DrillRequest {
        probes: vec![probe("a hundred users", "select count(*) from users", ">= 100")],
        ..request
    };
    let report = app.drill(failing, 5, |_| {}).await.unwrap();
    assert!(!report.passed);
    assert_eq!(report.failed_check().unwrap().name, "probe: a hundred users");

    let history = app.drill_history("shop".into()).await.unwrap();
    let outcomes: Vec<bool> = history.iter().map(|d| d.report.as_ref().unwrap().passed).collect();
    assert_eq!(outcomes, vec![false, true], "newest first");
    assert!(
        history[0].summary.contains("failed the check probe: a hundred users"),
        "{:?}",
        history[0].summary
    );
    let timeline = app.timeline("shop".into()).await.unwrap();
    let drilled: Vec<&str> = timeline.iter().filter(|e| e.drilled).map(|e| e.summary.id.as_str()).collect();
    assert_eq!(drilled, vec![newest.snapshot_id.as_str()]);
    let card = &app.databases().await.unwrap()[0];
    assert_eq!(card.last_drill.as_ref().map(|d| d.run_id), Some(history[0].run_id));

    // The restore-test report lists both drills, one passed.
    let folder = tempfile::tempdir().unwrap();
    let page = folder.path().join("restore-tests.html");
    let report_of = |path: &std::path::Path, replace: bool| ReportRequest {
        since_days: 30,
        path: path.display().to_string(),
        replace,
    };
    let saved = app.export_report(report_of(&page, false)).await.unwrap();
    assert_eq!((saved.entries, saved.passed), (2, 1));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("2 drills and restores, 1 passed, 1 failed"), "{html}");
    let exists = app.export_report(report_of(&page, false)).await.unwrap_err();
    assert!(exists.message.contains("exists"), "{exists:?}");
    app.export_report(report_of(&page, true)).await.unwrap();
    let text = app
        .export_report(report_of(&folder.path().join("report.txt"), false))
        .await
        .unwrap_err();
    assert!(text.message.contains(".html or .pdf"), "{text:?}");

    // Notification preferences persist; successes are off until asked for.
    assert!(!app.notification_prefs().await.unwrap().successes);
    let mut prefs = app.notification_prefs().await.unwrap();
    prefs.successes = true;
    app.set_notification_prefs(prefs).await.unwrap();
    assert!(app.notification_prefs().await.unwrap().successes);

    // The drill schedule needs a server; removing the schedule keeps the snapshots.
    form.drill = Some("weekly sun 04:00".into());
    let no_server = app.save_schedule(form.clone()).await.unwrap_err();
    assert!(no_server.message.contains("needs a server"), "{no_server:?}");
    form.drill_server = Some("shop".into());
    assert_eq!(app.save_schedule(form).await.unwrap().form.drill.as_deref(), Some("0 4 * * 0"));
    app.remove_schedule("shop".into()).await.unwrap();
    assert!(app.schedules().await.unwrap().is_empty());
    assert_eq!(app.timeline("shop".into()).await.unwrap().len(), 3);
}
