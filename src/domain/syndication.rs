//! Feeds for readers outside the platform. Public feeds need nothing here; a member's
//! FOLLOWING feed is read through a private token in its address (feed readers cannot sign
//! in), one per member, stored hashed like every credential and replaced when asked.

use sqlx::PgPool;

use crate::domain::accounts::{Viewer, tokens};
use crate::error::AppResult;

/// Issues a new token for `viewer`'s FOLLOWING feed; the one before stops working.
pub async fn issue_token(db: &PgPool, viewer: &Viewer) -> AppResult<String> {
    let token = tokens::issue();
    sqlx::query(
        "INSERT INTO feed_tokens (user_id, token_hash) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()",
    )
    .bind(viewer.user_id)
    .bind(&token.hash)
    .execute(db)
    .await?;
    Ok(token.raw)
}

#[derive(sqlx::FromRow)]
struct Reader {
    id: crate::ids::UserId,
    role: crate::domain::accounts::Role,
    suspended_reason: Option<String>,
    email_confirmed: bool,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The member a feed token belongs to, as a reader with no session; None when the token
/// is unknown or its member is gone.
pub async fn reader(db: &PgPool, token: &str) -> AppResult<Option<Viewer>> {
    let row = sqlx::query_as::<_, Reader>(
        "SELECT u.id, u.role, u.suspended_reason, u.email_confirmed_at IS NOT NULL AS email_confirmed,
                u.created_at
         FROM feed_tokens f JOIN users u ON u.id = f.user_id
         WHERE f.token_hash = $1 AND u.deleted_at IS NULL",
    )
    .bind(tokens::hash(token))
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
