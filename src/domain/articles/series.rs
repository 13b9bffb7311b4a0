//! Series: an author's ordered collections of articles, named in front matter or the
//! editor, with a slug and a description of their own.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{MAX_TITLE, make_slug};
use crate::domain::accounts::Viewer;
use crate::domain::accounts::model::bounded_text;
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{SeriesId, UserId};

const COLUMNS: &str = "s.id, s.user_id, s.title, s.slug, s.description, s.created_at";

/// The most characters a series' description holds.
pub const MAX_DESCRIPTION: usize = 1_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Series {
    pub id: SeriesId,
    pub user_id: UserId,
    pub title: String,
    pub slug: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// Where a series sits in its author's list: newest first.
pub type SeriesKey = (DateTime<Utc>, SeriesId);

/// The author's series with this title, created on first use: its id.
pub async fn upsert(conn: &mut PgConnection, user_id: UserId, title: &str) -> AppResult<SeriesId> {
    Ok(sqlx::query_scalar(
        "INSERT INTO series (id, user_id, title, slug) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, title) DO UPDATE SET title = EXCLUDED.title RETURNING id",
    )
    .bind(SeriesId::generate())
    .bind(user_id)
    .bind(title)
    .bind(make_slug(title))
    .fetch_one(conn)
    .await?)
}

/// Series by id.
pub async fn by_ids(db: &PgPool, ids: &[SeriesId]) -> AppResult<Vec<Series>> {
    Ok(sqlx::query_as::<_, Series>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM series s WHERE s.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Member `$1`'s series that viewer `$2` may see: their own all, others' only those with
/// a live article (a series named only by drafts is still private).
const SHOWN: &str = "FROM series s WHERE s.user_id = $1
     AND ($2::uuid = s.user_id
          OR EXISTS (SELECT 1 FROM articles a WHERE a.series_id = s.id AND a.status = 'published'))";

/// A page of `user`'s series that `viewer` may see, newest first.
pub async fn of_member(
    db: &PgPool,
    user: UserId,
    viewer: Option<UserId>,
    page: &PageRequest<SeriesKey>,
) -> AppResult<Vec<Series>> {
    let sql = format!(
        "SELECT {COLUMNS} {SHOWN} AND {page}",
        page = page.newest_sql("s.created_at", "s.id", 3)
    );
    let query = sqlx::query_as::<_, Series>(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(viewer);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// How many of `user`'s series `viewer` may see (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count_of_member(db: &PgPool, user: UserId, viewer: Option<UserId>) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(SHOWN)))
            .bind(user)
            .bind(viewer)
            .fetch_one(db)
            .await?,
    )
}

/// Renames a series or rewrites its description (`None` leaves a field as it is): its
/// author only. The slug stays, so links keep working.
pub async fn update(
    db: &PgPool,
    viewer: &Viewer,
    id: SeriesId,
    title: Option<&str>,
    description: Option<&str>,
) -> AppResult<Series> {
    viewer.require_writer()?;
    let title = title
        .map(|t| {
            let t = bounded_text("title", t, MAX_TITLE)?;
            if t.is_empty() {
                return Err(AppError::invalid(
                    "title",
                    Problem::Blank,
                    "title is required",
                ));
            }
            Ok(t)
        })
        .transpose();
    let description = description
        .map(|d| bounded_text("description", d, MAX_DESCRIPTION))
        .transpose();
    let (title, description) = (title, description).all_valid()?;
    sqlx::query_as::<_, Series>(sqlx::AssertSqlSafe(format!(
        "UPDATE series s SET title = COALESCE($3, title), description = COALESCE($4, description)
         WHERE s.id = $1 AND s.user_id = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(viewer.user_id)
    .bind(title)
    .bind(description)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::NotFound("No such series of yours".to_owned()))
}
