//! What differs between the SQLite and PostgreSQL backends.

/// Which database a [`super::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// Row locking for work leases. PostgreSQL replicas skip rows another replica
    /// holds; SQLite has one writer connection, which already serialises leases.
    pub fn skip_locked(self, table_alias: &str) -> String {
        match self {
            Dialect::Postgres => format!(" FOR UPDATE OF {table_alias} SKIP LOCKED"),
            Dialect::Sqlite => String::new(),
        }
    }
}
