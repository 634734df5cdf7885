//! [`Store`] over sqlx's `Any` driver: the same SQL for SQLite and PostgreSQL.
//!
//! SQLite gets one writer connection (SQLite serialises writers anyway; one
//! connection avoids `SQLITE_BUSY` retries) and a pool of readers, which WAL lets
//! run beside the writer. PostgreSQL uses one pool for both.

pub(super) mod connect;
pub(super) mod dialect;
pub(super) mod query;
pub(super) mod rows;
pub(super) mod scripts;
pub(super) mod text;

pub use connect::Store;
pub use dialect::Dialect;
