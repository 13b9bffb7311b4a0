//! Notifications: a comment on my article, a reply to my comment, an @mention, reactions on
//! my article or comment (grouped per item per day), new followers (grouped per day).
//! Created by worker jobs, never inside the request; nothing for my own actions, nothing
//! for muted kinds, nothing about content that is no longer live. Each job is idempotent:
//! rows are keyed (`group_key`), and a grouped row counts each actor once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::markdown;
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::AppResult;
use crate::ids::{ArticleId, CommentId, NotificationId, UserId};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationKind {
    Comment,
    Reply,
    Mention,
    Reaction,
    Follower,
}

crate::text_enum!(NotificationKind {
    Comment = "comment",
    Reply = "reply",
    Mention = "mention",
    Reaction = "reaction",
    Follower = "follower",
});
/// Read notifications older than this are deleted by a periodic job.
pub const KEEP_READ_DAYS: i32 = 90;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub actor_ids: Vec<UserId>,
    pub article_id: Option<ArticleId>,
    pub comment_id: Option<CommentId>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, user_id, kind, actor_ids, article_id, comment_id, read_at, created_at, updated_at";

/// Leaves out notifications about content that is no longer visible (an article taken back
/// to draft, a comment deleted or hidden since), and about members since blocked.
const STILL_VISIBLE: &str = "(article_id IS NULL OR EXISTS (SELECT 1 FROM articles a WHERE a.id = article_id AND a.status = 'published'))
     AND (comment_id IS NULL OR EXISTS (SELECT 1 FROM comments c WHERE c.id = comment_id AND c.deleted_at IS NULL AND c.hidden_at IS NULL))
     AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = user_id AND b.blocked_id = actor_ids[1])";

/// Records one actor's part in a notification; returns the recipient when a row was
/// created or grew (so it can be pushed live), `None` when muted, self-inflicted or
/// already recorded.
async fn record(
    db: &PgPool,
    recipient: UserId,
    actor: UserId,
    kind: NotificationKind,
    group_key: &str,
    article: Option<ArticleId>,
    comment: Option<CommentId>,
) -> AppResult<Option<UserId>> {
    if recipient == actor {
        return Ok(None);
    }
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, group_key, actor_ids, article_id, comment_id)
         SELECT $1, $2, $3, $4, ARRAY[$5::uuid], $6, $7
         WHERE NOT EXISTS (SELECT 1 FROM notification_settings s WHERE s.user_id = $2 AND $3 = ANY(s.muted))
           AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $2 AND b.blocked_id = $5)
           AND EXISTS (SELECT 1 FROM users u WHERE u.id = $2 AND u.deleted_at IS NULL)
         ON CONFLICT (user_id, group_key) DO UPDATE
            SET actor_ids = array_prepend($5::uuid, array_remove(notifications.actor_ids, $5::uuid)),
                read_at = NULL, updated_at = now()
            WHERE NOT ($5::uuid = ANY(notifications.actor_ids))",
    )
    .bind(NotificationId::generate())
    .bind(recipient)
    .bind(kind)
    .bind(group_key)
    .bind(actor)
    .bind(article)
    .bind(comment)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 && kind.emailable() {
        queue_mail(&mut tx, recipient, kind).await?;
    }
    tx.commit().await?;
    Ok((changed > 0).then_some(recipient))
}

/// How long notifications wait to be mailed together: replies in these minutes make one
/// message, and what is read in the app meanwhile is not mailed.
pub const MAIL_BATCH_MINUTES: i32 = 10;

/// The kinds mailed unless the member says otherwise.
pub const DEFAULT_EMAIL_KINDS: &[NotificationKind] = &[
    NotificationKind::Comment,
    NotificationKind::Reply,
    NotificationKind::Mention,
];

impl NotificationKind {
    /// Whether notifications of this kind can go by email (reactions and followers are
    /// in-app only).
    pub fn emailable(self) -> bool {
        DEFAULT_EMAIL_KINDS.contains(&self)
    }
}

