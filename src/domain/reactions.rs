//! Reactions on articles and comments, and the reading list (the private `readinglist`
//! reaction). Tallies, item counts and scores move in the transaction that adds or
//! removes a reaction, so they never drift from the rows.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::{ReactionCategory, Settings};
use crate::domain::accounts::{Role, Viewer};
use crate::domain::outbox::{self, WebhookEvent};
use crate::error::{AppError, AppResult};
use crate::ids::{ArticleId, CommentId, UserId};

pub const READING_LIST: &str = "readinglist";

/// The expression moving category `$4` of an item's `tallies` by `$5` (a category whose
/// count reaches zero leaves the object).
const TALLY_MOVE: &str = "CASE WHEN COALESCE((tallies->>$4)::int, 0) + $5 > 0
        THEN jsonb_set(tallies, ARRAY[$4], to_jsonb(COALESCE((tallies->>$4)::int, 0) + $5))
        ELSE tallies - $4 END";

/// The public tallies of an item, in the configured order, from its `tallies` column.
pub fn public_counts(settings: &Settings, tallies: &HashMap<String, i32>) -> Vec<(String, i32)> {
    settings
        .reactions
        .iter()
        .filter(|c| !c.private)
        .filter_map(|c| {
            tallies
                .get(&c.name)
                .filter(|n| **n > 0)
                .map(|n| (c.name.clone(), *n))
        })
        .collect()
}
/// The privileged reaction that can get an author suspended.
pub const VOMIT: &str = "vomit";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reactable {
    Article(ArticleId),
    Comment(CommentId),
}

impl Reactable {
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Article(_) => "article",
            Self::Comment(_) => "comment",
        }
    }
    pub fn id(self) -> Uuid {
        match self {
            Self::Article(id) => id.uuid(),
            Self::Comment(id) => id.uuid(),
        }
    }
}

pub fn category<'a>(settings: &'a Settings, name: &str) -> AppResult<&'a ReactionCategory> {
    settings
        .reactions
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = settings.reactions.iter().map(|c| c.name.as_str()).collect();
            AppError::bad_input(
                "category",
                format!("unknown category; use one of {}", names.join(", ")),
            )
        })
}

/// Adds or removes the viewer's reaction. `want`: the state asked for (idempotent: a
/// double-click asking twice for "on" leaves one reaction); `None` flips it. Returns
/// whether the reaction is now on.
pub async fn toggle(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    item: Reactable,
    name: &str,
    want: Option<bool>,
) -> AppResult<bool> {
    viewer.require_writer()?;
    let category = category(settings, name)?.clone();
    if category.privileged {
        viewer.require_role(Role::Trusted)?;
    }
    let mut tx = db.begin().await?;
    // The item must exist and be visible: a live article, a comment not deleted on one.
    // Its row is locked for the whole toggle: clicks on one item apply one after the
    // other, so the check below and the counters stay consistent.
    let visible: Option<(bool, UserId)> = match item {
        Reactable::Article(id) => sqlx::query_as("SELECT status = 'published', user_id FROM articles WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?,
        Reactable::Comment(id) => sqlx::query_as(
            "SELECT c.deleted_at IS NULL AND a.status = 'published', c.user_id FROM comments c JOIN articles a ON a.id = c.article_id
             WHERE c.id = $1 FOR UPDATE OF c",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?,
    };
    let Some((true, author)) = visible else {
        return Err(AppError::NotFound("Nothing to react to".to_owned()));
    };
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reactions WHERE user_id = $1 AND reactable_type = $2 AND reactable_id = $3 AND category = $4)",
    )
    .bind(viewer.user_id)
    .bind(item.type_name())
    .bind(item.id())
    .bind(&category.name)
    .fetch_one(&mut *tx)
    .await?;
    let on = want.unwrap_or(!exists);
    if on == exists {
        tx.commit().await?;
        return Ok(on);
    }
    let delta: i32 = if on { 1 } else { -1 };
    let write = if on {
        "INSERT INTO reactions (user_id, reactable_type, reactable_id, category) VALUES ($1, $2, $3, $4)"
    } else {
        "DELETE FROM reactions WHERE user_id = $1 AND reactable_type = $2 AND reactable_id = $3 AND category = $4"
    };
    sqlx::query(write)
        .bind(viewer.user_id)
        .bind(item.type_name())
        .bind(item.id())
        .bind(&category.name)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO reaction_tallies (reactable_type, reactable_id, category, count) VALUES ($1, $2, $3, GREATEST($4, 0))
         ON CONFLICT (reactable_type, reactable_id, category) DO UPDATE SET count = reaction_tallies.count + $4",
    )
    .bind(item.type_name())
    .bind(item.id())
    .bind(&category.name)
    .bind(delta)
    .execute(&mut *tx)
    .await?;
    let table = match item {
        Reactable::Article(_) => "articles",
        Reactable::Comment(_) => "comments",
    };
    // The item's own copy of its tallies; public reactions count; every category with a
    // score (privileged ones included) moves the item's score.
    let counted = if category.private { 0 } else { delta };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET reactions_count = reactions_count + $2, score = score + $3,
                tallies = {TALLY_MOVE}
         WHERE id = $1"
    )))
    .bind(item.id())
    .bind(counted)
    .bind(delta * category.score)
    .bind(&category.name)
    .bind(delta)
    .execute(&mut *tx)
    .await?;
    if (!category.private || category.score != 0)
        && let Reactable::Article(id) = item
    {
        crate::domain::ranking::refresh_one(&mut *tx, id).await?;
    }
    if on && !category.private {
        let job = crate::jobs::Job::NotifyReaction {
            actor: viewer.user_id,
            item_type: item.type_name().to_owned(),
            item: item.id(),
        };
        crate::jobs::enqueue(&mut tx, &job).await?;
        let subject = match item {
            Reactable::Article(id) => (outbox::Subject::Article, id.into()),
            Reactable::Comment(id) => (outbox::Subject::Comment, id.into()),
        };
        let detail = serde_json::json!({ "category": category.name });
        outbox::record(
            &mut tx,
            WebhookEvent::ReactionCreated,
            subject,
            &[author],
            detail,
        )
        .await?;
    }
    if on && category.name == VOMIT && matches!(item, Reactable::Article(_)) {
        crate::domain::moderation::check_vomits(&mut tx, settings, author).await?;
    }
    tx.commit().await?;
    Ok(on)
}

