//! The accounts' SQL.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::model::{Role, User};
use crate::error::AppError;
use crate::ids::{ApiKeyId, SessionId, UserId};

pub const USER_COLUMNS: &str = "id, username::text AS username, email::text AS email, name, role, \
     suspended_reason, email_confirmed_at, pending_email::text AS pending_email, bio, location, \
     website_url, github_username, twitter_username, created_at, deleted_at, articles_count, \
     followers_count, following_count, avatar_url";

/// A member row aliased `u`, read along with what they wrote (each column prefixed
/// `author_`; all null when the join found no member): decoded by [`author_from_row`].
/// A plain join costs Postgres next to nothing, where building a JSON value per row cost
/// it several times the rows themselves.
pub const AUTHOR_COLUMNS: &str = "u.id AS author_id, u.username::text AS author_username, \
     u.email::text AS author_email, u.name AS author_name, u.role AS author_role, \
     u.suspended_reason AS author_suspended_reason, u.email_confirmed_at AS author_email_confirmed_at, \
     u.pending_email::text AS author_pending_email, u.bio AS author_bio, u.location AS author_location, \
     u.website_url AS author_website_url, u.github_username AS author_github_username, \
     u.twitter_username AS author_twitter_username, u.created_at AS author_created_at, \
     u.deleted_at AS author_deleted_at, u.articles_count AS author_articles_count, \
     u.followers_count AS author_followers_count, u.following_count AS author_following_count, \
     u.avatar_url AS author_avatar_url";

/// The member [`AUTHOR_COLUMNS`] read into `row`: `None` when the row has no such columns
/// or the join found nobody.
pub fn author_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Option<User>> {
    use sqlx::Row as _;
    let id: Option<UserId> = match row.try_get("author_id") {
        Ok(id) => id,
        Err(sqlx::Error::ColumnNotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(Some(User {
        id,
        username: row.try_get("author_username")?,
        email: row.try_get("author_email")?,
        name: row.try_get("author_name")?,
        role: row.try_get("author_role")?,
        suspended_reason: row.try_get("author_suspended_reason")?,
        email_confirmed_at: row.try_get("author_email_confirmed_at")?,
        pending_email: row.try_get("author_pending_email")?,
        bio: row.try_get("author_bio")?,
        location: row.try_get("author_location")?,
        website_url: row.try_get("author_website_url")?,
        github_username: row.try_get("author_github_username")?,
        twitter_username: row.try_get("author_twitter_username")?,
        created_at: row.try_get("author_created_at")?,
        deleted_at: row.try_get("author_deleted_at")?,
        articles_count: row.try_get("author_articles_count")?,
        followers_count: row.try_get("author_followers_count")?,
        following_count: row.try_get("author_following_count")?,
        avatar_url: row.try_get("author_avatar_url")?,
    }))
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

pub async fn insert_user(conn: &mut PgConnection, user: NewUser<'_>) -> Result<User, AppError> {
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (id, username, email, name, password_hash, role)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
    )))
    .bind(user.id)
    .bind(user.username)
    .bind(user.email)
    .bind(user.name)
    .bind(user.password_hash)
    .bind(user.role)
    .fetch_one(conn)
    .await
    .map_err(AppError::from)
}

pub async fn admin_exists(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND deleted_at IS NULL)",
    )
    .fetch_one(conn)
    .await
}

pub async fn find_by_id<'e>(db: impl PgExecutor<'e>, id: UserId) -> sqlx::Result<Option<User>> {
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn find_many<'e>(db: impl PgExecutor<'e>, ids: &[UserId]) -> sqlx::Result<Vec<User>> {
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1) AND deleted_at IS NULL"
    )))
    .bind(ids)
    .fetch_all(db)
    .await
}

pub async fn find_by_username<'e>(
    db: impl PgExecutor<'e>,
    username: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1::citext AND deleted_at IS NULL"
    )))
    .bind(username)
    .fetch_optional(db)
    .await
}

pub async fn find_by_email<'e>(db: impl PgExecutor<'e>, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1::citext AND deleted_at IS NULL"
    )))
    .bind(email)
    .fetch_optional(db)
    .await
}

/// What sign-in needs about a member.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: UserId,
    pub password_hash: Option<String>,
    /// Signing in also takes a second factor.
    pub two_factor: bool,
}

pub async fn credentials_by_login<'e>(
    db: impl PgExecutor<'e>,
    login: &str,
) -> sqlx::Result<Option<Credentials>> {
    let column = if login.contains('@') {
        "email"
    } else {
        "username"
    };
    sqlx::query_as::<_, Credentials>(sqlx::AssertSqlSafe(format!(
        "SELECT id, password_hash, totp_secret IS NOT NULL AS two_factor FROM users
         WHERE {column} = $1::citext AND deleted_at IS NULL"
    )))
    .bind(login.trim())
    .fetch_optional(db)
    .await
}

pub async fn password_hash<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(user_id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

pub async fn set_password(
    conn: &mut PgConnection,
    user_id: UserId,
    hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

// Sessions ------------------------------------------------------------------------------

pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: &'a [u8],
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
    /// `password` or the provider signed in with.
    pub method: &'a str,
    /// `totp` or `recovery_code` when a second factor was asked for.
    pub second_factor: Option<&'a str>,
}

pub async fn insert_session<'e>(db: impl PgExecutor<'e>, s: NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, ip, user_agent, expires_at, method,
                               second_factor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.id)
    .bind(s.user_id)
    .bind(s.token_hash)
    .bind(s.ip)
    .bind(s.user_agent)
    .bind(s.expires_at)
    .bind(s.method)
    .bind(s.second_factor)
    .execute(db)
    .await?;
    Ok(())
}

