//! The accounts' rules: each public function is one operation, in one transaction where it
//! writes, with its jobs enqueued in that transaction.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;

use super::model::{
    EmailAddress, NewPassword, Role, User, Username, Viewer, bounded_text, parse_handle,
    parse_http_url, parse_name,
};
use super::repo::{self, Authenticated, NewSession, NewUser};
use super::{passwords, tokens};
use crate::cache::Cache;
use crate::config::Settings;
use crate::domain::outbox::{self, WebhookEvent};
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{ApiKeyId, SessionId, UserId};
use crate::jobs::{self, Job};

/// The message for every failed sign-in, whichever part was wrong.
pub const BAD_CREDENTIALS: &str = "Invalid login or password";
/// A member keeps at most this many API keys.
pub const MAX_API_KEYS: i64 = 50;

/// A registration, parsed from what the client sent before the service sees it.
pub struct Registration {
    pub email: EmailAddress,
    pub username: Username,
    pub password: NewPassword,
    pub name: String,
    pub owner_secret: Option<SecretString>,
}

impl Registration {
    /// Parses the username, the email, the name and the password (which may not repeat
    /// the username or the email): BAD_USER_INPUT naming every field at fault.
    pub fn parse(
        email: &str,
        username: &str,
        password: &SecretString,
        name: &str,
        owner_secret: Option<SecretString>,
    ) -> AppResult<Self> {
        let (username, email, name, password) = (
            Username::parse(username),
            EmailAddress::parse(email),
            parse_name(name),
            NewPassword::parse("password", password, username.trim(), Some(email.trim())),
        )
            .all_valid()?;
        Ok(Self {
            email,
            username,
            password,
            name,
            owner_secret,
        })
    }
}

/// Where a request comes from, kept with the session it opens.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct SignedIn {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// How a sign-in ended: with a session, or waiting for a second factor.
pub enum Outcome {
    SignedIn(Box<SignedIn>),
    SecondFactor(super::two_factor::Challenge),
}

/// How a session began, kept with it.
#[derive(Debug, Clone, Copy)]
pub struct Method<'a> {
    /// `password`, or the provider signed in with.
    pub first: &'a str,
    /// `totp` or `recovery_code`, when a second factor was asked for.
    pub second: Option<&'a str>,
}

impl Method<'_> {
    pub const PASSWORD: Method<'static> = Method {
        first: "password",
        second: None,
    };
}

pub async fn register(
    db: &PgPool,
    settings: &Settings,
    input: Registration,
    client: &ClientInfo,
) -> AppResult<SignedIn> {
    let Registration {
        email,
        username,
        password,
        name,
        owner_secret,
    } = input;
    let claims_owner = match (&owner_secret, &settings.forem_owner_secret) {
        (None, _) => false,
        (Some(given), Some(expected))
            if !given.expose_secret().is_empty()
                && tokens::constant_time_eq(
                    given.expose_secret().as_bytes(),
                    expected.expose_secret().as_bytes(),
                ) =>
        {
            true
        }
        (Some(_), _) => {
            return Err(AppError::bad_input(
                "ownerSecret",
                "the owner secret does not match",
            ));
        }
    };
    let hash = passwords::hash(password.secret(), &settings.auth).await?;

    let mut tx = db.begin().await?;
    let role = if claims_owner {
        // One owner: registrations claiming it queue up here, and only the first finds no admin.
        sqlx::query("SELECT pg_advisory_xact_lock(7711001)")
            .execute(&mut *tx)
            .await?;
        if repo::admin_exists(&mut tx).await? {
            return Err(AppError::Forbidden(
                "This instance already has an admin".to_owned(),
            ));
        }
        Role::Admin
    } else {
        Role::Member
    };
    let user = repo::insert_user(
        &mut tx,
        NewUser {
            id: UserId::generate(),
            username: username.as_str(),
            email: email.as_str(),
            name: &name,
            password_hash: &hash,
            role,
        },
    )
    .await?;
    jobs::enqueue(&mut tx, &Job::SendConfirmation { user_id: user.id }).await?;
    jobs::enqueue(&mut tx, &Job::SendWelcome { user_id: user.id }).await?;
    outbox::record(
        &mut tx,
        WebhookEvent::MemberJoined,
        (outbox::Subject::User, user.id.into()),
        &[],
        serde_json::json!({}),
    )
    .await?;
    let signed_in = open_session(&mut tx, settings, user, client, Method::PASSWORD).await?;
    tx.commit().await?;
    tracing::info!(user_id = %signed_in.user.id, owner = claims_owner, "member registered");
    Ok(signed_in)
}

