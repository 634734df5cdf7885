//! Seeding a large store with SQL set operations (seeding through the gateway
//! would take longer than the measurement).

/// A query of the integers `1..=rows` as column `i`: `generate_series` on
/// PostgreSQL, a recursive series on SQLite.
pub fn number_series(postgres: bool, rows: i64) -> String {
    if postgres {
        format!("SELECT g::bigint AS i FROM generate_series(1, {rows}) AS g")
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) \
             SELECT i FROM s"
        )
    }
}
