//! The hot rank that orders the relevant feed: recomputed in the transaction of whatever
//! moves it (a reaction, a comment, a penalty) and periodically as it decays with time.

use crate::ids::ArticleId;
use sqlx::{PgExecutor, PgPool};

/// Recomputes one article's hot rank (after a reaction or a comment, in that transaction).
pub async fn refresh_one<'e>(db: impl PgExecutor<'e>, article: ArticleId) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE articles SET hot_score = hot_rank(score, comments_count, published_at)
         WHERE id = $1 AND status = 'published'",
    )
    .bind(article)
    .execute(db)
    .await?;
    Ok(())
}

/// The periodic refresh: ranks decay with time, so recent articles are recomputed.
pub async fn refresh_recent(db: &PgPool, days: i32) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE articles SET hot_score = hot_rank(score, comments_count, published_at)
         WHERE status = 'published' AND published_at > now() - make_interval(days => $1)",
    )
    .bind(days + 1)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
