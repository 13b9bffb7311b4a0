//! Comments: threads of any depth on published articles. A deleted comment keeps its
//! place as "[deleted]"; one hidden by the article's author shows as hidden to others.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::articles::ArticleStatus;
use crate::domain::audit::{self, Subject};
use crate::domain::blocks;
use crate::domain::markdown;
use crate::domain::outbox::{self, WebhookEvent};
use crate::domain::page::capped_count_sql;
use crate::domain::spam;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ArticleId, CommentId, UserId};

pub const MAX_BODY: usize = 25_000;
pub const DELETED: &str = "[deleted]";
pub const HIDDEN: &str = "[hidden by the article's author]";

pub const COLUMNS: &str = "id, article_id, user_id, parent_id, depth, body_markdown, body_html, \
     score, reactions_count, replies_count, edited_at, deleted_at, hidden_at, hidden_by_moderator, created_at, tallies";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Comment {
    pub id: CommentId,
    pub article_id: ArticleId,
    pub user_id: UserId,
    pub parent_id: Option<CommentId>,
    pub depth: i32,
    pub body_markdown: String,
    pub body_html: String,
    pub score: i32,
    pub reactions_count: i32,
    pub replies_count: i32,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub hidden_at: Option<DateTime<Utc>>,
    /// Hidden by a moderator: the article's author cannot show it again.
    pub hidden_by_moderator: bool,
    /// Reactions per category, as the tallies hold them.
    pub tallies: sqlx::types::Json<std::collections::HashMap<String, i32>>,
    pub created_at: DateTime<Utc>,
}

impl Comment {
    /// Whether `viewer` may edit it: its author, unless suspended, while it is not deleted.
    pub fn may_update(&self, viewer: Option<&Viewer>) -> bool {
        self.deleted_at.is_none()
            && viewer.is_some_and(|v| v.user_id == self.user_id && v.require_writer().is_ok())
    }

    /// Whether `viewer` may delete it: its author (unless suspended) or a moderator, while
    /// it is not deleted.
    pub fn may_delete(&self, viewer: Option<&Viewer>) -> bool {
        self.may_update(viewer)
            || (self.deleted_at.is_none()
                && viewer.is_some_and(|v| v.require_role(Role::Moderator).is_ok()))
    }

    /// Whether `viewer` may react to it, or reply to it unless `blocked` (the article's
    /// author blocked them), on an article that is `live`.
    pub fn may_answer(&self, viewer: Option<&Viewer>, live: bool, blocked: bool) -> bool {
        live && !blocked
            && self.deleted_at.is_none()
            && viewer.is_some_and(|v| v.require_writer().is_ok())
    }

    /// Whether `viewer` reads the text: not for deleted comments, and for hidden ones only
    /// their author and the article's author.
    pub fn text_visible_to(&self, viewer: Option<&Viewer>, article_author: UserId) -> bool {
        if self.deleted_at.is_some() {
            return false;
        }
        self.hidden_at.is_none()
            || viewer.is_some_and(|v| v.user_id == self.user_id || v.user_id == article_author)
    }
}

fn parse_body(raw: &str) -> AppResult<(String, String, Vec<u8>)> {
    let body = raw.trim();
    let length = body.chars().count();
    if length == 0 || length > MAX_BODY {
        return Err(AppError::invalid(
            "bodyMarkdown",
            if length == 0 {
                Problem::Blank
            } else {
                Problem::TooLong
            },
            format!("a comment must be 1 to {MAX_BODY} characters long"),
        ));
    }
    if markdown::mentions(body).len() > crate::domain::articles::model::MAX_MENTIONS {
        return Err(AppError::bad_input("bodyMarkdown", "too many @mentions"));
    }
    let hash = Sha256::digest(body.as_bytes()).to_vec();
    let html = markdown::render(body)
        .map_err(|refused| AppError::bad_input("bodyMarkdown", refused.to_string()))?;
    Ok((body.to_owned(), html, hash))
}

async fn lock(tx: &mut sqlx::PgConnection, id: CommentId) -> AppResult<Comment> {
    sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM comments WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such comment".to_owned()))
}