pub(super) async fn open_session(
    conn: &mut sqlx::PgConnection,
    settings: &Settings,
    user: User,
    client: &ClientInfo,
    method: Method<'_>,
) -> AppResult<SignedIn> {
    let token = tokens::issue();
    let expires_at = Utc::now() + chrono::Duration::days(settings.auth.session_days);
    repo::insert_session(
        &mut *conn,
        NewSession {
            id: SessionId::generate(),
            user_id: user.id,
            token_hash: &token.hash,
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
            expires_at,
            method: method.first,
            second_factor: method.second,
        },
    )
    .await?;
    Ok(SignedIn {
        token: token.raw,
        expires_at,
        user,
    })
}

/// Where failed sign-ins for one login are counted: the login as typed (normalised),
/// hashed, whether or not it names a member.
fn failures_key(login: &str) -> String {
    format!("login_failures:{}", hex::encode(tokens::hash(login)))
}

/// Seconds until a login locked by failed sign-ins may try again; `None` when it may now.
/// Without Redis nothing is counted (and nothing locked), as with the other limits.
async fn locked_for(cache: &Cache, settings: &Settings, key: &str) -> Option<u64> {
    let window = std::time::Duration::from_secs(
        u64::try_from(settings.auth.lockout_minutes.max(1)).unwrap_or(600) * 60,
    );
    match cache.incr_window_by(key, 0, window).await {
        Ok((failures, ttl))
            if failures >= u64::try_from(settings.auth.max_failed_logins).unwrap_or(10) =>
        {
            Some(ttl.max(1))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "failed sign-ins could not be counted");
            None
        }
    }
}

async fn count_failure(cache: &Cache, settings: &Settings, key: &str) {
    let window = std::time::Duration::from_secs(
        u64::try_from(settings.auth.lockout_minutes.max(1)).unwrap_or(600) * 60,
    );
    if let Err(e) = cache.incr_window(key, window).await {
        tracing::warn!(error = %e, "a failed sign-in could not be counted");
    }
}

/// Signs in. `max_failed_logins` failures for one login within `lockout_minutes` lock
/// that login until the window ends; a locked login is answered the same way whether or
/// not it belongs to a member, so the lock tells an anonymous caller nothing. A member
/// with two-factor authentication gets a challenge instead of a session.
pub async fn login(
    db: &PgPool,
    cache: &Cache,
    settings: &Settings,
    login: &str,
    password: &SecretString,
    client: &ClientInfo,
) -> AppResult<Outcome> {
    let login = login.trim().to_lowercase();
    let key = failures_key(&login);
    if let Some(retry_after) = locked_for(cache, settings, &key).await {
        return Err(AppError::RateLimited {
            message: format!(
                "Too many failed sign-ins with this login: try again in {} minutes, or reset the password",
                retry_after.div_ceil(60)
            ),
            retry_after,
        });
    }
    let credentials = if login.is_empty() || login.len() > 254 {
        None
    } else {
        repo::credentials_by_login(db, &login).await?
    };
    let Some(credentials) = credentials else {
        // Same work as for a known member, so timing tells nothing.
        passwords::verify(password, None, &settings.auth).await?;
        count_failure(cache, settings, &key).await;
        return Err(AppError::Unauthenticated(BAD_CREDENTIALS.to_owned()));
    };
    if !passwords::verify(password, credentials.password_hash, &settings.auth).await? {
        count_failure(cache, settings, &key).await;
        return Err(AppError::Unauthenticated(BAD_CREDENTIALS.to_owned()));
    }
    if let Err(e) = cache.delete(&key).await {
        tracing::warn!(error = %e, "failed sign-ins could not be cleared");
    }
    let mut tx = db.begin().await?;
    let user = repo::find_by_id(&mut *tx, credentials.id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated(BAD_CREDENTIALS.to_owned()))?;
    if credentials.two_factor {
        let challenge =
            super::two_factor::challenge(&mut tx, settings, user.id, "password", client).await?;
        tx.commit().await?;
        return Ok(Outcome::SecondFactor(challenge));
    }
    let signed_in = open_session(&mut tx, settings, user, client, Method::PASSWORD).await?;
    tx.commit().await?;
    Ok(Outcome::SignedIn(Box::new(signed_in)))
}

