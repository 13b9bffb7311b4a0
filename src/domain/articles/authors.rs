//! Co-authors: an article's author invites up to four members, who appear as authors
//! once they accept. Every accepted author edits the article, hears of its comments, and
//! has it on their page, in their followers' feeds and in their article count.

use sqlx::PgPool;

use super::model::{Article, LIST_COLUMNS};
use super::service::lock;
use crate::domain::accounts::Viewer;
use crate::domain::notifications::{self, ThreadLevel};
use crate::error::{AppError, AppResult};
use crate::ids::{ArticleId, UserId};

pub const MAX_CO_AUTHORS: i64 = 4;

/// The article's author invites a member, by username, to co-author it.
pub async fn invite(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    username: &str,
) -> AppResult<Article> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let found = lock(&mut tx, article).await?;
    if !found.visible_to(Some(viewer)) {
        return Err(AppError::NotFound("No such article".to_owned()));
    }
    if found.user_id != viewer.user_id {
        return Err(AppError::Forbidden(
            "Only the article's author invites co-authors".to_owned(),
        ));
    }
    let invitee: UserId = sqlx::query_scalar(
        "SELECT id FROM users WHERE username = $1::citext AND deleted_at IS NULL",
    )
    .bind(username.trim().trim_start_matches('@'))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("No member named {username}")))?;
    if invitee == viewer.user_id {
        return Err(AppError::bad_input(
            "username",
            "you are already its author",
        ));
    }
    let invited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM article_co_authors WHERE article_id = $1")
            .bind(article)
            .fetch_one(&mut *tx)
            .await?;
    if invited >= MAX_CO_AUTHORS {
        return Err(AppError::bad_input(
            "username",
            format!("an article has at most {MAX_CO_AUTHORS} co-authors"),
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO article_co_authors (article_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(article)
    .bind(invitee)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::bad_input(
            "username",
            "this member is already invited or a co-author",
        ));
    }
    tx.commit().await?;
    Ok(found)
}

/// An invited member accepts (becoming an author) or declines.
pub async fn respond(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    accept: bool,
) -> AppResult<Article> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let found = lock(&mut tx, article).await?;
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM article_co_authors
                        WHERE article_id = $1 AND user_id = $2 AND accepted_at IS NULL)",
    )
    .bind(article)
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    if !pending {
        return Err(AppError::NotFound("No such invitation".to_owned()));
    }
    if accept {
        sqlx::query(
            "UPDATE article_co_authors SET accepted_at = now() WHERE article_id = $1 AND user_id = $2",
        )
        .bind(article)
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE articles SET co_author_ids = array_append(co_author_ids, $2) WHERE id = $1",
        )
        .bind(article)
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
        if found.is_live() {
            count(&mut tx, viewer.user_id, 1).await?;
        }
        // An author hears of every comment, as the article's author does.
        notifications::subscribe(&mut tx, viewer.user_id, article, ThreadLevel::All, true).await?;
    } else {
        sqlx::query("DELETE FROM article_co_authors WHERE article_id = $1 AND user_id = $2")
            .bind(article)
            .bind(viewer.user_id)
            .execute(&mut *tx)
            .await?;
    }
    let article = lock(&mut tx, article).await?;
    tx.commit().await?;
    Ok(article)
}

async fn count(conn: &mut sqlx::PgConnection, user: UserId, delta: i32) -> AppResult<()> {
    sqlx::query("UPDATE users SET articles_count = articles_count + $2 WHERE id = $1")
        .bind(user)
        .bind(delta)
        .execute(conn)
        .await?;
    Ok(())
}

/// The article's author removes a co-author (or an invitation), or a co-author steps down.
pub async fn remove(
    db: &PgPool,
    viewer: &Viewer,
    article: ArticleId,
    member: UserId,
) -> AppResult<Article> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let found = lock(&mut tx, article).await?;
    if found.user_id != viewer.user_id && member != viewer.user_id {
        return Err(AppError::Forbidden(
            "Only the article's author removes co-authors".to_owned(),
        ));
    }
    let accepted: Option<Option<chrono::DateTime<chrono::Utc>>> = sqlx::query_scalar(
        "DELETE FROM article_co_authors WHERE article_id = $1 AND user_id = $2 RETURNING accepted_at",
    )
    .bind(article)
    .bind(member)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(accepted) = accepted else {
        return Err(AppError::NotFound("No such co-author".to_owned()));
    };
    if accepted.is_some() {
        sqlx::query(
            "UPDATE articles SET co_author_ids = array_remove(co_author_ids, $2) WHERE id = $1",
        )
        .bind(article)
        .bind(member)
        .execute(&mut *tx)
        .await?;
        if found.is_live() {
            count(&mut tx, member, -1).await?;
        }
    }
    let article = lock(&mut tx, article).await?;
    tx.commit().await?;
    Ok(article)
}

/// Members invited to co-author each article who have not answered yet, in one statement.
pub async fn pending(db: &PgPool, articles: &[ArticleId]) -> AppResult<Vec<(ArticleId, UserId)>> {
    Ok(sqlx::query_as(
        "SELECT article_id, user_id FROM article_co_authors
         WHERE article_id = ANY($1) AND accepted_at IS NULL ORDER BY invited_at",
    )
    .bind(articles)
    .fetch_all(db)
    .await?)
}

/// The articles `user` is invited to co-author, newest invitation first.
pub async fn invitations_of(db: &PgPool, user: UserId) -> AppResult<Vec<Article>> {
    Ok(sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM articles a JOIN article_co_authors c ON c.article_id = a.id
         WHERE c.user_id = $1 AND c.accepted_at IS NULL ORDER BY c.invited_at DESC LIMIT 100",
        super::model::qualified(LIST_COLUMNS)
    )))
    .bind(user)
    .fetch_all(db)
    .await?)
}
