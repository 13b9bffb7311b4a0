//! Tags: created on first use by an article, described by moderators.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::accounts::model::bounded_text;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::audit::{AuditAction, Subject};
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{ArticleId, TagId, UserId};

pub const COLUMNS: &str = "id, name, description, color, articles_count, followers_count, \
     created_at, rules_markdown, rules_html, aliases";

pub const MAX_RULES: usize = 5_000;
pub const MAX_ALIASES: usize = 10;

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct Tag {
    pub id: TagId,
    pub name: String,
    pub description: String,
    pub color: Option<String>,
    pub articles_count: i32,
    pub followers_count: i32,
    pub created_at: DateTime<Utc>,
    /// The tag's rules, Markdown and its rendering: shown on the tag page and to writers.
    #[serde(default)]
    pub rules_markdown: String,
    #[serde(default)]
    pub rules_html: String,
    /// Other names that lead to this tag.
    #[serde(default)]
    pub aliases: Vec<String>,
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
        "SELECT at.article_id, t.id, t.name, t.description, t.color, t.articles_count, t.followers_count, t.created_at,
                t.rules_markdown, t.rules_html, t.aliases
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

/// Whether `viewer` moderates one of the tags named: a moderator or admin of the whole
/// instance, or a tag moderator of one of them.
pub async fn moderates(
    conn: &mut PgConnection,
    viewer: &Viewer,
    tag_names: &[String],
) -> AppResult<bool> {
    if viewer.require_role(Role::Moderator).is_ok() {
        return Ok(true);
    }
    if viewer.require_writer().is_err() || tag_names.is_empty() {
        return Ok(false);
    }
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tag_moderators tm JOIN tags t ON t.id = tm.tag_id
                        WHERE tm.user_id = $1 AND t.name = ANY($2))",
    )
    .bind(viewer.user_id)
    .bind(tag_names)
    .fetch_one(conn)
    .await?)
}

/// FORBIDDEN unless `viewer` [`moderates`] one of the tags named.
pub async fn require_moderator_for(
    conn: &mut PgConnection,
    viewer: &Viewer,
    tag_names: &[String],
) -> AppResult<()> {
    viewer.require_writer()?;
    if moderates(conn, viewer, tag_names).await? {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "This needs a moderator, or a moderator of one of the article's tags".to_owned(),
    ))
}

/// The names of the tags `user` moderates.
pub async fn moderated_by(conn: &mut PgConnection, user: UserId) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.name FROM tag_moderators tm JOIN tags t ON t.id = tm.tag_id WHERE tm.user_id = $1",
    )
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// `tags` with every alias replaced by the tag it names (duplicates merged, order kept).
pub async fn canonical(conn: &mut PgConnection, tags: Vec<String>) -> AppResult<Vec<String>> {
    if tags.is_empty() {
        return Ok(tags);
    }
    let aliased: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.alias, t.name FROM tags t, unnest(t.aliases) AS a(alias) WHERE t.aliases && $1",
    )
    .bind(&tags)
    .fetch_all(conn)
    .await?;
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let name = aliased
            .iter()
            .find(|(alias, _)| *alias == tag)
            .map_or(tag, |(_, name)| name.clone());
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The moderators of each tag, in one query.
pub async fn moderators_of(db: &PgPool, tags: &[TagId]) -> AppResult<HashMap<TagId, Vec<UserId>>> {
    let rows: Vec<(TagId, UserId)> = sqlx::query_as(
        "SELECT tm.tag_id, tm.user_id FROM tag_moderators tm JOIN users u ON u.id = tm.user_id
         WHERE tm.tag_id = ANY($1) AND u.deleted_at IS NULL ORDER BY tm.created_at",
    )
    .bind(tags)
    .fetch_all(db)
    .await?;
    let mut map: HashMap<TagId, Vec<UserId>> = HashMap::new();
    for (tag, user) in rows {
        map.entry(tag).or_default().push(user);
    }
    Ok(map)
}