fn viewer_of(row: Authenticated, session: bool) -> Viewer {
    Viewer {
        user_id: row.user_id,
        role: row.role,
        email_confirmed: row.email_confirmed,
        suspended_reason: row.suspended_reason,
        member_since: row.member_since,
        session_id: session.then_some(SessionId(row.credential_id)),
        api_key_id: (!session).then_some(ApiKeyId(row.credential_id)),
        expires_at: row.expires_at,
    }
}

#[derive(sqlx::FromRow)]
struct Member {
    id: UserId,
    role: Role,
    suspended_reason: Option<String>,
    email_confirmed: bool,
    created_at: DateTime<Utc>,
}

/// Reads a member with no credential, as work done on their behalf sees them (a feed read
/// through its token, a webhook's payload); `None` when `from_where` finds no live member.
/// `from_where` is SQL naming the member's row `u`, with `$1` bound to `key`.
pub async fn as_member<'k, K>(db: &PgPool, from_where: &str, key: K) -> AppResult<Option<Viewer>>
where
    K: 'k + sqlx::Encode<'k, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    let sql = format!(
        "SELECT u.id, u.role, u.suspended_reason, u.email_confirmed_at IS NOT NULL AS email_confirmed,
                u.created_at
         {from_where} AND u.deleted_at IS NULL"
    );
    let row = sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| Viewer {
        user_id: r.id,
        role: r.role,
        email_confirmed: r.email_confirmed,
        suspended_reason: r.suspended_reason,
        member_since: r.created_at,
        session_id: None,
        api_key_id: None,
        expires_at: None,
    }))
}

/// How stale `last_seen_at` may get before a request refreshes it.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The member behind a session token; `UNAUTHENTICATED` when it is unknown, expired or revoked.
pub async fn authenticate_session(db: &PgPool, token: &str) -> AppResult<Viewer> {
    let row = repo::session_by_token(db, &tokens::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::Unauthenticated("The session token is invalid, expired or revoked".to_owned())
        })?;
    if row
        .last_used_at
        .is_none_or(|t| Utc::now() - t > TOUCH_EVERY)
    {
        repo::touch_session(db, SessionId(row.credential_id)).await?;
    }
    Ok(viewer_of(row, true))
}

/// The member behind a personal API key; `UNAUTHENTICATED` when it is unknown or revoked.
pub async fn authenticate_api_key(db: &PgPool, key: &str) -> AppResult<Viewer> {
    let row = repo::api_key_by_hash(db, &tokens::hash(key))
        .await?
        .ok_or_else(|| AppError::Unauthenticated("The API key is invalid or revoked".to_owned()))?;
    if row
        .last_used_at
        .is_none_or(|t| Utc::now() - t > TOUCH_EVERY)
    {
        repo::touch_api_key(db, ApiKeyId(row.credential_id)).await?;
    }
    Ok(viewer_of(row, false))
}

pub async fn logout(db: &PgPool, viewer: &Viewer) -> AppResult<bool> {
    match viewer.session_id {
        Some(id) => Ok(repo::delete_session(db, viewer.user_id, id).await?),
        None => Err(AppError::input_rule(
            "this request was not made with a session",
        )),
    }
}

pub async fn logout_everywhere(db: &PgPool, viewer: &Viewer) -> AppResult<u64> {
    Ok(repo::delete_sessions(db, viewer.user_id, None).await?)
}

pub async fn sessions(db: &PgPool, viewer: &Viewer) -> AppResult<Vec<repo::SessionRow>> {
    Ok(repo::sessions_of(db, viewer.user_id).await?)
}

pub async fn revoke_session(db: &PgPool, viewer: &Viewer, id: SessionId) -> AppResult<()> {
    if repo::delete_session(db, viewer.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("No such session".to_owned()))
    }
}

pub struct CreatedKey {
    pub raw: String,
    pub row: repo::ApiKeyRow,
}