/// What a comment needs of its article, locked for the counters; and, for a new
/// comment, whether its writer is banned from commenting, in the same statement.
#[derive(sqlx::FromRow)]
struct Parent {
    user_id: UserId,
    status: ArticleStatus,
    tag_names: Vec<String>,
    /// Why the discussion is locked, when it is.
    lock_reason: Option<String>,
    /// Why the writer is banned from commenting, when they are (`ban_until` its end).
    ban_reason: Option<String>,
    ban_until: Option<DateTime<Utc>>,
}

/// `writer`: who is about to comment (their ban is read too).
async fn article_of(
    tx: &mut sqlx::PgConnection,
    article_id: ArticleId,
    writer: Option<UserId>,
) -> AppResult<Parent> {
    sqlx::query_as(
        "SELECT a.user_id, a.status, a.tag_names,
                CASE WHEN a.discussion_locked_at IS NOT NULL THEN COALESCE(a.discussion_lock_reason, '') END AS lock_reason,
                b.reason AS ban_reason, b.until AS ban_until
         FROM articles a
         LEFT JOIN LATERAL (
            SELECT COALESCE(u.comment_ban_reason, '') AS reason, u.comment_ban_until AS until FROM users u
            WHERE u.id = $2 AND u.comment_banned_at IS NOT NULL
              AND (u.comment_ban_until IS NULL OR u.comment_ban_until > now())) b ON true
         WHERE a.id = $1 FOR UPDATE OF a",
    )
    .bind(article_id)
    .bind(writer)
    .fetch_optional(tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such article".to_owned()))
}

pub async fn create(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    article_id: ArticleId,
    parent_id: Option<CommentId>,
    body: &str,
) -> AppResult<Comment> {
    viewer.require_writer()?;
    let (markdown, html, hash) = parse_body(body)?;
    let mut tx = db.begin().await?;
    let parent_article = article_of(&mut tx, article_id, Some(viewer.user_id)).await?;
    let (author, status) = (parent_article.user_id, parent_article.status);
    if status != ArticleStatus::Published {
        return Err(if author == viewer.user_id {
            AppError::bad_input("articleId", "comments open once the article is published")
        } else {
            AppError::NotFound("No such article".to_owned())
        });
    }
    if let Some(reason) = &parent_article.lock_reason {
        return Err(AppError::Forbidden(format!(
            "The discussion on this article is locked: {reason}"
        )));
    }
    if let Some(reason) = &parent_article.ban_reason {
        return Err(AppError::Forbidden(format!(
            "You are banned from commenting{}: {reason}",
            parent_article
                .ban_until
                .map_or(String::new(), |u| format!(" until {}", u.to_rfc3339()))
        )));
    }
    if blocks::is_blocked(&mut *tx, author, viewer.user_id).await? {
        return Err(AppError::Forbidden(
            "The author of this article has blocked you".to_owned(),
        ));
    }
    let depth = match parent_id {
        None => 0,
        Some(parent) => {
            let parent = lock(&mut tx, parent).await?;
            if parent.article_id != article_id {
                return Err(AppError::bad_input(
                    "parentId",
                    "the parent comment is on another article",
                ));
            }
            if parent.deleted_at.is_some() {
                return Err(AppError::bad_input(
                    "parentId",
                    "the parent comment was deleted",
                ));
            }
            sqlx::query("UPDATE comments SET replies_count = replies_count + 1 WHERE id = $1")
                .bind(parent.id)
                .execute(&mut *tx)
                .await?;
            parent.depth + 1
        }
    };
    let comment = sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO comments (id, article_id, user_id, parent_id, depth, body_markdown, body_html, body_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    )))
    .bind(CommentId::generate())
    .bind(article_id)
    .bind(viewer.user_id)
    .bind(parent_id)
    .bind(depth)
    .bind(&markdown)
    .bind(&html)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(AppError::from)?;
    sqlx::query("UPDATE articles SET comments_count = comments_count + 1 WHERE id = $1")
        .bind(article_id)
        .execute(&mut *tx)
        .await?;
    crate::domain::ranking::refresh_one(&mut *tx, article_id).await?;
    let flagged =
        spam::flag_spam(&mut tx, settings, Subject::Comment(comment.id), &markdown).await?;
    crate::jobs::enqueue(
        &mut tx,
        &crate::jobs::Job::NotifyComment {
            comment_id: comment.id,
        },
    )
    .await?;
    announce(&mut tx, WebhookEvent::CommentCreated, &comment, author).await?;
    let level = if viewer.user_id == author {
        crate::domain::notifications::ThreadLevel::All
    } else {
        crate::domain::notifications::ThreadLevel::RepliesAndMentions
    };
    crate::domain::notifications::subscribe(&mut tx, viewer.user_id, article_id, level, true)
        .await?;
    tx.commit().await?;
    if flagged {
        // The stored score moved after the insert returned the row.
        return Ok(find(db, comment.id).await?.unwrap_or(comment));
    }
    Ok(comment)
}

