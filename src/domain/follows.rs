//! Following members and tags. Counters move in the same transaction as the follow.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::accounts::Viewer;
use crate::domain::outbox::{self, WebhookEvent};
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AppError, AppResult};
use crate::ids::{TagId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Followable {
    User(UserId),
    Tag(TagId),
    Organization(crate::ids::OrganizationId),
}

impl Followable {
    pub fn type_name(self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Tag(_) => "tag",
            Self::Organization(_) => "organization",
        }
    }
    /// The followable a `follows` row names.
    pub fn from_parts(type_name: &str, id: Uuid) -> Self {
        match type_name {
            "user" => Self::User(id.into()),
            "organization" => Self::Organization(id.into()),
            _ => Self::Tag(id.into()),
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Self::User(id) => id.uuid(),
            Self::Tag(id) => id.uuid(),
            Self::Organization(id) => id.uuid(),
        }
    }
}

/// Follows or unfollows; idempotent. Returns whether the viewer now follows.
pub async fn set(
    db: &PgPool,
    viewer: &Viewer,
    target: Followable,
    follow: bool,
) -> AppResult<bool> {
    viewer.require_writer()?;
    if target == Followable::User(viewer.user_id) {
        return Err(AppError::bad_input("id", "you cannot follow yourself"));
    }
    let mut tx = db.begin().await?;
    let exists: bool = match target {
        Followable::User(_) => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)",
        ),
        Followable::Tag(_) => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tags WHERE id = $1)")
        }
        Followable::Organization(_) => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)")
        }
    }
    .bind(target.id())
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        return Err(AppError::NotFound("Nothing to follow".to_owned()));
    }
    let changed = if follow {
        sqlx::query(
            "INSERT INTO follows (follower_id, followable_type, followable_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
    } else {
        sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followable_type = $2 AND followable_id = $3")
    }
    .bind(viewer.user_id)
    .bind(target.type_name())
    .bind(target.id())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if changed {
        let delta: i32 = if follow { 1 } else { -1 };
        let table = match target {
            Followable::User(_) => "users",
            Followable::Tag(_) => "tags",
            Followable::Organization(_) => "organizations",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET followers_count = followers_count + $2 WHERE id = $1"
        )))
        .bind(target.id())
        .bind(delta)
        .execute(&mut *tx)
        .await?;
        if let (Followable::User(followed), true) = (target, follow) {
            let job = crate::jobs::Job::NotifyFollow {
                follower: viewer.user_id,
                followed,
            };
            crate::jobs::enqueue(&mut tx, &job).await?;
            let followed_name: String =
                sqlx::query_scalar("SELECT username::text FROM users WHERE id = $1")
                    .bind(followed)
                    .fetch_one(&mut *tx)
                    .await?;
            outbox::record(
                &mut tx,
                WebhookEvent::FollowerGained,
                (outbox::Subject::User, viewer.user_id.into()),
                &[followed],
                serde_json::json!({ "followed": { "username": followed_name } }),
            )
            .await?;
        }
        if let Followable::User(_) = target {
            sqlx::query("UPDATE users SET following_count = following_count + $2 WHERE id = $1")
                .bind(viewer.user_id)
                .bind(delta)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(follow)
}

/// Which of `targets` the viewer follows, in one query.
pub async fn followed_by(
    db: &PgPool,
    viewer: UserId,
    targets: &[Followable],
) -> AppResult<HashSet<Followable>> {
    let (types, ids): (Vec<&str>, Vec<Uuid>) =
        targets.iter().map(|t| (t.type_name(), t.id())).unzip();
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT f.followable_type, f.followable_id FROM follows f
         JOIN UNNEST($2::text[], $3::uuid[]) AS k(type, id) ON f.followable_type = k.type AND f.followable_id = k.id
         WHERE f.follower_id = $1",
    )
    .bind(viewer)
    .bind(&types)
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, id)| Followable::from_parts(&t, id))
        .collect())
}