pub async fn create_api_key(
    db: &PgPool,
    viewer: &Viewer,
    description: &str,
) -> AppResult<CreatedKey> {
    viewer.require_writer()?;
    if !viewer.email_confirmed {
        return Err(AppError::Forbidden(
            "Confirm your email before creating API keys".to_owned(),
        ));
    }
    let description = bounded_text("description", description, 100)?;
    if description.is_empty() {
        return Err(AppError::bad_input(
            "description",
            "describe what the key is for",
        ));
    }
    if repo::count_api_keys(db, viewer.user_id).await? >= MAX_API_KEYS {
        return Err(AppError::bad_input(
            "description",
            format!("at most {MAX_API_KEYS} API keys; revoke one first"),
        ));
    }
    let key = tokens::issue_api_key();
    let row = repo::insert_api_key(
        db,
        ApiKeyId::generate(),
        viewer.user_id,
        &description,
        &key.hash,
    )
    .await?;
    Ok(CreatedKey { raw: key.raw, row })
}

pub async fn api_keys(db: &PgPool, viewer: &Viewer) -> AppResult<Vec<repo::ApiKeyRow>> {
    Ok(repo::api_keys_of(db, viewer.user_id).await?)
}

pub async fn revoke_api_key(db: &PgPool, viewer: &Viewer, id: ApiKeyId) -> AppResult<()> {
    if repo::delete_api_key(db, viewer.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("No such API key".to_owned()))
    }
}

pub async fn confirm_email(db: &PgPool, token: &str) -> AppResult<User> {
    let mut tx = db.begin().await?;
    let invalid = || AppError::bad_input("token", "this link is invalid, used or expired");
    let (user_id, email) = repo::consume_email_token(&mut tx, "confirm", &tokens::hash(token))
        .await?
        .ok_or_else(invalid)?;
    // The address confirmed is the one the token was mailed to, and only while it is still
    // the member's: the current one, or the pending new one, which then replaces it. A
    // link to an address since abandoned confirms nothing.
    let confirmed = sqlx::query(
        "UPDATE users SET email = $2, email_confirmed_at = now(),
                pending_email = CASE WHEN pending_email = $2::citext THEN NULL ELSE pending_email END
         WHERE id = $1 AND deleted_at IS NULL
           AND (pending_email = $2::citext OR email = $2::citext)",
    )
    .bind(user_id)
    .bind(&email)
    .execute(&mut *tx)
    .await
    .map_err(AppError::from)?;
    if confirmed.rows_affected() == 0 {
        return Err(invalid());
    }
    let user = repo::find_by_id(&mut *tx, user_id)
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await?;
    Ok(user)
}

pub async fn resend_confirmation(
    db: &PgPool,
    cache: &Cache,
    settings: &Settings,
    viewer: &Viewer,
) -> AppResult<()> {
    let user = repo::find_by_id(db, viewer.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("The account no longer exists".to_owned()))?;
    if user.email_confirmed_at.is_some() && user.pending_email.is_none() {
        return Err(AppError::input_rule("your email is already confirmed"));
    }
    crate::limits::check(
        cache,
        settings,
        crate::limits::Action::ConfirmationEmail,
        &viewer.user_id.to_string(),
    )
    .await?;
    let mut conn = db.acquire().await?;
    jobs::enqueue(&mut conn, &Job::SendConfirmation { user_id: user.id }).await?;
    Ok(())
}

