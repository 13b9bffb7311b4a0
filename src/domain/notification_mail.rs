//! Notifications by email. Each kind has a channel: off (muted), in the app, or in the app
//! and by email (comments, replies and mentions only). A notification that goes by email
//! starts a batch (see `notifications::queue_mail`); when the batch closes, ten minutes
//! later, one message carries what the member has not read in the app by then, and
//! nothing is sent when they read it all. A weekly digest of the top articles in what they
//! follow is opt-in, sent on Monday at 8 in their time zone.
//!
//! Every message carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058): a
//! signed address that unsubscribes with one POST, no sign-in needed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::notifications::{NotificationKind, NotificationSettings};
use crate::config::Settings;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::UserId;
use crate::jobs::{self, Job, JobContext, JobError};
use crate::mail::templates;

/// Where a kind of notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Off,
    InApp,
    InAppAndEmail,
}

/// A member's channels for every kind, in the kinds' order.
pub fn channels(settings: &NotificationSettings) -> Vec<(NotificationKind, Channel)> {
    NotificationKind::ALL
        .iter()
        .map(|kind| {
            let channel = if settings.muted.contains(kind) {
                Channel::Off
            } else if settings.email_kinds.contains(kind) {
                Channel::InAppAndEmail
            } else {
                Channel::InApp
            };
            (*kind, channel)
        })
        .collect()
}

/// Sets the channel of one kind.
pub async fn set_channel(
    db: &PgPool,
    user: UserId,
    kind: NotificationKind,
    channel: Channel,
) -> AppResult<()> {
    if channel == Channel::InAppAndEmail && !kind.emailable() {
        return Err(AppError::invalid(
            "channel",
            Problem::Invalid,
            "only comments, replies and mentions can also go by email",
        ));
    }
    sqlx::query(
        "INSERT INTO notification_settings (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user)
    .execute(db)
    .await?;
    sqlx::query(
        "UPDATE notification_settings SET
            muted = CASE WHEN $3 = 'off' THEN array_append(array_remove(muted, $2), $2)
                         ELSE array_remove(muted, $2) END,
            email_kinds = CASE WHEN $3 = 'email' THEN array_append(array_remove(email_kinds, $2), $2)
                               ELSE array_remove(email_kinds, $2) END
         WHERE user_id = $1",
    )
    .bind(user)
    .bind(kind)
    .bind(match channel {
        Channel::Off => "off",
        Channel::InApp => "app",
        Channel::InAppAndEmail => "email",
    })
    .execute(db)
    .await?;
    Ok(())
}

/// Turns the weekly digest on or off, and sets the time zone it is sent in (an IANA name,
/// e.g. `Europe/Paris`, as Postgres knows them).
pub async fn set_digest(
    db: &PgPool,
    user: UserId,
    weekly: bool,
    time_zone: Option<&str>,
) -> AppResult<()> {
    if let Some(zone) = time_zone {
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
                .bind(zone)
                .fetch_one(db)
                .await?;
        if !known {
            return Err(AppError::invalid(
                "timeZone",
                Problem::Invalid,
                "timeZone must be an IANA time zone name, e.g. Europe/Paris",
            ));
        }
    }
    sqlx::query(
        "INSERT INTO notification_settings (user_id, weekly_digest, time_zone)
         VALUES ($1, $2, COALESCE($3, 'UTC'))
         ON CONFLICT (user_id) DO UPDATE
            SET weekly_digest = EXCLUDED.weekly_digest,
                time_zone = COALESCE($3, notification_settings.time_zone)",
    )
    .bind(user)
    .bind(weekly)
    .bind(time_zone)
    .execute(db)
    .await?;
    Ok(())
}

/// What an unsubscribe address stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every notification email (comments, replies, mentions).
    Notifications,
    /// The weekly digest.
    Digest,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Notifications => "notifications",
            Self::Digest => "digest",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "notifications" => Some(Self::Notifications),
            "digest" => Some(Self::Digest),
            _ => None,
        }
    }

    /// What it stops, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Notifications => "emails about comments, replies and mentions",
            Self::Digest => "the weekly digest",
        }
    }
}

fn mac(settings: &Settings, user: UserId, scope: Scope) -> String {
    super::accounts::tokens::sign(
        settings,
        &format!("unsubscribe:{user}:{}", scope.as_str()),
        16,
    )
}

/// The one-click unsubscribe address for `user` and `scope`.
pub fn unsubscribe_url(settings: &Settings, user: UserId, scope: Scope) -> String {
    let user_part = uuid::Uuid::from(user).simple().to_string();
    format!(
        "{}/unsubscribe/{user_part}.{}.{}",
        settings.public_origin(),
        scope.as_str(),
        mac(settings, user, scope)
    )
}

