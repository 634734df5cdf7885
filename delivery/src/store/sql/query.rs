//! A small builder for SQL with numbered (`$1`) placeholders, which both SQLite and
//! PostgreSQL accept, so one query text serves both backends.
//!
//! Hot statements with hundreds of parameters use [`Query::in_order`]: on SQLite it
//! writes anonymous `?` placeholders, because SQLite looks numbered parameters up
//! by name in a list, once per parameter — quadratic in the parameter count, and a
//! sixth of the CPU time of a loaded gateway before this.

use sqlx::any::{Any, AnyArguments};
use sqlx::{Arguments, Encode, Type};

use super::dialect::Dialect;
use crate::model::Bounds;
use crate::store::{StoreError, StoreResult};

/// Rows per multi-row `INSERT`: well under both backends' bound-parameter limits.
pub const INSERT_CHUNK: usize = 200;

pub struct Query {
    sql: String,
    args: AnyArguments<'static>,
    n: usize,
    /// Write `?` instead of `$n` (SQLite, placeholders used once each, in order).
    anonymous: bool,
    /// Planned for its values on each call instead of once (see [`Query::plan_each_call`]).
    replan: bool,
    error: Option<String>,
}

impl Query {
    pub fn new(sql: &str) -> Self {
        Query {
            sql: sql.to_owned(),
            args: AnyArguments::default(),
            n: 0,
            anonymous: false,
            replan: false,
            error: None,
        }
    }

    /// A query whose placeholders each appear once, in binding order.
    pub fn in_order(dialect: Dialect, sql: &str) -> Self {
        let mut q = Query::new(sql);
        q.anonymous = dialect == Dialect::Sqlite;
        q
    }

    /// Plans the statement for its values on every call. A list's best plan
    /// depends on how many rows its values match (a rare response status wants
    /// its index, a common one the id order); PostgreSQL's cached generic plan of
    /// a prepared statement picks one for all values, and counting a rare
    /// status that way reads half the table.
    pub fn plan_each_call(&mut self) -> &mut Self {
        self.replan = true;
        self
    }

    pub fn replans(&self) -> bool {
        self.replan
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'static, Any> + Type<Any> + Send + 'static,
    {
        self.n += 1;
        if self.anonymous {
            self.sql.push('?');
        } else {
            self.sql.push('$');
            self.sql.push_str(&self.n.to_string());
        }
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e.to_string());
        }
        self
    }

    /// Appends ` AND {col} = value` when a filter value is given.
    pub fn and_eq(&mut self, col: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value {
            self.push(" AND ").push(col).push(" = ").bind(v.clone());
        }
        self
    }

    /// Appends ` AND {col} IN (…)` when the list is not empty (`=` for one value).
    pub fn and_in(&mut self, col: &str, values: &[String]) -> &mut Self {
        match values {
            [] => self,
            [one] => self.push(" AND ").push(col).push(" = ").bind(one.clone()),
            many => self
                .push(" AND ")
                .push(col)
                .push(" IN ")
                .bind_list(many.iter().cloned()),
        }
    }

    /// Appends the terms of `b` on the integer column (or expression) `col`.
    pub fn and_bounds(&mut self, col: &str, b: &Bounds) -> &mut Self {
        // One value as `=`: PostgreSQL reads `IN (x)` as `= ANY(…)`, which an index
        // cannot also return in id order.
        match b.one_of.as_slice() {
            [] => {}
            [one] => {
                self.push(" AND ").push(col).push(" = ").bind(*one);
            }
            many => {
                self.push(" AND ")
                    .push(col)
                    .push(" IN ")
                    .bind_list(many.iter().copied());
            }
        }
        for (op, v) in [
            (" > ", b.gt),
            (" >= ", b.gte),
            (" < ", b.lt),
            (" <= ", b.lte),
        ] {
            if let Some(v) = v {
                self.push(" AND ").push(col).push(op).bind(v);
            }
        }
        self.and_set(col, b.set)
    }

    /// Appends ` AND {col} IS [NOT] NULL` for a yes/no filter on a nullable column
    /// (`Some(true)`: set, e.g. disabled; `Some(false)`: not set).
    pub fn and_set(&mut self, col: &str, set: Option<bool>) -> &mut Self {
        match set {
            Some(true) => self.push(" AND ").push(col).push(" IS NOT NULL"),
            Some(false) => self.push(" AND ").push(col).push(" IS NULL"),
            None => self,
        }
    }

    /// Appends one `(v1, v2, …)` VALUES row per item, comma-separated; `row` binds
    /// an item's values in column order.
    pub fn values<I: IntoIterator>(
        &mut self,
        items: I,
        mut row: impl FnMut(&mut Row<'_>, I::Item) -> Result<(), StoreError>,
    ) -> Result<&mut Self, StoreError> {
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(
                &mut Row {
                    q: self,
                    first: true,
                },
                item,
            )?;
            self.push(")");
        }
        Ok(self)
    }

    /// Appends `(v1, v2, …)` placeholders for an `IN` list.
    pub fn bind_list<T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: Encode<'static, Any> + Type<Any> + Send + 'static,
    {
        self.sql.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self.sql.push(')');
        self
    }

    /// Replaces the text, keeping the bound arguments (for statements that refer to
    /// the same placeholders in another shape).
    pub fn replace_sql(&mut self, sql: String) {
        debug_assert!(!self.anonymous, "numbered placeholders only");
        self.sql = sql;
    }

    pub fn build(self) -> Result<(String, AnyArguments<'static>), StoreError> {
        match self.error {
            Some(e) => Err(StoreError::Corrupt(format!("cannot bind argument: {e}"))),
            None => Ok((self.sql, self.args)),
        }
    }
}

/// One VALUES row being written: each value is separated from the last.
pub struct Row<'a> {
    q: &'a mut Query,
    first: bool,
}

impl Row<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.q.push(", ");
        }
        self.first = false;
    }

    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'static, Any> + Type<Any> + Send + 'static,
    {
        self.separate();
        self.q.bind(value);
        self
    }

    /// A literal SQL value (a constant, never input).
    pub fn sql(&mut self, literal: &'static str) -> &mut Self {
        self.separate();
        self.q.push(literal);
        self
    }
}

/// `UPDATE table SET every column but id WHERE id = $1`, from the binder that
/// writes the INSERT values: it binds `$1…$N` in the order of `cols`, id first, so
/// the same binder serves both statements.
pub fn update_all(
    table: &str,
    cols: &str,
    values: impl FnOnce(&mut Query) -> StoreResult<()>,
) -> StoreResult<Query> {
    let mut q = Query::new("");
    values(&mut q)?;
    let sets: Vec<String> = cols
        .split(',')
        .map(str::trim)
        .enumerate()
        .skip(1)
        .map(|(i, name)| format!("{name} = ${}", i + 1))
        .collect();
    q.replace_sql(format!(
        "UPDATE {table} SET {} WHERE id = $1",
        sets.join(", ")
    ));
    Ok(q)
}