/// Always answers the same way, whether or not the address belongs to a member.
pub async fn request_password_reset(db: &PgPool, email: &str) -> AppResult<()> {
    let Ok(email) = EmailAddress::parse(email) else {
        return Ok(());
    };
    let mut tx = db.begin().await?;
    if let Some(user) = repo::find_by_email(&mut *tx, email.as_str()).await? {
        jobs::enqueue(&mut tx, &Job::SendPasswordReset { user_id: user.id }).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token. Whoever held the account before the reset
/// loses it: every session and API key ends, linked providers are unlinked, every other
/// emailed link stops working, and a pending email change is dropped.
pub async fn reset_password(
    db: &PgPool,
    settings: &Settings,
    token: &str,
    password: &SecretString,
) -> AppResult<()> {
    let invalid = || AppError::bad_input("token", "this link is invalid, used or expired");
    let token_hash = tokens::hash(token);
    // The password is hashed before the transaction begins, so no connection waits on a
    // hashing slot; the link is used up in the transaction that sets it.
    let user_id = repo::email_token_owner(db, "reset", &token_hash)
        .await?
        .ok_or_else(invalid)?;
    let user = repo::find_by_id(db, user_id).await?.ok_or_else(invalid)?;
    let password = NewPassword::parse("password", password, &user.username, user.email.as_deref())?;
    let hash = passwords::hash(password.secret(), &settings.auth).await?;
    let mut tx = db.begin().await?;
    match repo::consume_email_token(&mut tx, "reset", &token_hash).await? {
        Some((owner, _)) if owner == user_id => {}
        _ => return Err(invalid()),
    }
    repo::set_password(&mut tx, user_id, &hash).await?;
    repo::delete_sessions(&mut *tx, user_id, None).await?;
    repo::delete_api_keys(&mut *tx, user_id).await?;
    repo::delete_email_tokens(&mut *tx, user_id, None).await?;
    // Providers linked before the reset, and sign-ins waiting for their second factor, are
    // ways in too: whoever linked or started them may not be the member.
    sqlx::query("DELETE FROM identities WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    repo::delete_pending_sign_ins(&mut tx, user_id).await?;
    // The reset proves the member reads this mailbox; an email change in flight is not
    // theirs to trust any more.
    sqlx::query(
        "UPDATE users SET email_confirmed_at = COALESCE(email_confirmed_at, now()),
                pending_email = NULL
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user_id, "password reset: every credential revoked");
    Ok(())
}

pub async fn check_password(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    field: &str,
    password: &SecretString,
) -> AppResult<User> {
    let user = repo::find_by_id(db, viewer.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("The account no longer exists".to_owned()))?;
    let stored = repo::password_hash(db, viewer.user_id).await?;
    if !passwords::verify(password, stored, &settings.auth).await? {
        return Err(AppError::bad_input(field, "the password is not correct"));
    }
    Ok(user)
}

/// Changes the password and ends every other session.
pub async fn change_password(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    current: &SecretString,
    new: &SecretString,
) -> AppResult<()> {
    let checked = check_password(db, settings, viewer, "currentPassword", current).await;
    let (username, email) = checked
        .as_ref()
        .map(|u| (u.username.as_str(), u.email.as_deref()))
        .unwrap_or(("", None));
    let password = NewPassword::parse("newPassword", new, username, email);
    let (user, password) = (checked, password).all_valid()?;
    let hash = passwords::hash(password.secret(), &settings.auth).await?;
    let mut tx = db.begin().await?;
    repo::set_password(&mut tx, user.id, &hash).await?;
    repo::delete_sessions(&mut *tx, user.id, viewer.session_id).await?;
    // A reset link mailed before the change would undo it.
    repo::delete_email_tokens(&mut *tx, user.id, Some("reset")).await?;
    // So would a sign-in waiting for its second factor, begun with the old password, and
    // a leave to link a provider given with it.
    repo::delete_pending_sign_ins(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts an email change: the new address gets a confirmation link, and replaces the
/// current one only once confirmed. Like a reset, it ends the other sessions, every API
/// key and every link mailed before (a confirmation for an earlier new address, a reset
/// link to the old one).
pub async fn change_email(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    password: &SecretString,
    new_email: &str,
) -> AppResult<()> {
    let (user, new_email) = (
        check_password(db, settings, viewer, "password", password).await,
        EmailAddress::parse_field("newEmail", new_email),
    )
        .all_valid()?;
    let new_email = &new_email;
    if user.email.as_deref() == Some(new_email.as_str()) {
        return Err(AppError::bad_input(
            "newEmail",
            "this is already your email",
        ));
    }
    let mut tx = db.begin().await?;
    if repo::find_by_email(&mut *tx, new_email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "newEmail",
            Problem::Taken,
            "this email is already registered",
        ));
    }
    sqlx::query("UPDATE users SET pending_email = $2 WHERE id = $1")
        .bind(user.id)
        .bind(new_email.as_str())
        .execute(&mut *tx)
        .await?;
    repo::delete_sessions(&mut *tx, user.id, viewer.session_id).await?;
    repo::delete_api_keys(&mut *tx, user.id).await?;
    repo::delete_email_tokens(&mut *tx, user.id, None).await?;
    jobs::enqueue(&mut tx, &Job::SendConfirmation { user_id: user.id }).await?;
    tx.commit().await?;
    Ok(())
}

/// A profile change: `None` leaves a field as it is; an empty string clears it.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub location: Option<String>,
    pub website_url: Option<String>,
    pub github_username: Option<String>,
    pub twitter_username: Option<String>,
}

fn optional(
    raw: Option<String>,
    parse: impl Fn(&str) -> AppResult<String>,
) -> AppResult<Option<Option<String>>> {
    raw.map(|v| {
        if v.trim().is_empty() {
            Ok(None)
        } else {
            parse(&v).map(Some)
        }
    })
    .transpose()
}

/// A [`ProfileChange`] whose every field passed its rules.
#[derive(Debug)]
pub struct CheckedProfile {
    name: Option<String>,
    bio: Option<String>,
    location: Option<String>,
    website: Option<Option<String>>,
    github: Option<Option<String>>,
    twitter: Option<Option<String>>,
}

impl ProfileChange {
    /// Checks the change for `viewer`, reporting every invalid field; before anything is
    /// stored (an avatar upload included).
    pub fn check(self, viewer: &Viewer) -> AppResult<CheckedProfile> {
        viewer.require_writer()?;
        let change = self;
        let (name, bio, location, website, github, twitter) = (
            change.name.as_deref().map(parse_name).transpose(),
            change
                .bio
                .as_deref()
                .map(|b| bounded_text("bio", b, 200))
                .transpose(),
            change
                .location
                .as_deref()
                .map(|l| bounded_text("location", l, 100))
                .transpose(),
            optional(change.website_url, |u| parse_http_url("websiteUrl", u, 200)),
            optional(change.github_username, |h| {
                parse_handle("githubUsername", h, 39, '-')
            }),
            optional(change.twitter_username, |h| {
                parse_handle("twitterUsername", h, 15, '_')
            }),
        )
            .all_valid()?;
        Ok(CheckedProfile {
            name,
            bio,
            location,
            website,
            github,
            twitter,
        })
    }
}

/// Saves a checked profile, with the URL of a new avatar when one was uploaded.
pub async fn update_profile(
    db: &PgPool,
    viewer: &Viewer,
    profile: CheckedProfile,
    avatar_url: Option<String>,
) -> AppResult<User> {
    sqlx::query(
        "UPDATE users SET
            name = COALESCE($2, name),
            bio = COALESCE($3, bio),
            location = COALESCE($4, location),
            website_url = CASE WHEN $5 THEN $6 ELSE website_url END,
            github_username = CASE WHEN $7 THEN $8 ELSE github_username END,
            twitter_username = CASE WHEN $9 THEN $10 ELSE twitter_username END,
            avatar_url = COALESCE($11, avatar_url)
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(viewer.user_id)
    .bind(profile.name)
    .bind(profile.bio)
    .bind(profile.location)
    .bind(profile.website.is_some())
    .bind(profile.website.flatten())
    .bind(profile.github.is_some())
    .bind(profile.github.flatten())
    .bind(profile.twitter.is_some())
    .bind(profile.twitter.flatten())
    .bind(avatar_url)
    .execute(db)
    .await?;
    repo::find_by_id(db, viewer.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("The account no longer exists".to_owned()))
}

/// Operators: gives a member a role (`vibecoding admin grant`).
pub async fn grant_role(
    db: &PgPool,
    username: &str,
    role: Role,
    reason: Option<&str>,
) -> AppResult<User> {
    let user = repo::find_by_username(db, username.trim())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No member named {username}")))?;
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE users SET role = $2, suspended_reason = $3,
                suspended_at = CASE WHEN $2 = 'suspended' THEN now() END
         WHERE id = $1",
    )
    .bind(user.id)
    .bind(role.as_str())
    .bind(if role == Role::Suspended {
        reason
    } else {
        None
    })
    .execute(&mut *tx)
    .await?;
    // From the command line: no member is the actor.
    crate::domain::audit::audit(
        &mut tx,
        None,
        crate::domain::audit::AuditAction::MemberRole,
        crate::domain::audit::Subject::User(user.id),
        reason.unwrap_or(""),
        serde_json::json!({ "from": user.role, "to": role.as_str(), "by": "vibecoding admin" }),
    )
    .await?;
    tx.commit().await?;
    Ok(repo::find_by_id(db, user.id).await?.unwrap_or(user))
}

/// Operators: takes a role back, leaving the member a plain member.
pub async fn revoke_role(db: &PgPool, username: &str, role: Role) -> AppResult<User> {
    let user = repo::find_by_username(db, username.trim())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No member named {username}")))?;
    if user.role() != role {
        return Err(AppError::bad_input(
            "role",
            format!("{username} is not {}", role.as_str()),
        ));
    }
    grant_role(db, username, Role::Member, None).await
}