pub async fn update(db: &PgPool, viewer: &Viewer, id: CommentId, body: &str) -> AppResult<Comment> {
    viewer.require_writer()?;
    let (markdown, html, hash) = parse_body(body)?;
    let mut tx = db.begin().await?;
    let (comment, parent) = lock_with_article(&mut tx, id).await?;
    let article_author = parent.user_id;
    if comment.user_id != viewer.user_id {
        return Err(AppError::Forbidden(
            "Only its author can edit a comment".to_owned(),
        ));
    }
    if comment.deleted_at.is_some() {
        return Err(AppError::NotFound("No such comment".to_owned()));
    }
    let previous = comment.body_markdown.clone();
    let comment = sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "UPDATE comments SET body_markdown = $2, body_html = $3, body_hash = $4, edited_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&markdown)
    .bind(&html)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(AppError::from)?;
    crate::domain::revisions::record(
        &mut tx,
        crate::domain::revisions::Edited::Comment,
        id.uuid(),
        viewer.user_id,
        &crate::domain::revisions::Version {
            body: &previous,
            ..Default::default()
        },
        &crate::domain::revisions::Version {
            body: &comment.body_markdown,
            ..Default::default()
        },
    )
    .await?;
    announce(
        &mut tx,
        WebhookEvent::CommentUpdated,
        &comment,
        article_author,
    )
    .await?;
    tx.commit().await?;
    Ok(comment)
}

