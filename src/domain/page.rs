//! Keyset pagination: cursors encode the sort key of an item, so pages neither skip nor
//! repeat when rows are added between requests.
//!
//! A list turns its `first/after/last/before` arguments into a [`PageRequest`], runs one
//! query shaped by it (`WHERE key > after AND key < before ORDER BY key ASC|DESC LIMIT
//! fetch_limit`), and the GraphQL edge turns the rows into a connection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;

use crate::error::{AppError, AppResult};

/// The arguments of a connection field.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// Relay's four arguments, as a field receives them.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }

    /// A forward-only page (`first`/`after`).
    pub fn forward(first: Option<i32>, after: Option<String>) -> Self {
        Self::new(first, after, None, None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`: ascending along the list's order.
    Forward,
    /// `last`/`before`: the query runs in reverse order; rows are flipped back afterwards.
    Backward,
}

/// A validated page request over sort keys of type `K`.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub after: Option<K>,
    pub before: Option<K>,
    pub size: usize,
    pub direction: Direction,
}

pub fn encode_cursor<K: Serialize>(key: &K) -> AppResult<String> {
    let json = serde_json::to_vec(key).map_err(AppError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

pub fn decode_cursor<K: DeserializeOwned>(field: &str, cursor: &str) -> AppResult<K> {
    let invalid = || AppError::bad_input(field, format!("\"{cursor}\" is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

impl PageArgs {
    /// Checks the arguments against the page-size limits and decodes the cursors.
    pub fn parse<K: DeserializeOwned>(
        &self,
        default_size: usize,
        max_size: usize,
    ) -> AppResult<PageRequest<K>> {
        if self.first.is_some() && self.last.is_some() {
            return Err(AppError::bad_input(
                "first",
                "pass either first or last, not both",
            ));
        }
        let check = |name: &str, n: i32| -> AppResult<usize> {
            match usize::try_from(n) {
                Ok(n) if n <= max_size => Ok(n),
                _ => Err(AppError::bad_input(
                    name,
                    format!("{name} must be between 0 and {max_size}"),
                )),
            }
        };
        let (size, direction) = match (self.first, self.last) {
            (_, Some(last)) => (check("last", last)?, Direction::Backward),
            (Some(first), None) => (check("first", first)?, Direction::Forward),
            (None, None) if self.before.is_some() => (default_size, Direction::Backward),
            (None, None) => (default_size, Direction::Forward),
        };
        Ok(PageRequest {
            after: self
                .after
                .as_deref()
                .map(|c| decode_cursor("after", c))
                .transpose()?,
            before: self
                .before
                .as_deref()
                .map(|c| decode_cursor("before", c))
                .transpose()?,
            size,
            direction,
        })
    }
}

/// A page of a newest-first list as its query sees it: rows `cmp_after` the key `after` and
/// `cmp_before` the key `before`, sorted `order`. Backward pages run the query the other
/// way (the keys and comparisons swap); `into_connection` flips the rows back. Callers
/// destructure it: `let Window { after, before, cmp_after, cmp_before, order } = ...`.
pub struct Window<K> {
    pub after: Option<K>,
    pub before: Option<K>,
    pub cmp_after: &'static str,
    pub cmp_before: &'static str,
    pub order: &'static str,
}

impl<K: Clone> PageRequest<K> {
    pub fn newest_first(&self) -> Window<K> {
        if self.backward() {
            Window {
                after: self.before.clone(),
                before: self.after.clone(),
                cmp_after: ">",
                cmp_before: "<",
                order: "ASC",
            }
        } else {
            Window {
                after: self.after.clone(),
                before: self.before.clone(),
                cmp_after: "<",
                cmp_before: ">",
                order: "DESC",
            }
        }
    }
}

impl<T: Clone> PageRequest<(DateTime<Utc>, T)> {
    /// The SQL that bounds and orders a page of rows sorted newest first by `(at, id)`,
    /// `at` a timestamp: the cursor parameters are `$n` to `$n+3` and the row limit
    /// `$n+4`, bound by [`PageRequest::bind_newest`]. It follows a `WHERE` or an `AND`.
    pub fn newest_sql(&self, at: &str, id: &str, n: usize) -> String {
        let Window {
            cmp_after,
            cmp_before,
            order,
            ..
        } = self.newest_first();
        let (b, c, d, limit) = (n + 1, n + 2, n + 3, n + 4);
        format!(
            "(${n}::timestamptz IS NULL OR ({at}, {id}) {cmp_after} (${n}, ${b}))
             AND (${c}::timestamptz IS NULL OR ({at}, {id}) {cmp_before} (${c}, ${d}))
             ORDER BY {at} {order}, {id} {order} LIMIT ${limit}"
        )
    }

    /// Binds the parameters of [`PageRequest::newest_sql`], in its order.
    pub fn bind_newest<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> QueryAs<'q, Postgres, O, PgArguments>
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        let Window { after, before, .. } = self.newest_first();
        let (after_at, after_id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
        let (before_at, before_id) = before.map_or((None, None), |(at, id)| (Some(at), Some(id)));
        query
            .bind(after_at)
            .bind(after_id)
            .bind(before_at)
            .bind(before_id)
            .bind(self.fetch_limit())
    }
}

impl<K> PageRequest<K> {
    /// How many rows the query should fetch: one more than the page, to learn whether
    /// another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::try_from(self.size)
            .unwrap_or(i64::MAX)
            .saturating_add(1)
    }

    pub fn backward(&self) -> bool {
        self.direction == Direction::Backward
    }
}

/// The most rows a list's total counts: a longer list is reported as this long, so a
/// count costs at most this many index entries whatever the size of the data.
pub const COUNT_CAP: i64 = 10_000;

/// A statement counting the rows of `from_where` (`FROM ... WHERE ...`), at most
/// [`COUNT_CAP`] of them.
pub fn capped_count_sql(from_where: &str) -> String {
    format!("SELECT count(*) FROM (SELECT 1 {from_where} LIMIT {COUNT_CAP}) counted")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cursor's float (a feed's hot rank) must come back to the bit, or keyset paging
    /// repeats or skips the row it names.
    #[test]
    fn cursors_keep_floats_to_the_bit() {
        let mut x: f64 = 1.0;
        for i in 0..20_000u32 {
            // Scores of the shape hot_rank gives: logs and divisions, many digits.
            x = (x * 1.618_033_988_749_895 + f64::from(i).ln_1p()).fract() * 1e4 + 1e-3;
            let key = (x, i);
            let back: (f64, u32) = decode_cursor("after", &encode_cursor(&key).unwrap()).unwrap();
            assert_eq!(back.0.to_bits(), x.to_bits(), "{x:e}");
        }
    }
}
