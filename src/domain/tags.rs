//! Tags: created on first use by an article, described by moderators.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::accounts::model::bounded_text;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AllValid as _, AppError, AppResult};
use crate::ids::{ArticleId, TagId};

pub const COLUMNS: &str =
    "id, name, description, color, articles_count, followers_count, created_at";

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct Tag {
    pub id: TagId,
    pub name: String,
    pub description: String,
    pub color: Option<String>,
    pub articles_count: i32,
    pub followers_count: i32,
    pub created_at: DateTime<Utc>,
}

pub async fn by_name(db: &PgPool, name: &str) -> AppResult<Option<Tag>> {
    Ok(sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tags WHERE name = lower($1)"
    )))
    .bind(name.trim().trim_start_matches('#'))
    .fetch_optional(db)
    .await?)
}

pub async fn by_ids(db: &PgPool, ids: &[TagId]) -> AppResult<Vec<Tag>> {
    Ok(sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tags WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// The tags of each article, in the article's order, in one query.
pub async fn of_articles(
    db: &PgPool,
    article_ids: &[ArticleId],
) -> AppResult<HashMap<ArticleId, Vec<Tag>>> {
    let rows: Vec<(ArticleId, Tag)> = sqlx::query_as::<_, TagOfArticle>(
        "SELECT at.article_id, t.id, t.name, t.description, t.color, t.articles_count, t.followers_count, t.created_at
         FROM article_tags at JOIN tags t ON t.id = at.tag_id
         WHERE at.article_id = ANY($1) ORDER BY at.article_id, at.position",
    )
    .bind(article_ids)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.article_id, r.tag))
    .collect();
    let mut map: HashMap<ArticleId, Vec<Tag>> = HashMap::new();
    for (article, tag) in rows {
        map.entry(article).or_default().push(tag);
    }
    Ok(map)
}

#[derive(sqlx::FromRow)]
struct TagOfArticle {
    article_id: ArticleId,
    #[sqlx(flatten)]
    tag: Tag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOrder {
    /// Most live articles first.
    Popular,
    Name,
}

/// The sort key of a tag in a listing: (articles count, name); the count is 0 when sorting by name.
pub type TagKey = (i32, String);

/// How many tags there are (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count(db: &PgPool) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql("FROM tags")))
            .fetch_one(db)
            .await?,
    )
}

pub async fn list(db: &PgPool, order: TagOrder, page: &PageRequest<TagKey>) -> AppResult<Vec<Tag>> {
    let backward = page.backward();
    let (after, before) = if backward {
        (&page.before, &page.after)
    } else {
        (&page.after, &page.before)
    };
    let sql = match order {
        TagOrder::Popular => {
            // Popular: articles_count DESC, name ASC.
            let (a, b, c, d) = if backward {
                (">", "<", "ASC", "DESC")
            } else {
                ("<", ">", "DESC", "ASC")
            };
            format!(
                "SELECT {COLUMNS} FROM tags
                 WHERE ($1::int IS NULL OR articles_count {a} $1 OR (articles_count = $1 AND name {b} $2))
                   AND ($3::int IS NULL OR articles_count {b} $3 OR (articles_count = $3 AND name {a} $4))
                 ORDER BY articles_count {c}, name {d} LIMIT $5"
            )
        }
        TagOrder::Name => {
            let (a, b, c) = if backward {
                ("<", ">", "DESC")
            } else {
                (">", "<", "ASC")
            };
            format!(
                "SELECT {COLUMNS} FROM tags
                 WHERE ($1::int IS NULL OR name {a} $2) AND ($3::int IS NULL OR name {b} $4)
                 ORDER BY name {c} LIMIT $5"
            )
        }
    };
    Ok(sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(sql))
        .bind(after.as_ref().map(|k| k.0))
        .bind(after.as_ref().map(|k| k.1.clone()))
        .bind(before.as_ref().map(|k| k.0))
        .bind(before.as_ref().map(|k| k.1.clone()))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?)
}

/// Moderators describe tags: a description and a `#rrggbb` colour.
pub async fn update(
    db: &PgPool,
    viewer: &Viewer,
    name: &str,
    description: Option<String>,
    color: Option<String>,
) -> AppResult<Tag> {
    viewer.require_role(Role::Moderator)?;
    let description = description
        .map(|d| bounded_text("description", &d, 500))
        .transpose();
    let color = color
        .map(|c| {
            let c = c.trim().to_ascii_lowercase();
            let ok = c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
            if c.is_empty() {
                Ok(None)
            } else if ok {
                Ok(Some(c))
            } else {
                Err(AppError::bad_input("color", "color must be #rrggbb"))
            }
        })
        .transpose();
    let (description, color) = (description, color).all_valid()?;
    let mut tx = db.begin().await?;
    let tag = sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(format!(
        "UPDATE tags SET description = COALESCE($2, description),
                color = CASE WHEN $3 THEN $4 ELSE color END
         WHERE name = lower($1) RETURNING {COLUMNS}"
    )))
    .bind(name.trim())
    .bind(&description)
    .bind(color.is_some())
    .bind(color.clone().flatten())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("No tag named {name}")))?;
    crate::domain::audit::audit(
        &mut tx,
        Some(viewer.user_id),
        crate::domain::audit::AuditAction::TagUpdate,
        crate::domain::audit::Subject::Tag(tag.id),
        "",
        serde_json::json!({ "description": description, "color": color }),
    )
    .await?;
    tx.commit().await?;
    Ok(tag)
}