/// Tells the webhooks of the comment's author, of its article's author and of the
/// instance what happened to it.
async fn announce(
    tx: &mut sqlx::PgConnection,
    event: WebhookEvent,
    comment: &Comment,
    article_author: UserId,
) -> AppResult<()> {
    outbox::record(
        tx,
        event,
        (outbox::Subject::Comment, comment.id.into()),
        &[comment.user_id, article_author],
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// By its author, or by a moderator or admin. The comment stays in the thread as "[deleted]".
/// Locks the comment's article, then the comment: the order `create` takes them in, so
/// concurrent writers on one thread never deadlock.
async fn lock_with_article(
    tx: &mut sqlx::PgConnection,
    id: CommentId,
) -> AppResult<(Comment, Parent)> {
    let article_id: ArticleId = sqlx::query_scalar("SELECT article_id FROM comments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("No such comment".to_owned()))?;
    let parent = article_of(tx, article_id, None).await?;
    Ok((lock(tx, id).await?, parent))
}

pub async fn delete(db: &PgPool, viewer: &Viewer, id: CommentId) -> AppResult<Comment> {
    crate::db::in_transaction(db, async |tx| delete_in(tx, viewer, id, None).await).await
}

/// Deletes in the caller's transaction. `moderating`: a moderator's action with its
/// reason, always audited; otherwise a moderator deleting someone else's comment is
/// audited without one.
pub async fn delete_in(
    tx: &mut sqlx::PgConnection,
    viewer: &Viewer,
    id: CommentId,
    moderating: Option<&str>,
) -> AppResult<Comment> {
    let (comment, parent) = lock_with_article(tx, id).await?;
    let article_author = parent.user_id;
    if comment.deleted_at.is_some() {
        return Err(AppError::NotFound("No such comment".to_owned()));
    }
    if comment.user_id == viewer.user_id && moderating.is_none() {
        viewer.require_writer()?;
    } else {
        viewer.require_role(Role::Moderator)?;
        audit::audit(
            tx,
            Some(viewer.user_id),
            crate::domain::audit::AuditAction::CommentDelete,
            Subject::Comment(id),
            moderating.unwrap_or(""),
            serde_json::json!({ "author": comment.user_id }),
        )
        .await?;
    }
    let comment = sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "UPDATE comments SET deleted_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE articles SET comments_count = comments_count - 1 WHERE id = $1")
        .bind(comment.article_id)
        .execute(&mut *tx)
        .await?;
    // `repliesCount` counts live replies, as `commentsCount` counts live comments.
    if let Some(parent) = comment.parent_id {
        sqlx::query("UPDATE comments SET replies_count = replies_count - 1 WHERE id = $1")
            .bind(parent)
            .execute(&mut *tx)
            .await?;
    }
    announce(tx, WebhookEvent::CommentDeleted, &comment, article_author).await?;
    Ok(comment)
}

/// By the article's author (or a moderator): the comment shows as hidden to others.
pub async fn set_hidden(
    db: &PgPool,
    viewer: &Viewer,
    id: CommentId,
    hidden: bool,
) -> AppResult<Comment> {
    crate::db::in_transaction(db, async |tx| {
        set_hidden_in(tx, viewer, id, hidden, None).await
    })
    .await
}

/// Hides or shows in the caller's transaction. `moderating`: a moderator's action with
/// its reason, always audited; otherwise a moderator acting under someone else's article
/// is audited without one.
pub async fn set_hidden_in(
    tx: &mut sqlx::PgConnection,
    viewer: &Viewer,
    id: CommentId,
    hidden: bool,
    moderating: Option<&str>,
) -> AppResult<Comment> {
    viewer.require_writer()?;
    let (comment, parent) = lock_with_article(tx, id).await?;
    let by_moderator = parent.user_id != viewer.user_id || moderating.is_some();
    if !by_moderator && comment.hidden_by_moderator {
        return Err(AppError::Forbidden(
            "A moderator hid this comment; only a moderator can show it again".to_owned(),
        ));
    }
    // The level of a moderator's hide: 2 the instance's moderators, 1 a tag moderator. A
    // hide is undone at its level or above.
    let level: i16 = if viewer.require_role(Role::Moderator).is_ok() {
        2
    } else {
        1
    };
    if by_moderator {
        // The instance's moderators, and the moderators of one of the article's tags.
        crate::domain::tags::require_moderator_for(tx, viewer, &parent.tag_names).await?;
        let hidden_level: Option<i16> =
            sqlx::query_scalar("SELECT hidden_level FROM comments WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if !hidden && comment.hidden_by_moderator && hidden_level.unwrap_or(0) > level {
            return Err(AppError::Forbidden(
                "A moderator hid this comment; only a moderator can show it again".to_owned(),
            ));
        }
        audit::audit(
            tx,
            Some(viewer.user_id),
            if hidden {
                crate::domain::audit::AuditAction::CommentHide
            } else {
                crate::domain::audit::AuditAction::CommentUnhide
            },
            Subject::Comment(id),
            moderating.unwrap_or(""),
            serde_json::json!({ "author": comment.user_id }),
        )
        .await?;
    }
    if comment.deleted_at.is_some() {
        return Err(AppError::NotFound("No such comment".to_owned()));
    }
    Ok(sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "UPDATE comments SET hidden_at = CASE WHEN $2 THEN COALESCE(hidden_at, now()) END,
                hidden_by_moderator = CASE WHEN $3 THEN $2 ELSE hidden_by_moderator END,
                hidden_level = CASE WHEN $3 AND $2 THEN GREATEST(COALESCE(hidden_level, 0), $4)
                                    WHEN $3 THEN NULL ELSE hidden_level END
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(hidden)
    .bind(by_moderator)
    .bind(level)
    .fetch_one(&mut *tx)
    .await?)
}

pub async fn find(db: &PgPool, id: CommentId) -> AppResult<Option<Comment>> {
    Ok(sqlx::query_as::<_, Comment>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM comments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// How one level of a thread is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Highest score first, then oldest.
    Top,
    Newest,
    Oldest,
}

/// Where a page of comments continues: the last comment's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key {
    pub score: i32,
    pub at: DateTime<Utc>,
    pub id: CommentId,
}

impl Key {
    pub fn of(comment: &Comment) -> Self {
        Self {
            score: comment.score,
            at: comment.created_at,
            id: comment.id,
        }
    }
}

/// One level of a thread as a page asks for it: its order, how many rows to read (the
/// page and one more, to tell whether there is a next page), and where it continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    pub order: Order,
    pub fetch: i64,
    pub after: Option<Key>,
}

impl Order {
    fn sql(self) -> &'static str {
        match self {
            Self::Top => "c.score DESC, c.created_at, c.id",
            Self::Newest => "c.created_at DESC, c.id DESC",
            Self::Oldest => "c.created_at, c.id",
        }
    }

    /// Sorts rows as [`Order::sql`] does.
    pub fn sort(self, comments: &mut [Comment]) {
        match self {
            Self::Top => {
                comments.sort_by_key(|c| (std::cmp::Reverse(c.score), c.created_at, c.id));
            }
            Self::Newest => comments.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id))),
            Self::Oldest => comments.sort_by_key(|c| (c.created_at, c.id)),
        }
    }
}