/// The member and scope a token names, if its signature holds.
pub fn verify(settings: &Settings, token: &str) -> Option<(UserId, Scope)> {
    let mut parts = token.split('.');
    let (user, scope, given) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let user: UserId = uuid::Uuid::parse_str(user).ok()?.into();
    let scope = Scope::parse(scope)?;
    let expected = mac(settings, user, scope);
    crate::domain::accounts::tokens::constant_time_eq(expected.as_bytes(), given.as_bytes())
        .then_some((user, scope))
}

/// Unsubscribes the member a token names; NOT_FOUND for a token that does not verify.
pub async fn unsubscribe(db: &PgPool, settings: &Settings, token: &str) -> AppResult<Scope> {
    let (user, scope) =
        verify(settings, token).ok_or_else(|| AppError::NotFound("No such address".to_owned()))?;
    sqlx::query(
        "INSERT INTO notification_settings (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user)
    .execute(db)
    .await?;
    let sql = match scope {
        Scope::Notifications => {
            "UPDATE notification_settings SET email_kinds = '{}' WHERE user_id = $1"
        }
        Scope::Digest => {
            "UPDATE notification_settings SET weekly_digest = false WHERE user_id = $1"
        }
    };
    sqlx::query(sql).bind(user).execute(db).await?;
    tracing::info!(scope = scope.as_str(), "unsubscribed by email link");
    Ok(scope)
}

/// A message's footer links: its unsubscribe address, and the settings page
/// (`mail.settings_url`, or the unsubscribe page when there is none).
fn links<'a>(settings: &'a Settings, unsubscribe: &'a str) -> templates::Links<'a> {
    templates::Links {
        unsubscribe,
        settings: settings.mail.settings_url.as_deref().unwrap_or(unsubscribe),
    }
}

/// The most notifications one message lists.
const MAX_PER_MESSAGE: i64 = 50;

/// One notification of a batch, as the message tells it.
#[derive(sqlx::FromRow)]
struct Unmailed {
    id: uuid::Uuid,
    kind: NotificationKind,
    actor: String,
    title: String,
    path: String,
    excerpt: String,
}

/// The address and names of a member who may be mailed.
#[derive(sqlx::FromRow)]
struct Recipient {
    email: String,
    name: String,
    username: String,
}

async fn recipient(db: &PgPool, user: UserId) -> sqlx::Result<Option<Recipient>> {
    sqlx::query_as(
        "SELECT email::text AS email, name, username::text AS username FROM users
         WHERE id = $1 AND deleted_at IS NULL AND email IS NOT NULL AND email_confirmed_at IS NOT NULL",
    )
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Closes `user`'s batch: mails what they have not read in the app (of the kinds they get
/// by email, about content still there), or nothing.
pub async fn send_batch(ctx: &JobContext, user: UserId) -> Result<(), JobError> {
    // The next notification starts a new batch.
    sqlx::query("DELETE FROM notification_mail_queue WHERE user_id = $1")
        .bind(user)
        .execute(&ctx.db)
        .await?;
    let Some(to) = recipient(&ctx.db, user).await? else {
        return Ok(());
    };
    // One batch of a member's at a time (a retried job and the next batch's may meet):
    // the other waits, then finds what this one mailed marked. A worker that dies before
    // marking rolls back, and the job mails them on its next run.
    let mut tx = ctx.db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("notification_mail:{user}"))
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query_as::<_, Unmailed>(
        "SELECT n.id, n.kind, x.username::text AS actor, a.title,
                '/' || au.username || '/' || a.slug AS path,
                left(c.body_markdown, 200) AS excerpt
         FROM notifications n
         JOIN users x ON x.id = n.actor_ids[1]
         JOIN articles a ON a.id = n.article_id AND a.status = 'published'
         JOIN users au ON au.id = a.user_id
         JOIN comments c ON c.id = n.comment_id AND c.deleted_at IS NULL AND c.hidden_at IS NULL
         WHERE n.user_id = $1 AND n.read_at IS NULL AND n.emailed_at IS NULL
           -- Only what is new: nothing from before email was on for the kind.
           AND n.updated_at > now() - interval '1 day'
           AND n.kind = ANY(COALESCE((SELECT email_kinds FROM notification_settings WHERE user_id = $1),
                                     '{comment,reply,mention}'))
           AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $1 AND b.blocked_id = n.actor_ids[1])
         ORDER BY n.created_at LIMIT $2",
    )
    .bind(user)
    .bind(MAX_PER_MESSAGE)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tracing::info!("notification mail skipped: all read in the app");
        return Ok(());
    }
    let origin = ctx.settings.public_origin();
    let items: Vec<templates::Notice> = rows
        .iter()
        .map(|r| templates::Notice {
            what: match r.kind {
                NotificationKind::Reply => {
                    format!("{} replied to your comment on \"{}\"", r.actor, r.title)
                }
                NotificationKind::Mention => {
                    format!("{} mentioned you on \"{}\"", r.actor, r.title)
                }
                _ => format!("{} commented on \"{}\"", r.actor, r.title),
            },
            excerpt: r.excerpt.clone(),
            url: format!("{origin}{}", r.path),
        })
        .collect();
    let unsubscribe = unsubscribe_url(&ctx.settings, user, Scope::Notifications);
    let email = templates::notifications(
        &to.email,
        &to.name,
        &to.username,
        &items,
        &links(&ctx.settings, &unsubscribe),
    );
    ctx.mailer.send(&email).await?;
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= MAX_PER_MESSAGE {
        // More than one message holds: the next goes at once.
        jobs::enqueue(&mut tx, &Job::MailNotifications { user_id: user }).await?;
    }
    sqlx::query("UPDATE notifications SET emailed_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues the digest of every member who asked for it and whose Monday, 8 o'clock, has
/// come in their time zone (at most once in six days). Runs hourly.
pub async fn queue_digests(ctx: &JobContext) -> Result<(), JobError> {
    queue_digests_at(ctx, Utc::now()).await
}

/// [`queue_digests`] as if the time were `now`.
pub async fn queue_digests_at(ctx: &JobContext, now: DateTime<Utc>) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    let due: Vec<UserId> = sqlx::query_scalar(
        "UPDATE notification_settings SET last_digest_at = $1
         WHERE weekly_digest
           AND extract(isodow FROM $1 AT TIME ZONE time_zone) = 1
           -- From 8 on (a run missed at 8 is made up later that Monday).
           AND extract(hour FROM $1 AT TIME ZONE time_zone) >= 8
           AND (last_digest_at IS NULL OR last_digest_at < $1 - interval '6 days')
         RETURNING user_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for user in &due {
        jobs::enqueue(&mut tx, &Job::SendDigest { user_id: *user }).await?;
    }
    tx.commit().await?;
    tracing::info!(digests = due.len(), "weekly digests queued");
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Top {
    title: String,
    path: String,
    author: String,
}

/// Mails `user` the week's top articles by the members and in the tags they follow;
/// nothing when there are none, or when they turned the digest off since.
pub async fn send_digest(ctx: &JobContext, user: UserId) -> Result<(), JobError> {
    let wanted: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM notification_settings WHERE user_id = $1 AND weekly_digest)",
    )
    .bind(user)
    .fetch_one(&ctx.db)
    .await?;
    if !wanted {
        return Ok(());
    }
    let Some(to) = recipient(&ctx.db, user).await? else {
        return Ok(());
    };
    let top = sqlx::query_as::<_, Top>(
        "SELECT a.title, '/' || u.username || '/' || a.slug AS path, u.username::text AS author
         FROM articles a JOIN users u ON u.id = a.user_id AND u.deleted_at IS NULL
         WHERE a.status = 'published' AND a.published_at > now() - interval '7 days'
           AND a.user_id <> $1
           AND (EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1
                        AND f.followable_type = 'user' AND f.followable_id = a.user_id)
             OR EXISTS (SELECT 1 FROM follows f JOIN tags t ON t.id = f.followable_id
                        WHERE f.follower_id = $1 AND f.followable_type = 'tag'
                          AND t.name = ANY(a.tag_names)))
           AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $1 AND b.blocked_id = a.user_id)
         ORDER BY a.score DESC, a.published_at DESC LIMIT 7",
    )
    .bind(user)
    .fetch_all(&ctx.db)
    .await?;
    if top.is_empty() {
        return Ok(());
    }
    let origin = ctx.settings.public_origin();
    let items: Vec<templates::Notice> = top
        .iter()
        .map(|t| templates::Notice {
            what: format!("\"{}\" by {}", t.title, t.author),
            excerpt: String::new(),
            url: format!("{origin}{}", t.path),
        })
        .collect();
    let unsubscribe = unsubscribe_url(&ctx.settings, user, Scope::Digest);
    let email = templates::digest(
        &to.email,
        &to.name,
        &to.username,
        &items,
        &links(&ctx.settings, &unsubscribe),
    );
    Ok(ctx.mailer.send(&email).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_tokens_are_signed() {
        let settings = Settings::default();
        let user: UserId = uuid::Uuid::now_v7().into();
        let url = unsubscribe_url(&settings, user, Scope::Digest);
        let token = url.rsplit('/').next().unwrap();
        assert_eq!(verify(&settings, token), Some((user, Scope::Digest)));
        let forged = token.replace("digest", "notifications");
        assert_eq!(verify(&settings, &forged), None);
        let other: UserId = uuid::Uuid::now_v7().into();
        let swapped = token.replace(
            &uuid::Uuid::from(user).simple().to_string(),
            &uuid::Uuid::from(other).simple().to_string(),
        );
        assert_eq!(verify(&settings, &swapped), None);
        assert_eq!(verify(&settings, "x.y.z.w"), None);
    }
}
