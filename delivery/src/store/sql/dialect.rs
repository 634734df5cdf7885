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

    /// A row lock held to the end of the transaction (PostgreSQL); SQLite's write
    /// transaction already holds the whole database.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// The database's clock in µs since the epoch, when replicas share it
    /// (PostgreSQL); `None` for SQLite, whose one process uses its own clock.
    pub fn clock_us(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => {
                Some("CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)")
            }
            Dialect::Sqlite => None,
        }
    }

    /// Names the index a query over `events e` must walk. SQLite, without table
    /// statistics, prefers the equality on `status` (every pending event, then a
    /// sort) to the `events_due` range that stops at the limit: with a million
    /// events waiting that is most of a second per dispatcher round. PostgreSQL
    /// picks `events_due` itself.
    pub fn events_due_index(self) -> &'static str {
        match self {
            Dialect::Sqlite => " INDEXED BY events_due",
            Dialect::Postgres => "",
        }
    }
}
