//! A named restore point (`pg_create_restore_point`) before a risky
//! change: the physical twin of a Checkpoint. The WAL is switched right
//! after, and the job waits until the segment holding the point is in the
//! repository, so the point can be recovered to as soon as this returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::window::base_backups;
use crate::error::{Error, Result};
use crate::pg::inspect::{self, pg_error};
use crate::pg::wal::Lsn;
use crate::pg::ConnectionSpec;
use crate::repo::{wal, Repository};

/// PostgreSQL keeps restore point names below 64 bytes.
const LABEL_MAX: usize = 63;

#[derive(Clone, Debug, Serialize)]
pub struct RestorePointReport {
    pub name: String,
    pub label: String,
    pub lsn: Lsn,
    /// The WAL segment holding it, archived before this returned.
    pub segment: String,
    pub seconds: f64,
}

/// Creates restore point `label` on the server `spec` reaches, which must
/// be the cluster archive `name` holds, and waits up to `wait` for it to
/// be archived.
pub async fn create(repo: Arc<Repository>, spec: &ConnectionSpec, name: &str, label: &str, wait: Duration) -> Result<RestorePointReport> {
    let started = Instant::now();
    wal::validate_name(name)?;
    if label.is_empty() || label.len() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "`{label}` cannot be a restore point's name: use 1-{LABEL_MAX} bytes of printable text"
        )));
    }
    let (archive, repo_for_list) = (name.to_string(), repo.clone());
    let bases = crate::jobs::blocking(move || base_backups(&repo_for_list, &archive)).await?;
    let Some((_, newest)) = bases.last() else {
        return Err(Error::InvalidInput(format!(
            "`{name}` has no base backup yet: a restore point is recovered from one, so take it first (`lifeboat \
             base-backup --name {name}`)"
        )));
    };
    let mut conn = inspect::connect(spec).await?;
    let system_identifier: String = sqlx::query_scalar("SELECT system_identifier::text FROM pg_control_system()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| pg_error("inspecting", spec, e))?;
    if system_identifier != newest.system_identifier {
        return Err(Error::InvalidInput(format!(
            "{} is not the cluster archived as `{name}` (its system identifier is {system_identifier}, the archive's \
             {}): name the archive of this server",
            spec.display_url(),
            newest.system_identifier
        )));
    }
    let (lsn, segment): (String, String) = sqlx::query_as("SELECT lsn::text, pg_walfile_name(lsn) FROM pg_create_restore_point($1) AS lsn")
        .bind(label)
        .fetch_one(&mut conn)
        .await
        .map_err(|e| pg_error("creating a restore point on", spec, e))?;
    sqlx::query("SELECT pg_switch_wal()")
        .execute(&mut conn)
        .await
        .map_err(|e| pg_error("switching to a new WAL file on", spec, e))?;
    let lsn = Lsn::parse(&lsn)?;
    let deadline = Instant::now() + wait;
    loop {
        let (repo, archive, file) = (repo.clone(), name.to_string(), segment.clone());
        if crate::jobs::blocking(move || wal::read_record(&repo, &archive, &file))
            .await?
            .is_some()
        {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::InvalidInput(format!(
                "restore point `{label}` was created at {lsn}, but its WAL segment {segment} has not reached the \
                 repository after {} s: is the server's archive_command `lifeboat wal-push %p --name {name}`, and \
                 does it succeed (see the server's log)? The point is recoverable once that segment is archived",
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(RestorePointReport {
        name: name.to_string(),
        label: label.to_string(),
        lsn,
        segment,
        seconds: started.elapsed().as_secs_f64(),
    })
}