impl Order {
    /// The condition that keeps only rows after the cursor (`$3`, `$4`, `$5`: the
    /// cursor's score, time and id; no cursor when `$5` is null).
    fn after_sql(self) -> &'static str {
        match self {
            Self::Top => {
                " AND ($5::uuid IS NULL OR c.score < $3
                   OR (c.score = $3 AND (c.created_at, c.id) > ($4::timestamptz, $5::uuid)))"
            }
            Self::Newest => {
                " AND ($5::uuid IS NULL OR (c.created_at, c.id) < ($4::timestamptz, $5::uuid))"
            }
            Self::Oldest => {
                " AND ($5::uuid IS NULL OR (c.created_at, c.id) > ($4::timestamptz, $5::uuid))"
            }
        }
    }
}

/// A comment read with a page of a thread, with its author (unless deleted).
#[derive(Debug)]
pub struct Listed {
    pub comment: Comment,
    /// Its depth below the page's first level (0 for the first).
    pub level: i32,
    pub author: Option<crate::domain::accounts::User>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Listed {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        Ok(Self {
            comment: Comment::from_row(row)?,
            level: row.try_get("level")?,
            author: crate::domain::accounts::repo::author_from_row(row)?,
        })
    }
}

/// Comments the viewer reads: not those of members they blocked (nor, since a level is
/// read below the comments shown, the replies under them).
const VISIBLE: &str = "($2::uuid IS NULL OR NOT EXISTS
    (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $2 AND b.blocked_id = c.user_id))";

/// How many comments each list shows `viewer` (`$2`): for each id of `$1`, the rows of
/// `scope` (`c.<column> = p.id`), deleted ones included (they stay as placeholders),
/// at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP) each.
async fn counts<K>(
    db: &PgPool,
    scope: &str,
    ids: &[K],
    viewer: Option<UserId>,
) -> AppResult<Vec<(K, i64)>>
where
    K: sqlx::Type<sqlx::Postgres> + for<'r> sqlx::Decode<'r, sqlx::Postgres> + Send + Unpin,
    for<'q> &'q [K]: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let count = capped_count_sql(&format!("FROM comments c WHERE {scope} AND {VISIBLE}"));
    let sql = format!("SELECT p.id, ({count}) FROM unnest($1::uuid[]) p(id)");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(viewer)
        .fetch_all(db)
        .await?)
}

/// How many root comments each article's thread shows `viewer`.
pub async fn root_counts(
    db: &PgPool,
    articles: &[ArticleId],
    viewer: Option<UserId>,
) -> AppResult<Vec<(ArticleId, i64)>> {
    counts(
        db,
        "c.article_id = p.id AND c.parent_id IS NULL",
        articles,
        viewer,
    )
    .await
}

/// How many direct replies each comment shows `viewer`.
pub async fn reply_counts(
    db: &PgPool,
    parents: &[CommentId],
    viewer: Option<UserId>,
) -> AppResult<Vec<(CommentId, i64)>> {
    counts(db, "c.parent_id = p.id", parents, viewer).await
}