/// Starts a batch of mail for `user` unless one is waiting: its job runs when the batch
/// closes. Only for a kind they get by email, at a confirmed address.
async fn queue_mail(
    tx: &mut sqlx::PgConnection,
    user: UserId,
    kind: NotificationKind,
) -> AppResult<()> {
    let queued: Option<(DateTime<Utc>, bool)> = sqlx::query_as(
        "INSERT INTO notification_mail_queue (user_id, due_at)
         SELECT $1, now() + make_interval(mins => $3)
         WHERE $2 = ANY(COALESCE((SELECT email_kinds FROM notification_settings WHERE user_id = $1),
                                 '{comment,reply,mention}'))
           AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL
                       AND email IS NOT NULL AND email_confirmed_at IS NOT NULL)
         -- A batch waiting already: the row is locked until this commits, so a batch
         -- closing meanwhile (it deletes the row first) sees this notification.
         ON CONFLICT (user_id) DO UPDATE SET due_at = notification_mail_queue.due_at
         RETURNING due_at, xmax = 0 AS inserted",
    )
    .bind(user)
    .bind(kind)
    .bind(MAIL_BATCH_MINUTES)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((due, true)) = queued {
        crate::jobs::enqueue_at(
            tx,
            &crate::jobs::Job::MailNotifications { user_id: user },
            Some(due),
        )
        .await?;
    }
    Ok(())
}

/// How much a member wants to hear of one article's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadLevel {
    /// Every comment.
    All,
    /// Replies to their comments, and mentions.
    RepliesAndMentions,
    /// Nothing from this thread.
    Muted,
}

crate::text_enum!(ThreadLevel {
    All = "all",
    RepliesAndMentions = "replies_and_mentions",
    Muted = "muted",
});

/// A member's level for a thread, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThreadSubscription {
    pub article_id: ArticleId,
    pub user_id: UserId,
    pub level: ThreadLevel,
}

/// Sets `user`'s level for `article`'s thread; with `only_new`, keeps a level they chose.
/// Authors start at ALL, commenters at REPLIES_AND_MENTIONS.
pub async fn subscribe(
    conn: &mut sqlx::PgConnection,
    user: UserId,
    article: ArticleId,
    level: ThreadLevel,
    only_new: bool,
) -> AppResult<()> {
    let sql = if only_new {
        "INSERT INTO thread_subscriptions (user_id, article_id, level) VALUES ($1, $2, $3)
         ON CONFLICT (article_id, user_id) DO NOTHING"
    } else {
        "INSERT INTO thread_subscriptions (user_id, article_id, level) VALUES ($1, $2, $3)
         ON CONFLICT (article_id, user_id) DO UPDATE SET level = EXCLUDED.level"
    };
    sqlx::query(sql)
        .bind(user)
        .bind(article)
        .bind(level)
        .execute(conn)
        .await?;
    Ok(())
}

/// `user`'s levels for `articles` (those they have one for).
pub async fn subscriptions(
    db: &PgPool,
    user: UserId,
    articles: &[ArticleId],
) -> AppResult<Vec<ThreadSubscription>> {
    Ok(sqlx::query_as::<_, ThreadSubscription>(
        "SELECT article_id, user_id, level FROM thread_subscriptions
         WHERE user_id = $1 AND article_id = ANY($2)",
    )
    .bind(user)
    .bind(articles)
    .fetch_all(db)
    .await?)
}

