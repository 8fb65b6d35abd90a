//! The TypeScript declarations of every type that crosses IPC, generated
//! from the Rust types into `ui/src/lib/bindings.ts`. A test fails when the
//! committed file is stale; `LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p
//! lifeboat-api bindings` rewrites it.

use lifeboat_core::catalog::OffsiteCopy;
use lifeboat_core::catalog::{RunKind, RunStatus};
use lifeboat_core::channels::{Delivery, Route, WebhookFormat};
use lifeboat_core::connections::{Connection, ConnectionCheck, ServerScope};
use lifeboat_core::events::{Event, EventKind, SnapshotFacts};
use lifeboat_core::jobs::backup::BackupReport;
use lifeboat_core::jobs::drill::{DrillCheck, DrillReport, Probe};
use lifeboat_core::jobs::local_drill::{ExtensionOnTarget, LocalRun};
use lifeboat_core::jobs::pitr::onto_server::RecoverOntoReport;
use lifeboat_core::jobs::restore::{PlacedBeside, Preflight, RestoreReport, TableCount, VerifyReport};
use lifeboat_core::jobs::server::{DatabaseFailure, ServerBackupReport, ServerRestoreReport};
use lifeboat_core::notify::NotificationPrefs;
use lifeboat_core::ops::channel::ChannelSummary;
use lifeboat_core::ops::SavedBackup;
use lifeboat_core::pg::binaries::{BinariesSource, ServerInstall};
use lifeboat_core::pg::facts::PgFacts;
use lifeboat_core::pg::inspect::Extension;
use lifeboat_core::pg::TlsMode;
use lifeboat_core::repo::manifest::{SnapshotKind, SnapshotSummary};
use lifeboat_core::repo::read::CatReport;
use lifeboat_core::repo::retention::{KeepReason, RetentionPolicy};
use lifeboat_core::schedule::Freshness;
use lifeboat_core::tokens::{ApiToken, TokenScope};
use ts_rs::{Config, TS};

use crate::dto::*;
use crate::error::{ApiError, ErrorCode};

fn declaration<T: TS>(config: &Config) -> String {
    format!("export {}\n", T::decl(config))
}

/// The whole generated file.
pub fn typescript() -> String {
    // JSON numbers: byte counts stay far below 2^53.
    let config = Config::new().with_large_int("number");
    let declarations = [
        declaration::<ApiError>(&config),
        declaration::<PitrArchive>(&config),
        declaration::<PitrWindow>(&config),
        declaration::<PitrRestoreRequest>(&config),
        declaration::<RecoverOntoReport>(&config),
        declaration::<ChannelRequest>(&config),
        declaration::<ChannelSummary>(&config),
        declaration::<CheckpointApiView>(&config),
        declaration::<ApiTokenRequest>(&config),
        declaration::<NewApiToken>(&config),
        declaration::<ApiToken>(&config),
        declaration::<TokenScope>(&config),
        declaration::<Delivery>(&config),
        declaration::<Event>(&config),
        declaration::<EventKind>(&config),
        declaration::<SnapshotFacts>(&config),
        declaration::<Route>(&config),
        declaration::<WebhookFormat>(&config),
        declaration::<ErrorCode>(&config),
        declaration::<AppStatus>(&config),
        declaration::<OpenRepository>(&config),
        declaration::<KnownRepository>(&config),
        declaration::<Unlock>(&config),
        declaration::<AccessKey>(&config),
        declaration::<TestLocationRequest>(&config),
        declaration::<LocationTest>(&config),
        declaration::<CreateRequest>(&config),
        declaration::<OpenRequest>(&config),
        declaration::<RepositoryOverview>(&config),
        declaration::<TagInfo>(&config),
        declaration::<SnapshotSummary>(&config),
        declaration::<SnapshotKind>(&config),
        declaration::<KeychainStatus>(&config),
        declaration::<KeySlotInfo>(&config),
        declaration::<KeyKind>(&config),
        declaration::<AddKeyRequest>(&config),
        declaration::<RecoveryKitRequest>(&config),
        declaration::<RecoveryKitSaved>(&config),
        declaration::<CheckResult>(&config),
        declaration::<PruneResult>(&config),
        declaration::<JobProgress>(&config),
        declaration::<ActivityFilter>(&config),
        declaration::<ActivityEntry>(&config),
        declaration::<ReportRequest>(&config),
        declaration::<ReportSaved>(&config),
        declaration::<RunKind>(&config),
        declaration::<RunStatus>(&config),
        declaration::<ConnectionFields>(&config),
        declaration::<TlsMode>(&config),
        declaration::<SaveConnectionRequest>(&config),
        declaration::<DiscoverRequest>(&config),
        declaration::<ServerDatabases>(&config),
        declaration::<Connection>(&config),
        declaration::<ServerScope>(&config),
        declaration::<ConnectionCheck>(&config),
        declaration::<DatabaseCard>(&config),
        declaration::<OffsiteStatus>(&config),
        declaration::<OffsiteCopy>(&config),
        declaration::<BackupRequest>(&config),
        declaration::<BackupReport>(&config),
        declaration::<SavedBackup>(&config),
        declaration::<ServerBackupReport>(&config),
        declaration::<DatabaseFailure>(&config),
        declaration::<TimelineEntry>(&config),
        declaration::<SnapshotDetail>(&config),
        declaration::<PgFacts>(&config),
        declaration::<Extension>(&config),
        declaration::<VerifyReport>(&config),
        declaration::<ExportRequest>(&config),
        declaration::<CatReport>(&config),
        declaration::<RestoreRequest>(&config),
        declaration::<Preflight>(&config),
        declaration::<RestoreReport>(&config),
        declaration::<ServerRestoreRequest>(&config),
        declaration::<ServerRestoreReport>(&config),
        declaration::<TableCount>(&config),
        declaration::<PlacedBeside>(&config),
        declaration::<Freshness>(&config),
        declaration::<ScheduleForm>(&config),
        declaration::<RetentionPolicy>(&config),
        declaration::<Probe>(&config),
        declaration::<JobStatus>(&config),
        declaration::<ScheduleView>(&config),
        declaration::<RetentionPreviewEntry>(&config),
        declaration::<KeepReason>(&config),
        declaration::<DrillRequest>(&config),
        declaration::<DrillReport>(&config),
        declaration::<DrillCheck>(&config),
        declaration::<LocalRun>(&config),
        declaration::<ExtensionOnTarget>(&config),
        declaration::<ServerInstall>(&config),
        declaration::<BinariesSource>(&config),
        declaration::<DrillHistoryEntry>(&config),
        declaration::<NotificationPrefs>(&config),
        declaration::<DesktopSettings>(&config),
        declaration::<serde_json::Value>(&config),
    ];
    format!(
        "// Generated from the Rust types by crates/lifeboat-api/src/bindings.rs: do not edit.\n\
         // Regenerate with LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-api bindings\n\n{}",
        declarations.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn bindings_file_is_up_to_date() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts");
        let generated = super::typescript();
        if std::env::var_os("LIFEBOAT_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-api bindings` and commit it",
            path.display()
        );
    }
}
