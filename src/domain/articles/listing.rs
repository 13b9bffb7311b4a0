//! Lists of live articles, newest first, with keyset pages on (published_at, id).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::model::{Article, COLUMNS, LIST_COLUMNS};
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::AppResult;
use crate::ids::{ArticleId, SeriesId, UserId};

pub type ArticleKey = (DateTime<Utc>, ArticleId);

/// What a list reads of each article beyond its own row, in the same statement: its
/// author (a join), which the list's resolvers would otherwise ask for in a statement of
/// their own. (Tags go through their loader: a per-row subquery building JSON cost
/// Postgres more than the statement it saves.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Includes {
    pub author: bool,
}

/// What [`Includes`] asked for, for one article.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    pub author: Option<crate::domain::accounts::User>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Extras {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            author: crate::domain::accounts::repo::author_from_row(row)?,
        })
    }
}

impl Includes {
    pub fn any(&self) -> bool {
        self.author
    }

    /// `sql`, a statement whose rows are articles (with any further columns), with each
    /// row also carrying what `self` asks for; in the order of `order_by` (columns of the
    /// inner rows, aliased `p`) when given.
    pub fn wrap(&self, sql: &str, order_by: Option<&str>) -> String {
        if !self.any() {
            return sql.to_owned();
        }
        let order = order_by
            .map(|o| format!(" ORDER BY {o}"))
            .unwrap_or_default();
        format!(
            "SELECT p.*, {author} FROM ({sql}) p LEFT JOIN users u ON u.id = p.user_id AND u.deleted_at IS NULL{order}",
            author = crate::domain::accounts::repo::AUTHOR_COLUMNS
        )
    }
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub tag: Option<String>,
    pub author: Option<UserId>,
    /// The articles of an organization.
    pub organization: Option<crate::ids::OrganizationId>,
    /// The author's own list: drafts and scheduled articles too.
    pub include_unpublished: bool,
    /// Only articles in this state.
    pub status: Option<super::ArticleStatus>,
}

fn prefixed() -> String {
    super::model::qualified(LIST_COLUMNS)
}

/// The articles a [`Filter`] keeps, over `$1` unpublished too, `$2` an author (or
/// co-author), `$3` the tag, `$4` the status, `$5` the organization.
const FILTERED: &str = "FROM articles a
     WHERE ($1::bool OR a.status = 'published')
       AND ($2::uuid IS NULL OR a.user_id = $2 OR a.co_author_ids @> ARRAY[$2::uuid])
       AND ($5::uuid IS NULL OR a.organization_id = $5)
       AND ($3::text IS NULL OR EXISTS (
            SELECT 1 FROM article_tags at JOIN tags t ON t.id = at.tag_id
            WHERE at.article_id = a.id AND t.name = $3))
       AND ($4::text IS NULL OR a.status = $4)";

/// How many articles [`latest`] lists for `filter` (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count(db: &PgPool, filter: &Filter) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(FILTERED)))
            .bind(filter.include_unpublished)
            .bind(filter.author)
            .bind(filter.tag.as_deref().map(str::to_lowercase))
            .bind(filter.status)
            .bind(filter.organization)
            .fetch_one(db)
            .await?,
    )
}

pub async fn latest(
    db: &PgPool,
    filter: &Filter,
    page: &PageRequest<ArticleKey>,
) -> AppResult<Vec<Article>> {
    // Drafts have no publication date: they sort by creation.
    let sql = format!(
        "SELECT {cols} {FILTERED} AND {page}",
        cols = prefixed(),
        page = page.newest_sql("COALESCE(a.published_at, a.created_at)", "a.id", 6),
    );
    let query = sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(sql))
        .bind(filter.include_unpublished)
        .bind(filter.author)
        .bind(filter.tag.as_deref().map(str::to_lowercase))
        .bind(filter.status)
        .bind(filter.organization);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// The sort key of an article in [`latest`].
pub fn key(article: &Article) -> ArticleKey {
    (
        article.published_at.unwrap_or(article.created_at),
        article.id,
    )
}

/// The live articles member `$1` bookmarked.
const SAVED: &str = "FROM reactions r JOIN articles a ON a.id = r.reactable_id
     WHERE r.user_id = $1 AND r.reactable_type = 'article' AND r.category = 'readinglist'
       AND a.status = 'published'";

/// How many articles `user`'s reading list holds (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn reading_list_count(db: &PgPool, user: UserId) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(SAVED)))
            .bind(user)
            .fetch_one(db)
            .await?,
    )
}

/// A member's reading list: live articles they bookmarked, newest bookmark first.
pub async fn reading_list(
    db: &PgPool,
    user: UserId,
    page: &PageRequest<ArticleKey>,
) -> AppResult<Vec<(Article, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT {cols}, r.created_at AS saved_at {SAVED} AND {page}",
        cols = prefixed(),
        page = page.newest_sql("r.created_at", "a.id", 2),
    );
    let query = sqlx::query_as::<_, Saved>(sqlx::AssertSqlSafe(sql)).bind(user);
    let rows = page.bind_newest(query).fetch_all(db).await?;
    Ok(rows.into_iter().map(|s| (s.article, s.saved_at)).collect())
}

#[derive(sqlx::FromRow)]
struct Saved {
    #[sqlx(flatten)]
    article: Article,
    saved_at: DateTime<Utc>,
}

/// Live articles by id, for loaders.
pub async fn by_ids(db: &PgPool, ids: &[ArticleId]) -> AppResult<Vec<Article>> {
    Ok(sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM articles WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Articles by id, whatever their status, each with what `includes` asks for.
pub async fn by_ids_with(
    db: &PgPool,
    ids: &[ArticleId],
    includes: Includes,
) -> AppResult<Vec<(Article, Extras)>> {
    let sql = includes.wrap(
        &format!("SELECT {COLUMNS} FROM articles WHERE id = ANY($1)"),
        None,
    );
    let rows = sqlx::query_as::<_, WithExtras>(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.article, r.extras)).collect())
}

#[derive(sqlx::FromRow)]
pub struct WithExtras {
    #[sqlx(flatten)]
    pub article: Article,
    #[sqlx(flatten)]
    pub extras: Extras,
}

/// The live articles of each series, in publication order, in one query.
pub async fn of_series(db: &PgPool, series_ids: &[SeriesId]) -> AppResult<Vec<Article>> {
    Ok(sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM articles WHERE series_id = ANY($1) AND status = 'published' ORDER BY published_at, id"
    )))
    .bind(series_ids)
    .fetch_all(db)
    .await?)
}
