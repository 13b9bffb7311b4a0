//! Keyset pagination for every list: Relay connections whose cursors encode the sort key
//! of an item, so pages neither skip nor repeat when rows are added between requests.
//!
//! A list resolver turns its `first/after/last/before` arguments into a [`PageRequest`],
//! runs one query shaped by it (`WHERE key > after AND key < before ORDER BY key
//! ASC|DESC LIMIT fetch_limit`), and hands the rows to [`PageRequest::into_connection`].

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// The arguments of a connection field.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
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

/// The complexity of a connection field: each of its items costs what its selection
/// costs, so a page of 100 costs five times a page of 20.
pub fn complexity(
    default_size: usize,
    first: Option<i32>,
    last: Option<i32>,
    child: usize,
) -> usize {
    let size = first
        .or(last)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(default_size);
    size.max(1).saturating_mul(child.max(1)).saturating_add(1)
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

impl<K: Serialize> PageRequest<K> {
    /// How many rows the query should fetch: one more than the page, to learn whether
    /// another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::try_from(self.size)
            .unwrap_or(i64::MAX)
            .saturating_add(1)
    }

    /// Builds the connection from rows fetched with [`Self::fetch_limit`], in query order
    /// (ascending for forward pages, descending for backward ones).
    pub fn into_connection<N: OutputType>(
        self,
        mut rows: Vec<N>,
        key: impl Fn(&N) -> K,
    ) -> AppResult<Connection<String, N, EmptyFields, EmptyFields>> {
        let more = rows.len() > self.size;
        rows.truncate(self.size);
        let (has_previous, has_next) = match self.direction {
            Direction::Forward => (self.after.is_some(), more),
            Direction::Backward => {
                rows.reverse();
                (more, self.before.is_some())
            }
        };
        let mut connection = Connection::new(has_previous, has_next);
        for row in rows {
            let cursor = encode_cursor(&key(&row))?;
            connection.edges.push(Edge::new(cursor, row));
        }
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(args: PageArgs, data: &[i32]) -> (Vec<i32>, bool, bool) {
        let request: PageRequest<i32> = args.parse(2, 10).unwrap();
        // What the SQL would return: keys strictly between the cursors, in query order.
        let mut rows: Vec<i32> = data
            .iter()
            .copied()
            .filter(|k| request.after.is_none_or(|a| *k > a))
            .filter(|k| request.before.is_none_or(|b| *k < b))
            .collect();
        if request.direction == Direction::Backward {
            rows.reverse();
        }
        rows.truncate(usize::try_from(request.fetch_limit()).unwrap());
        let connection = request.into_connection(rows, |n| *n).unwrap();
        let items = connection.edges.iter().map(|e| e.node).collect();
        (
            items,
            connection.has_previous_page,
            connection.has_next_page,
        )
    }

    #[test]
    fn forward_and_backward_pages() {
        let data = [1, 2, 3, 4, 5];
        assert_eq!(page(PageArgs::default(), &data), (vec![1, 2], false, true));
        let after = encode_cursor(&2).unwrap();
        let args = PageArgs {
            first: Some(3),
            after: Some(after),
            ..Default::default()
        };
        assert_eq!(page(args, &data), (vec![3, 4, 5], true, false));
        let args = PageArgs {
            last: Some(2),
            ..Default::default()
        };
        assert_eq!(page(args, &data), (vec![4, 5], true, false));
        let before = encode_cursor(&4).unwrap();
        let args = PageArgs {
            last: Some(2),
            before: Some(before),
            ..Default::default()
        };
        assert_eq!(page(args, &data), (vec![2, 3], true, true));
    }

    #[test]
    fn limits_and_bad_cursors_are_refused() {
        let too_big = PageArgs {
            first: Some(11),
            ..Default::default()
        };
        assert!(too_big.parse::<i32>(2, 10).is_err());
        let negative = PageArgs {
            last: Some(-1),
            ..Default::default()
        };
        assert!(negative.parse::<i32>(2, 10).is_err());
        let both = PageArgs {
            first: Some(1),
            last: Some(1),
            ..Default::default()
        };
        assert!(both.parse::<i32>(2, 10).is_err());
        let garbage = PageArgs {
            after: Some("%%%".into()),
            ..Default::default()
        };
        assert!(garbage.parse::<i32>(2, 10).is_err());
    }

    #[test]
    fn complexity_grows_with_page_size() {
        assert_eq!(complexity(20, None, None, 5), 101);
        assert_eq!(complexity(20, Some(100), None, 5), 501);
    }
}
