//! How long jobs report progress and learn they were cancelled.
//!
//! The engine never prints: it calls a [`Progress`] the caller supplies. The
//! CLI draws bars; the desktop app forwards to a Tauri channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Receives a job's progress; every method has a do-nothing default.
pub trait Progress: Send + Sync {
    /// A new phase begins (`"reading stream"`, `"checking packs"`...), with
    /// its total in bytes when known.
    fn phase(&self, _name: &str, _total_bytes: Option<u64>) {}
    /// `bytes` more bytes of the current phase are done.
    fn advance(&self, _bytes: u64) {}
    /// The current phase moved on to its `number`th item (a table being
    /// dumped or restored), called `name`.
    fn item(&self, _name: &str, _number: u64) {}
    /// Whether the caller asked the job to stop. Jobs check between units of
    /// work and return [`crate::Error::Cancelled`], leaving nothing half-done
    /// that an earlier snapshot depends on.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Progress that goes nowhere and is never cancelled.
pub struct NoProgress;
impl Progress for NoProgress {}

/// A cancellation flag a caller can set from another thread.
#[derive(Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
