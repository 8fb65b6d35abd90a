//! Jobs over PostgreSQL databases: one file per operation. Each takes an
//! options struct, reports through [`crate::progress::Progress`], and
//! returns a typed report.

pub mod backup;
pub mod drill;
pub mod import;
pub mod local_drill;
pub mod pitr;
pub mod restore;
pub mod server;
mod spool;

use crate::error::{Error, Result};

/// Runs engine work that blocks (repository reads) off the async threads.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("the job stopped unexpectedly: {e}")))?
}