/// The statement's tail: every level's rows with their level and their authors (a join:
/// building a member's JSON per row had cost Postgres five times the rows themselves).
fn select_levels(levels: usize) -> String {
    let union = (0..levels)
        .map(|k| format!("SELECT l{k}.*, {k} AS level FROM l{k}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, t.level, {author}
         FROM ({union}) t LEFT JOIN users u ON u.id = t.user_id AND u.deleted_at IS NULL",
        author = crate::domain::accounts::repo::AUTHOR_COLUMNS
    )
}

/// Levels below the first: each the replies of the level above, a page of each (its
/// size in `$6`, `$7`, ...).
fn lower_levels(levels: &[Level]) -> String {
    levels
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, level)| {
            format!(
                ", l{k} AS (SELECT r.* FROM l{above} p CROSS JOIN LATERAL (
                    SELECT c.* FROM comments c WHERE c.parent_id = p.id AND {VISIBLE}
                    ORDER BY {order} LIMIT ${limit}) r)",
                above = k - 1,
                order = level.order.sql(),
                limit = 6 + k,
            )
        })
        .collect()
}

/// Rows past this many in one thread statement are refused: a page of a thread shows at
/// most this many comments, whatever its page sizes multiply to.
pub const MAX_THREAD_ROWS: usize = 5_000;

async fn run_levels(
    db: &PgPool,
    sql: String,
    first: ArticleId,
    parents: Option<&[CommentId]>,
    viewer: Option<UserId>,
    levels: &[Level],
) -> AppResult<Vec<Listed>> {
    let after = levels.first().and_then(|l| l.after);
    let sql = format!("{sql} LIMIT {}", MAX_THREAD_ROWS + 1);
    let mut query = sqlx::query_as::<_, Listed>(sqlx::AssertSqlSafe(sql));
    query = match parents {
        Some(parents) => query.bind(parents),
        None => query.bind(first),
    };
    query = query
        .bind(viewer)
        .bind(after.map(|k| k.score))
        .bind(after.map(|k| k.at))
        .bind(after.map(|k| k.id));
    for level in levels {
        query = query.bind(level.fetch);
    }
    let rows = query.fetch_all(db).await?;
    if rows.len() > MAX_THREAD_ROWS {
        return Err(AppError::bad_input(
            "first",
            format!(
                "this page of the thread holds more than {MAX_THREAD_ROWS} comments; ask for fewer replies per level"
            ),
        ));
    }
    Ok(rows)
}

/// A page of an article's root comments and, for each level in `levels` after the
/// first, a page of the replies of every comment of the level above: one statement,
/// whatever the size of the thread (each level reads through an index in its order and
/// stops at its page). Only the first level may continue after a cursor.
pub async fn thread_page(
    db: &PgPool,
    article_id: ArticleId,
    viewer: Option<UserId>,
    levels: &[Level],
) -> AppResult<Vec<Listed>> {
    let Some(roots) = levels.first() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "WITH l0 AS (SELECT c.* FROM comments c
            WHERE c.article_id = $1 AND c.parent_id IS NULL AND {VISIBLE}{after}
            ORDER BY {order} LIMIT $6){lower}
         {select}",
        after = roots.order.after_sql(),
        order = roots.order.sql(),
        lower = lower_levels(levels),
        select = select_levels(levels.len()),
    );
    run_levels(db, sql, article_id, None, viewer, levels).await
}

/// A page of the replies of each of `parents` (and levels below it, as in
/// [`thread_page`]), in one statement.
pub async fn replies_page(
    db: &PgPool,
    parents: &[CommentId],
    viewer: Option<UserId>,
    levels: &[Level],
) -> AppResult<Vec<Listed>> {
    let Some(first) = levels.first() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "WITH l0 AS (SELECT r.* FROM unnest($1::uuid[]) p(id) CROSS JOIN LATERAL (
            SELECT c.* FROM comments c WHERE c.parent_id = p.id AND {VISIBLE}{after}
            ORDER BY {order} LIMIT $6) r){lower}
         {select}",
        after = first.order.after_sql(),
        order = first.order.sql(),
        lower = lower_levels(levels),
        select = select_levels(levels.len()),
    );
    run_levels(
        db,
        sql,
        ArticleId(Uuid::nil()),
        Some(parents),
        viewer,
        levels,
    )
    .await
}