/// A live credential and its member, as one row.
#[derive(sqlx::FromRow)]
pub struct Authenticated {
    pub credential_id: Uuid,
    pub user_id: UserId,
    pub role: Role,
    pub suspended_reason: Option<String>,
    pub email_confirmed: bool,
    pub member_since: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn session_by_token<'e>(
    db: impl PgExecutor<'e>,
    token_hash: &[u8],
) -> sqlx::Result<Option<Authenticated>> {
    sqlx::query_as::<_, Authenticated>(
        "SELECT s.id AS credential_id, u.id AS user_id, u.role, u.suspended_reason,
                u.email_confirmed_at IS NOT NULL AS email_confirmed, u.created_at AS member_since, s.last_seen_at AS last_used_at,
                s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now() AND u.deleted_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

pub async fn touch_session<'e>(db: impl PgExecutor<'e>, id: SessionId) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: SessionId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub method: String,
    pub second_factor: Option<String>,
}

pub async fn sessions_of<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as::<_, SessionRow>(
        "SELECT id, ip, user_agent, created_at, last_seen_at, expires_at, method, second_factor
         FROM sessions
         WHERE user_id = $1 AND expires_at > now() ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// `user_id`'s open sessions among `ids` (others' and expired ones are absent).
pub async fn sessions_by_ids<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    ids: &[SessionId],
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as::<_, SessionRow>(
        "SELECT id, ip, user_agent, created_at, last_seen_at, expires_at, method, second_factor
         FROM sessions
         WHERE user_id = $1 AND id = ANY($2) AND expires_at > now()",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(db)
    .await
}

pub async fn delete_session<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    id: SessionId,
) -> sqlx::Result<bool> {
    delete_credential(db, "sessions", user_id, id).await
}

/// Deletes one credential (a session, an API key) of a member from `table`; whether the
/// member had it.
async fn delete_credential<'e, I>(
    db: impl PgExecutor<'e>,
    table: &'static str,
    user_id: UserId,
    id: I,
) -> sqlx::Result<bool>
where
    I: 'e + sqlx::Encode<'e, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of a member, but `keep` (the one making the request) when given.
pub async fn delete_sessions<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    keep: Option<SessionId>,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

// API keys ------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn insert_api_key<'e>(
    db: impl PgExecutor<'e>,
    id: ApiKeyId,
    user_id: UserId,
    description: &str,
    key_hash: &[u8],
) -> sqlx::Result<ApiKeyRow> {
    sqlx::query_as::<_, ApiKeyRow>(
        "INSERT INTO api_keys (id, user_id, description, key_hash) VALUES ($1, $2, $3, $4)
         RETURNING id, description, created_at, last_used_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(description)
    .bind(key_hash)
    .fetch_one(db)
    .await
}

pub async fn api_keys_of<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, description, created_at, last_used_at FROM api_keys
         WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// `user_id`'s API keys among `ids` (others' are absent).
pub async fn api_keys_by_ids<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    ids: &[ApiKeyId],
) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, description, created_at, last_used_at FROM api_keys
         WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(db)
    .await
}

pub async fn count_api_keys<'e>(db: impl PgExecutor<'e>, user_id: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

pub async fn delete_api_key<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    id: ApiKeyId,
) -> sqlx::Result<bool> {
    delete_credential(db, "api_keys", user_id, id).await
}

/// Revokes every API key of a member.
pub async fn delete_api_keys<'e>(db: impl PgExecutor<'e>, user_id: UserId) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM api_keys WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

pub async fn api_key_by_hash<'e>(
    db: impl PgExecutor<'e>,
    key_hash: &[u8],
) -> sqlx::Result<Option<Authenticated>> {
    sqlx::query_as::<_, Authenticated>(
        "SELECT k.id AS credential_id, u.id AS user_id, u.role, u.suspended_reason,
                u.email_confirmed_at IS NOT NULL AS email_confirmed, u.created_at AS member_since, k.last_used_at,
                NULL::timestamptz AS expires_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = $1 AND u.deleted_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(db)
    .await
}

pub async fn touch_api_key<'e>(db: impl PgExecutor<'e>, id: ApiKeyId) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

// Email tokens --------------------------------------------------------------------------

pub async fn insert_email_token<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    purpose: &str,
    email: &str,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO email_tokens (id, user_id, purpose, email, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(purpose)
    .bind(email)
    .bind(token_hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a live token used and returns its member and address; `None` when the token is
/// unknown, used or expired. Single use holds under concurrency: one UPDATE wins.
pub async fn consume_email_token(
    conn: &mut PgConnection,
    purpose: &str,
    token_hash: &[u8],
) -> sqlx::Result<Option<(UserId, String)>> {
    sqlx::query_as(
        "UPDATE email_tokens SET used_at = now()
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id, email::text",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(conn)
    .await
}

/// The member an unused, unexpired emailed link of `purpose` belongs to, without using it.
pub async fn email_token_owner<'e>(
    db: impl PgExecutor<'e>,
    purpose: &str,
    token_hash: &[u8],
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "SELECT user_id FROM email_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(db)
    .await
}

/// Voids a member's unused emailed links (of one purpose when given).
pub async fn delete_email_tokens<'e>(
    db: impl PgExecutor<'e>,
    user_id: UserId,
    purpose: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM email_tokens WHERE user_id = $1 AND used_at IS NULL
           AND ($2::text IS NULL OR purpose = $2)",
    )
    .bind(user_id)
    .bind(purpose)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn purge_email_tokens<'e>(db: impl PgExecutor<'e>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM email_tokens WHERE used_at IS NOT NULL OR expires_at < now() - interval '1 day'",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Ends what a password began and has not finished: sign-ins waiting for their second
/// factor, and leaves to link a provider.
pub async fn delete_pending_sign_ins(conn: &mut PgConnection, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_challenges WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM identity_link_grants WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
