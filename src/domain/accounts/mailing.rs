//! The accounts' job handlers: each idempotent, each sending at most what its job asks.

use chrono::Utc;

use super::{User, repo, tokens};
use crate::ids::UserId;
use crate::jobs::{JobContext, JobError};
use crate::mail::{Email, templates};

/// How long a confirmation link works.
pub const CONFIRMATION_TTL: chrono::TimeDelta = chrono::TimeDelta::days(3);
/// How long a password-reset link works.
pub const RESET_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(2);

async fn send(ctx: &JobContext, email: &Email) -> Result<(), JobError> {
    Ok(ctx.mailer.send(email).await?)
}

pub async fn send_welcome(ctx: &JobContext, user_id: UserId) -> Result<(), JobError> {
    // Skipped when already sent, or when the member has left.
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT username::text, name, email::text FROM users
         WHERE id = $1 AND deleted_at IS NULL AND welcome_sent_at IS NULL",
    )
    .bind(user_id)
    .fetch_optional(&ctx.db)
    .await?;
    let Some((username, name, Some(to))) = row else {
        return Ok(());
    };
    send(
        ctx,
        &templates::welcome(&to, &name, &username, &ctx.settings.public_origin()),
    )
    .await?;
    sqlx::query("UPDATE users SET welcome_sent_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(&ctx.db)
        .await?;
    Ok(())
}

/// Mails a fresh confirmation link to the address awaiting confirmation: the pending new
/// one, or the current one while unconfirmed. Nothing when there is none. The token is
/// made here, in the worker, so no raw token ever waits in the queue.
pub async fn send_confirmation(ctx: &JobContext, user_id: UserId) -> Result<(), JobError> {
    let Some(user) = repo::find_by_id(&ctx.db, user_id).await? else {
        return Ok(());
    };
    let to = match (&user.pending_email, &user.email, user.email_confirmed_at) {
        (Some(pending), _, _) => pending.clone(),
        (None, Some(email), None) => email.clone(),
        _ => return Ok(()),
    };
    mail_token(
        ctx,
        &user,
        &to,
        "confirm",
        CONFIRMATION_TTL,
        templates::confirmation,
    )
    .await
}

pub async fn send_password_reset(ctx: &JobContext, user_id: UserId) -> Result<(), JobError> {
    let Some(user) = repo::find_by_id(&ctx.db, user_id).await? else {
        return Ok(());
    };
    let Some(to) = user.email.clone() else {
        return Ok(());
    };
    mail_token(
        ctx,
        &user,
        &to,
        "reset",
        RESET_TTL,
        templates::password_reset,
    )
    .await
}

type TokenTemplate = fn(&str, &str, &str, &str, &str) -> Email;

/// Stores a fresh single-use token for `purpose` and mails its link to `to`.
async fn mail_token(
    ctx: &JobContext,
    user: &User,
    to: &str,
    purpose: &str,
    ttl: chrono::TimeDelta,
    template: TokenTemplate,
) -> Result<(), JobError> {
    let token = tokens::issue();
    repo::insert_email_token(&ctx.db, user.id, purpose, to, &token.hash, Utc::now() + ttl).await?;
    let origin = ctx.settings.public_origin();
    send(
        ctx,
        &template(to, &user.name, &user.username, &origin, &token.raw),
    )
    .await
}

pub async fn purge_tokens(ctx: &JobContext) -> Result<(), JobError> {
    let purged = repo::purge_email_tokens(&ctx.db).await?;
    tracing::info!(purged, "email tokens purged");
    Ok(())
}

/// Tells a member a provider's account was linked to theirs (a link they did not make is
/// a way into the account: the message says how to remove it).
pub async fn send_identity_linked(
    ctx: &JobContext,
    user_id: UserId,
    provider: &str,
    login: &str,
) -> Result<(), JobError> {
    let Some(user) = repo::find_by_id(&ctx.db, user_id).await? else {
        return Ok(());
    };
    let Some(to) = user.email.clone() else {
        return Ok(());
    };
    send(
        ctx,
        &templates::identity_linked(
            &to,
            &user.name,
            &user.username,
            provider,
            login,
            &ctx.settings.public_origin(),
        ),
    )
    .await
}