/// A new comment: its article's author, the author of the comment it answers, and the
/// members it mentions. Returns who was notified.
pub async fn on_comment(db: &PgPool, comment_id: CommentId) -> AppResult<Vec<UserId>> {
    #[derive(sqlx::FromRow)]
    struct Commented {
        actor: UserId,
        article: ArticleId,
        parent_author: Option<UserId>,
        body: String,
        article_author: UserId,
        co_authors: Vec<UserId>,
        live: bool,
    }
    let row = sqlx::query_as::<_, Commented>(
        "SELECT c.user_id AS actor, c.article_id AS article, p.user_id AS parent_author,
                c.body_markdown AS body, a.user_id AS article_author, a.co_author_ids AS co_authors,
                a.status = 'published' AS live
         FROM comments c JOIN articles a ON a.id = c.article_id LEFT JOIN comments p ON p.id = c.parent_id
         WHERE c.id = $1 AND c.deleted_at IS NULL AND c.hidden_at IS NULL",
    )
    .bind(comment_id)
    .fetch_optional(db)
    .await?;
    let Some(Commented {
        actor,
        article,
        parent_author,
        body,
        article_author,
        co_authors,
        live,
    }) = row
    else {
        return Ok(Vec::new());
    };
    if !live {
        return Ok(Vec::new());
    }
    let levels: std::collections::HashMap<UserId, ThreadLevel> =
        sqlx::query_as::<_, (UserId, ThreadLevel)>(
            "SELECT user_id, level FROM thread_subscriptions WHERE article_id = $1",
        )
        .bind(article)
        .fetch_all(db)
        .await?
        .into_iter()
        .collect();
    // Without a level of their own: the author hears of every comment, anyone else of
    // replies and mentions.
    let level = |user: UserId| {
        levels
            .get(&user)
            .copied()
            .unwrap_or(if user == article_author {
                ThreadLevel::All
            } else {
                ThreadLevel::RepliesAndMentions
            })
    };
    let mut notified = Vec::new();
    let mut told = std::collections::HashSet::from([actor]);
    let mut push = |r: Option<UserId>| notified.extend(r);
    // The author of the comment answered hears of a reply; the article's author of a
    // comment, unless they are the one answered.
    if let Some(parent) = parent_author.filter(|p| level(*p) != ThreadLevel::Muted) {
        told.insert(parent);
        push(
            record(
                db,
                parent,
                actor,
                NotificationKind::Reply,
                &format!("reply:{comment_id}"),
                Some(article),
                Some(comment_id),
            )
            .await?,
        );
    }
    // Every author (the article's and its co-authors) hears of a comment, unless answered.
    for author in std::iter::once(article_author).chain(co_authors) {
        if parent_author == Some(author)
            || told.contains(&author)
            || level(author) != ThreadLevel::All
        {
            continue;
        }
        told.insert(author);
        push(
            record(
                db,
                author,
                actor,
                NotificationKind::Comment,
                &format!("comment:{comment_id}"),
                Some(article),
                Some(comment_id),
            )
            .await?,
        );
    }
    let names = markdown::mentions(&body);
    if !names.is_empty() {
        let mentioned: Vec<UserId> = sqlx::query_scalar(
            "SELECT id FROM users WHERE username = ANY($1::citext[]) AND deleted_at IS NULL",
        )
        .bind(&names)
        .fetch_all(db)
        .await?;
        for user in mentioned {
            if !told.contains(&user) && level(user) != ThreadLevel::Muted {
                told.insert(user);
                push(
                    record(
                        db,
                        user,
                        actor,
                        NotificationKind::Mention,
                        &format!("mention:{comment_id}"),
                        Some(article),
                        Some(comment_id),
                    )
                    .await?,
                );
            }
        }
    }
    // Whoever asked for every comment of the thread.
    for (user, _) in levels.iter().filter(|(_, l)| **l == ThreadLevel::All) {
        if told.insert(*user) {
            push(
                record(
                    db,
                    *user,
                    actor,
                    NotificationKind::Comment,
                    &format!("comment:{comment_id}"),
                    Some(article),
                    Some(comment_id),
                )
                .await?,
            );
        }
    }
    Ok(notified)
}

/// A reaction on an article or comment: its author, grouped per item per day.
pub async fn on_reaction(
    db: &PgPool,
    actor: UserId,
    kind: &str,
    item: Uuid,
) -> AppResult<Vec<UserId>> {
    let row: Option<(UserId, ArticleId, Option<CommentId>)> = match kind {
        "article" => sqlx::query_as("SELECT user_id, id, NULL::uuid FROM articles WHERE id = $1 AND status = 'published'"),
        _ => sqlx::query_as(
            "SELECT c.user_id, c.article_id, c.id FROM comments c JOIN articles a ON a.id = c.article_id
             WHERE c.id = $1 AND c.deleted_at IS NULL AND a.status = 'published'",
        ),
    }
    .bind(item)
    .fetch_optional(db)
    .await?;
    let Some((author, article, comment)) = row else {
        return Ok(Vec::new());
    };
    let key = format!("reaction:{kind}:{item}:{}", Utc::now().format("%Y-%m-%d"));
    Ok(record(
        db,
        author,
        actor,
        NotificationKind::Reaction,
        &key,
        Some(article),
        comment,
    )
    .await?
    .into_iter()
    .collect())
}

