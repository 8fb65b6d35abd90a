//! Jobs over PostgreSQL databases: one file per operation. Each takes an
//! options struct, reports through [`crate::progress::Progress`], and
//! returns a typed report.

pub mod backup;
pub mod drill;
pub mod import;
pub mod restore;
mod spool;