/// Public tallies per item, in one query.
pub async fn counts(
    db: &PgPool,
    settings: &Settings,
    items: &[Reactable],
) -> AppResult<HashMap<Reactable, Vec<(String, i32)>>> {
    let (types, ids): (Vec<&str>, Vec<Uuid>) =
        items.iter().map(|i| (i.type_name(), i.id())).unzip();
    let (public, _) = settings.public_reactions();
    let rows: Vec<(String, Uuid, String, i32)> = sqlx::query_as(
        "SELECT t.reactable_type, t.reactable_id, t.category, t.count
         FROM reaction_tallies t JOIN UNNEST($1::text[], $2::uuid[]) AS k(type, id)
           ON t.reactable_type = k.type AND t.reactable_id = k.id
         WHERE t.count > 0 AND t.category = ANY($3)",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&public)
    .fetch_all(db)
    .await?;
    let mut map: HashMap<Reactable, Vec<(String, i32)>> = HashMap::new();
    for (kind, id, category, count) in rows {
        let key = if kind == "article" {
            Reactable::Article(id.into())
        } else {
            Reactable::Comment(id.into())
        };
        map.entry(key).or_default().push((category, count));
    }
    Ok(map)
}

/// The viewer's own reactions per item, in one query.
pub async fn of_viewer(
    db: &PgPool,
    viewer: UserId,
    items: &[Reactable],
) -> AppResult<HashMap<Reactable, Vec<String>>> {
    let (types, ids): (Vec<&str>, Vec<Uuid>) =
        items.iter().map(|i| (i.type_name(), i.id())).unzip();
    let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
        "SELECT r.reactable_type, r.reactable_id, r.category
         FROM reactions r JOIN UNNEST($2::text[], $3::uuid[]) AS k(type, id)
           ON r.reactable_type = k.type AND r.reactable_id = k.id
         WHERE r.user_id = $1 ORDER BY r.created_at",
    )
    .bind(viewer)
    .bind(&types)
    .bind(&ids)
    .fetch_all(db)
    .await?;
    let mut map: HashMap<Reactable, Vec<String>> = HashMap::new();
    for (kind, id, category) in rows {
        let key = if kind == "article" {
            Reactable::Article(id.into())
        } else {
            Reactable::Comment(id.into())
        };
        map.entry(key).or_default().push(category);
    }
    Ok(map)
}
