//! Feeds for readers outside the platform. Public feeds need nothing here; a member's
//! FOLLOWING feed is read through a private token in its address (feed readers cannot sign
//! in), one per member, stored hashed like every credential and replaced when asked.

use sqlx::PgPool;

use crate::domain::accounts::{Viewer, service, tokens};
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

/// The member a feed token belongs to, as a reader with no session; None when the token
/// is unknown or its member is gone.
pub async fn reader(db: &PgPool, token: &str) -> AppResult<Option<Viewer>> {
    service::as_member(
        db,
        "FROM feed_tokens f JOIN users u ON u.id = f.user_id WHERE f.token_hash = $1",
        tokens::hash(token),
    )
    .await
}