/// An admin appoints `member` moderator of the tag `name` (`appoint` false: dismisses them).
pub async fn set_moderator(
    db: &PgPool,
    viewer: &Viewer,
    name: &str,
    member: UserId,
    appoint: bool,
) -> AppResult<Tag> {
    viewer.require_role(Role::Admin)?;
    let mut tx = db.begin().await?;
    let tag = sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tags WHERE name = lower($1)"
    )))
    .bind(name.trim().trim_start_matches('#'))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("No tag named {name}")))?;
    let changed = if appoint {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL AND role <> 'suspended')",
        )
        .bind(member)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Err(AppError::NotFound("No such member".to_owned()));
        }
        sqlx::query(
            "INSERT INTO tag_moderators (tag_id, user_id, appointed_by) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(tag.id)
        .bind(member)
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        sqlx::query("DELETE FROM tag_moderators WHERE tag_id = $1 AND user_id = $2")
            .bind(tag.id)
            .bind(member)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    };
    if changed > 0 {
        crate::domain::audit::audit(
            &mut tx,
            Some(viewer.user_id),
            if appoint {
                AuditAction::TagModeratorAdd
            } else {
                AuditAction::TagModeratorRemove
            },
            Subject::Tag(tag.id),
            "",
            serde_json::json!({ "member": member }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(tag)
}

/// What a tag's moderators may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct TagChanges {
    pub description: Option<String>,
    /// `Some("")` clears the colour.
    pub color: Option<String>,
    pub rules_markdown: Option<String>,
    pub aliases: Option<Vec<String>>,
}

fn parse_color(raw: String) -> AppResult<Option<String>> {
    let c = raw.trim().to_ascii_lowercase();
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if c.is_empty() {
        Ok(None)
    } else if ok {
        Ok(Some(c))
    } else {
        Err(AppError::bad_input("color", "color must be #rrggbb"))
    }
}

fn parse_rules(raw: String) -> AppResult<(String, String)> {
    let rules = bounded_text("rules", &raw, MAX_RULES)?;
    let html = crate::domain::markdown::render(&rules)
        .map_err(|refused| AppError::bad_input("rules", refused.to_string()))?;
    Ok((rules, html))
}

fn parse_aliases(raw: Vec<String>, name: &str) -> AppResult<Vec<String>> {
    if raw.len() > MAX_ALIASES {
        return Err(AppError::invalid(
            "aliases",
            Problem::TooLong,
            format!("at most {MAX_ALIASES} aliases"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for alias in raw {
        let alias = alias.trim().trim_start_matches('#').to_lowercase();
        let valid = (1..=30).contains(&alias.len())
            && alias
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(AppError::bad_input(
                "aliases",
                format!("aliases must be 1 to 30 letters or digits: {alias:?}"),
            ));
        }
        if alias == name {
            return Err(AppError::bad_input("aliases", "a tag is not its own alias"));
        }
        if !out.contains(&alias) {
            out.push(alias);
        }
    }
    Ok(out)
}

/// A tag's moderators (or the instance's) describe it: description, `#rrggbb` colour,
/// rules in Markdown and aliases, which no other tag may use as a name or an alias.
pub async fn update(
    db: &PgPool,
    viewer: &Viewer,
    name: &str,
    changes: TagChanges,
) -> AppResult<Tag> {
    viewer.require_writer()?;
    let name = name.trim().trim_start_matches('#').to_lowercase();
    let mut conn = db.acquire().await?;
    require_moderator_for(&mut conn, viewer, std::slice::from_ref(&name)).await?;
    drop(conn);
    let description = changes
        .description
        .map(|d| bounded_text("description", &d, 500))
        .transpose();
    let color = changes.color.map(parse_color).transpose();
    let rules = changes.rules_markdown.map(parse_rules).transpose();
    let aliases = changes.aliases.map(|a| parse_aliases(a, &name)).transpose();
    let (description, color, rules, aliases) = (description, color, rules, aliases).all_valid()?;
    let mut tx = db.begin().await?;
    if let Some(aliases) = &aliases {
        // One writer of aliases at a time, so two tags cannot take the same one.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tag_aliases'))")
            .execute(&mut *tx)
            .await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT a FROM unnest($1::text[]) AS a
             WHERE EXISTS (SELECT 1 FROM tags t WHERE t.name <> $2 AND (t.name = a OR a = ANY(t.aliases)))
             LIMIT 1",
        )
        .bind(aliases)
        .bind(&name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(taken) = taken {
            return Err(AppError::bad_input(
                "aliases",
                format!("{taken} is already a tag or another tag's alias"),
            ));
        }
    }
    let tag = sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(format!(
        "UPDATE tags SET description = COALESCE($2, description),
                color = CASE WHEN $3 THEN $4 ELSE color END,
                rules_markdown = COALESCE($5, rules_markdown),
                rules_html = COALESCE($6, rules_html),
                aliases = COALESCE($7, aliases)
         WHERE name = $1 RETURNING {COLUMNS}"
    )))
    .bind(&name)
    .bind(&description)
    .bind(color.is_some())
    .bind(color.clone().flatten())
    .bind(rules.as_ref().map(|r| &r.0))
    .bind(rules.as_ref().map(|r| &r.1))
    .bind(&aliases)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("No tag named {name}")))?;
    crate::domain::audit::audit(
        &mut tx,
        Some(viewer.user_id),
        AuditAction::TagUpdate,
        Subject::Tag(tag.id),
        "",
        serde_json::json!({
            "description": description,
            "color": color,
            "rules": rules.is_some(),
            "aliases": aliases,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(tag)
}
