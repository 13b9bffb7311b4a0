//! Relay connections over keyset pages (see [`crate::domain::page`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::connection::{CursorType as _, Edge, EmptyFields, PageInfo};
use async_graphql::{Object, ObjectType, OutputType, TypeName};
use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use serde::Serialize;

pub use crate::domain::page::{Direction, PageArgs, PageRequest, decode_cursor, encode_cursor};
use crate::error::{AppError, AppResult};

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

/// The page size a connection's complexity counts when neither `first` nor `last` is given
/// and no schema has been built yet.
pub const DEFAULT_PAGE: usize = 20;

/// The largest `graphql.default_page_size` of the schemas this process built. A field's
/// complexity is a plain function the engine calls without the schema's data, so the
/// configured size reaches it here; the largest is kept so that a page is never counted
/// as smaller than it can be.
static COUNTED_DEFAULT_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Records a schema's default page size (see [`COUNTED_DEFAULT_PAGE`]).
pub fn count_default_page(size: usize) {
    COUNTED_DEFAULT_PAGE.fetch_max(size, Ordering::Relaxed);
}

/// The page size counted when a connection is asked for without `first` or `last`.
pub fn default_page() -> usize {
    match COUNTED_DEFAULT_PAGE.load(Ordering::Relaxed) {
        0 => DEFAULT_PAGE,
        size => size,
    }
}

/// The complexity of a connection field, with the configured default page size: what
/// every connection field declares (`complexity = "pagination::connection(first, last,
/// child_complexity)"`).
pub fn connection(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    complexity(default_page(), first, last, child)
}

/// What a search costs beyond its page: several index scans and a ranking, tens of times
/// the work of a keyed list. With `graphql.max_complexity` it bounds searches per window.
pub const SEARCH_COST: usize = 200;

/// What a selected `totalCount` costs: a count may read up to `COUNT_CAP` index entries,
/// far more than the one field it looks like.
pub const COUNT_COST: usize = 20;

/// What loading an article's comment thread costs beyond its page.
pub const THREAD_COST: usize = 50;

/// A page of a Relay connection: named `<Node>Connection` after the type it lists, with
/// `<Node>Edge` edges, the shared `PageInfo` and the fields of `F` (by default the list's
/// `totalCount`).
pub struct Conn<N: OutputType, F: ObjectType = Counted> {
    pub edges: Vec<Edge<String, N, EmptyFields>>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub fields: F,
}

impl<N: OutputType> Conn<N, EmptyFields> {
    pub fn new(has_previous_page: bool, has_next_page: bool) -> Self {
        Self {
            edges: Vec::new(),
            has_previous_page,
            has_next_page,
            fields: EmptyFields,
        }
    }

    /// The page, with the length of the whole list.
    pub fn counted(self, total: Total) -> Conn<N> {
        Conn {
            edges: self.edges,
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            fields: Counted(total),
        }
    }
}

impl<N: OutputType, F: ObjectType> TypeName for Conn<N, F> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

/// One page of a list (a Relay connection): the items on it as edges, each with the cursor
/// to page from, and where the page sits in the list. Page forward with `first` and
/// `after: pageInfo.endCursor`, backward with `last` and `before: pageInfo.startCursor`.
#[Object(name_type)]
impl<N: OutputType, F: ObjectType> Conn<N, F> {
    /// Whether there are items before and after this page, and the cursors to reach them.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(|edge| edge.cursor.encode_cursor()),
            end_cursor: self.edges.last().map(|edge| edge.cursor.encode_cursor()),
        }
    }

    /// The items on this page, in the list's order, each with its cursor.
    async fn edges(&self) -> &[Edge<String, N, EmptyFields>] {
        &self.edges
    }

    /// The items on this page without their cursors, in the list's order.
    async fn nodes(&self) -> Vec<&N> {
        self.edges.iter().map(|e| &e.node).collect()
    }

    #[graphql(flatten)]
    async fn fields(&self) -> &F {
        &self.fields
    }
}

/// The length of a whole list: a stored counter, or a statement that runs only when a
/// client selects `totalCount` (once, however often it is selected).
#[derive(Clone)]
pub enum Total {
    Known(i64),
    Later(Shared<BoxFuture<'static, Result<i64, Arc<AppError>>>>),
}

impl Total {
    /// A counter already at hand.
    pub fn known(count: i32) -> Self {
        Self::Known(i64::from(count))
    }

    /// A count to run if it is asked for.
    pub fn later<E: Into<Arc<AppError>>>(
        count: impl Future<Output = Result<i64, E>> + Send + 'static,
    ) -> Self {
        Self::Later(count.map(|r| r.map_err(Into::into)).boxed().shared())
    }
}

/// The fields a counted list adds to its connection.
pub struct Counted(Total);

#[Object]
impl Counted {
    /// How many items the whole list holds, over all its pages. Lists without a stored
    /// counter are counted up to 10,000: a longer one answers 10,000. Costs 20 points of
    /// complexity.
    #[graphql(complexity = "crate::graphql::pagination::COUNT_COST")]
    async fn total_count(&self) -> async_graphql::Result<i32> {
        let count = match &self.0 {
            Total::Known(count) => *count,
            Total::Later(count) => count.clone().await?,
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

pub trait IntoConnection<K> {
    /// Builds the connection from rows fetched with [`PageRequest::fetch_limit`], in query
    /// order (ascending for forward pages, descending for backward ones).
    fn into_connection<N: OutputType>(
        self,
        rows: Vec<N>,
        key: impl Fn(&N) -> K,
    ) -> AppResult<Conn<N, EmptyFields>>;

    /// The same, for rows whose sort key is not part of the node.
    fn into_keyed_connection<N: OutputType>(
        self,
        rows: Vec<(K, N)>,
    ) -> AppResult<Conn<N, EmptyFields>>;
}

impl<K: Serialize> IntoConnection<K> for PageRequest<K> {
    fn into_connection<N: OutputType>(
        self,
        rows: Vec<N>,
        key: impl Fn(&N) -> K,
    ) -> AppResult<Conn<N, EmptyFields>> {
        let keyed = rows.into_iter().map(|n| (key(&n), n)).collect();
        self.into_keyed_connection(keyed)
    }

    fn into_keyed_connection<N: OutputType>(
        self,
        mut rows: Vec<(K, N)>,
    ) -> AppResult<Conn<N, EmptyFields>> {
        let more = rows.len() > self.size;
        rows.truncate(self.size);
        let (has_previous, has_next) = match self.direction {
            Direction::Forward => (self.after.is_some(), more),
            Direction::Backward => {
                rows.reverse();
                (more, self.before.is_some())
            }
        };
        let mut connection = Conn::new(has_previous, has_next);
        for (key, node) in rows {
            connection.edges.push(Edge::new(encode_cursor(&key)?, node));
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