/// A new follower, grouped per day.
pub async fn on_follow(db: &PgPool, follower: UserId, followed: UserId) -> AppResult<Vec<UserId>> {
    let key = format!("follower:{}", Utc::now().format("%Y-%m-%d"));
    Ok(record(
        db,
        followed,
        follower,
        NotificationKind::Follower,
        &key,
        None,
        None,
    )
    .await?
    .into_iter()
    .collect())
}

pub type NotificationKey = (DateTime<Utc>, NotificationId);

/// The notifications of member `$1` that [`list`] shows, only the unread ones when `$2`.
static LISTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("user_id = $1 AND (NOT $2 OR read_at IS NULL) AND {STILL_VISIBLE}")
});

/// How many notifications [`list`] shows `user` (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count(db: &PgPool, user: UserId, unread_only: bool) -> AppResult<i64> {
    let sql = capped_count_sql(&format!("FROM notifications WHERE {}", *LISTED));
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(unread_only)
        .fetch_one(db)
        .await?)
}

pub async fn list(
    db: &PgPool,
    user: UserId,
    unread_only: bool,
    page: &PageRequest<NotificationKey>,
) -> AppResult<Vec<Notification>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications WHERE {listed} AND {page}",
        listed = *LISTED,
        page = page.newest_sql("updated_at", "id", 3),
    );
    let query = sqlx::query_as::<_, Notification>(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(unread_only);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// `user`'s notifications among `ids` that its list would show (others' are absent).
pub async fn find_many(
    db: &PgPool,
    user: UserId,
    ids: &[NotificationId],
) -> AppResult<Vec<Notification>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND id = ANY($2) AND {STILL_VISIBLE}"
    );
    Ok(sqlx::query_as::<_, Notification>(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(ids)
        .fetch_all(db)
        .await?)
}

/// The member's newest notification, for the live push.
pub async fn latest(db: &PgPool, user: UserId) -> AppResult<Option<Notification>> {
    Ok(sqlx::query_as::<_, Notification>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 1"
    )))
    .bind(user)
    .fetch_optional(db)
    .await?)
}

pub async fn unread_count(db: &PgPool, user: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL AND {STILL_VISIBLE}"
    )))
    .bind(user)
    .fetch_one(db)
    .await?)
}

pub async fn mark_read(
    db: &PgPool,
    user: UserId,
    ids: Option<&[NotificationId]>,
) -> AppResult<u64> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = now()
         WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2))",
    )
    .bind(user)
    .bind(ids)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A member's notification settings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationSettings {
    pub user_id: UserId,
    /// Kinds never created.
    pub muted: Vec<NotificationKind>,
    /// Kinds also mailed.
    pub email_kinds: Vec<NotificationKind>,
    pub weekly_digest: bool,
    pub time_zone: String,
}

impl NotificationSettings {
    /// What a member who never changed anything has.
    pub fn defaults(user_id: UserId) -> Self {
        Self {
            user_id,
            muted: Vec::new(),
            email_kinds: DEFAULT_EMAIL_KINDS.to_vec(),
            weekly_digest: false,
            time_zone: "UTC".to_owned(),
        }
    }
}

/// The settings of `user` if it is among `ids` and has changed any (the caller falls back
/// to [`NotificationSettings::defaults`]); nobody else's.
pub async fn settings(
    db: &PgPool,
    user: UserId,
    ids: &[UserId],
) -> AppResult<Vec<NotificationSettings>> {
    Ok(sqlx::query_as::<_, NotificationSettings>(
        "SELECT user_id, muted, email_kinds, weekly_digest, time_zone FROM notification_settings
         WHERE user_id = $1 AND user_id = ANY($2)",
    )
    .bind(user)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

pub async fn set_muted(
    db: &PgPool,
    user: UserId,
    kinds: &[NotificationKind],
) -> AppResult<Vec<NotificationKind>> {
    let mut kinds = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    sqlx::query(
        "INSERT INTO notification_settings (user_id, muted) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET muted = EXCLUDED.muted",
    )
    .bind(user)
    .bind(&kinds)
    .execute(db)
    .await?;
    Ok(kinds)
}

/// The periodic clean-up.
pub async fn purge_read(db: &PgPool) -> AppResult<u64> {
    let done =
        sqlx::query("DELETE FROM notifications WHERE read_at < now() - make_interval(days => $1)")
            .bind(KEEP_READ_DAYS)
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}