/// Everything `viewer` follows, when that is at most `cap` members and tags (most members
/// follow tens): one small statement answers every `viewerIsFollowing` of a request.
/// `None` past the cap.
pub async fn all_followed(
    db: &PgPool,
    viewer: UserId,
    cap: usize,
) -> AppResult<Option<HashSet<Followable>>> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT followable_type, followable_id FROM follows WHERE follower_id = $1 LIMIT $2",
    )
    .bind(viewer)
    .bind(i64::try_from(cap + 1).unwrap_or(i64::MAX))
    .fetch_all(db)
    .await?;
    if rows.len() > cap {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(t, id)| Followable::from_parts(&t, id))
            .collect(),
    ))
}

/// How many tags each member follows (at most
/// [`COUNT_CAP`](crate::domain::page::COUNT_CAP) each).
pub async fn followed_tag_counts(db: &PgPool, users: &[UserId]) -> AppResult<Vec<(UserId, i64)>> {
    let count = capped_count_sql(
        "FROM follows f JOIN tags x ON x.id = f.followable_id
         WHERE f.followable_type = 'tag' AND f.follower_id = p.id",
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, ({count}) FROM unnest($1::uuid[]) p(id)"
    )))
    .bind(users)
    .fetch_all(db)
    .await?)
}

/// A page of ids with the follow's time, newest first.
pub type FollowPage = Vec<(Uuid, DateTime<Utc>)>;

pub type FollowKey = (DateTime<Utc>, Uuid);

fn page_sql(select: &str, filter: &str, page: &PageRequest<FollowKey>) -> String {
    format!(
        "{select} WHERE {filter} AND {}",
        page.newest_sql("f.created_at", "x.id", 2)
    )
}

async fn run_page(
    db: &PgPool,
    sql: String,
    owner: Uuid,
    page: &PageRequest<FollowKey>,
) -> AppResult<FollowPage> {
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// Members following `user`, newest first.
pub async fn followers(
    db: &PgPool,
    user: UserId,
    page: &PageRequest<FollowKey>,
) -> AppResult<FollowPage> {
    let sql = page_sql(
        "SELECT x.id, f.created_at FROM follows f JOIN users x ON x.id = f.follower_id AND x.deleted_at IS NULL",
        "f.followable_type = 'user' AND f.followable_id = $1",
        page,
    );
    run_page(db, sql, user.uuid(), page).await
}

/// The members following organization `org`, newest first.
pub async fn organization_followers(
    db: &PgPool,
    org: crate::ids::OrganizationId,
    page: &PageRequest<FollowKey>,
) -> AppResult<FollowPage> {
    let sql = page_sql(
        "SELECT x.id, f.created_at FROM follows f JOIN users x ON x.id = f.follower_id AND x.deleted_at IS NULL",
        "f.followable_type = 'organization' AND f.followable_id = $1",
        page,
    );
    run_page(db, sql, org.uuid(), page).await
}

/// Members `user` follows, newest first.
pub async fn following(
    db: &PgPool,
    user: UserId,
    page: &PageRequest<FollowKey>,
) -> AppResult<FollowPage> {
    let sql = page_sql(
        "SELECT x.id, f.created_at FROM follows f JOIN users x ON x.id = f.followable_id AND x.deleted_at IS NULL",
        "f.followable_type = 'user' AND f.follower_id = $1",
        page,
    );
    run_page(db, sql, user.uuid(), page).await
}

/// Tags `user` follows, newest first.
pub async fn followed_tags(
    db: &PgPool,
    user: UserId,
    page: &PageRequest<FollowKey>,
) -> AppResult<FollowPage> {
    let sql = page_sql(
        "SELECT x.id, f.created_at FROM follows f JOIN tags x ON x.id = f.followable_id",
        "f.followable_type = 'tag' AND f.follower_id = $1",
        page,
    );
    run_page(db, sql, user.uuid(), page).await
}
