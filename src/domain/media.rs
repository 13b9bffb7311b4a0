//! Uploaded images: checked and cleaned (`crate::images`), stored (`crate::storage`), recorded
//! with their resized copies.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::config::UploadSettings;
use crate::domain::accounts::Viewer;
use crate::domain::page::{PageRequest, capped_count_sql};
use crate::error::{AppError, AppResult};
use crate::ids::{ImageId, UserId};
use crate::images;
use crate::storage::Storage;

/// What an image is for; avatars and covers get resized copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Article,
    Cover,
    Avatar,
}

crate::text_enum!(Purpose {
    Article = "article",
    Cover = "cover",
    Avatar = "avatar",
});

impl Purpose {
    /// The copies made: name, width, height (cropped to fill).
    pub fn variants(self) -> &'static [(&'static str, u32, u32)] {
        match self {
            Self::Article => &[],
            // Forem's cover size.
            Self::Cover => &[("cover", 1000, 420)],
            Self::Avatar => &[("small", 90, 90), ("medium", 320, 320)],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    pub url: String,
    pub width: i32,
    pub height: i32,
}

pub const COLUMNS: &str =
    "id, user_id, purpose, url, width, height, format, size_bytes, variants, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Image {
    pub id: ImageId,
    pub user_id: UserId,
    pub purpose: Purpose,
    pub url: String,
    pub width: i32,
    pub height: i32,
    pub format: crate::images::Format,
    pub size_bytes: i64,
    pub variants: sqlx::types::Json<Vec<Variant>>,
    pub created_at: DateTime<Utc>,
}

impl Image {
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// Checks, cleans and stores an upload, then records it. A refused file is
/// BAD_USER_INPUT and leaves nothing behind. The file is read (at most one byte past the
/// limit) and decoded on a blocking thread.
pub async fn upload(
    db: &PgPool,
    storage: &Storage,
    settings: &UploadSettings,
    viewer: &Viewer,
    purpose: Purpose,
    file: impl std::io::Read + Send + 'static,
) -> AppResult<Image> {
    use std::io::Read as _;
    viewer.require_writer()?;
    // A member already at the quota is refused before any work is spent on the file.
    check_quota(db, settings, viewer.user_id, 0).await?;
    let limits = settings.clone();
    let cleaned = tokio::task::spawn_blocking(move || {
        let mut raw = Vec::new();
        let cap = u64::try_from(limits.max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        file.take(cap)
            .read_to_end(&mut raw)
            .map_err(|e| AppError::internal(anyhow::anyhow!("reading an upload: {e}")))?;
        images::clean(&raw, &limits)
    })
    .await
    .map_err(AppError::internal)??;
    let cleaned = Arc::new(cleaned);
    let id = ImageId::generate();
    let stored = storage
        .put(&id.uuid().simple().to_string(), &cleaned)
        .await?;
    let mut variants = Vec::new();
    for (name, width, height) in purpose.variants() {
        match storage
            .variant(&stored, &cleaned, name, *width, *height)
            .await
        {
            Ok(url) => variants.push(Variant {
                name: (*name).to_owned(),
                url,
                width: i32::try_from(*width).unwrap_or(i32::MAX),
                height: i32::try_from(*height).unwrap_or(i32::MAX),
            }),
            Err(e) => {
                forget(storage, &stored.key, &variants).await;
                return Err(e);
            }
        }
    }
    let inserted = record(
        db, settings, viewer, purpose, id, &stored, &cleaned, &variants,
    )
    .await;
    match inserted {
        Ok(image) => Ok(image),
        Err(e) => {
            // No record, no files: nothing half-written stays behind.
            forget(storage, &stored.key, &variants).await;
            Err(e)
        }
    }
}

/// What a member's images take now, refused with BAD_USER_INPUT when `adding` more bytes
/// would pass the quota.
async fn check_quota<'e>(
    db: impl sqlx::PgExecutor<'e>,
    settings: &UploadSettings,
    member: UserId,
    adding: i64,
) -> AppResult<()> {
    let used: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(size_bytes), 0)::bigint FROM images WHERE user_id = $1",
    )
    .bind(member)
    .fetch_one(db)
    .await?;
    if used.saturating_add(adding) > settings.quota_bytes
        || (adding == 0 && used >= settings.quota_bytes)
    {
        return Err(AppError::bad_input(
            "file",
            format!(
                "your images take {} MB of the {} MB each member may store; delete some first",
                (used + 1024 * 1024 - 1) / (1024 * 1024),
                settings.quota_bytes / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

/// Records a stored upload, within the member's quota: uploads of one member are counted
/// one at a time (an advisory lock on the member), so parallel uploads cannot pass it.
#[allow(clippy::too_many_arguments)]
async fn record(
    db: &PgPool,
    settings: &UploadSettings,
    viewer: &Viewer,
    purpose: Purpose,
    id: ImageId,
    stored: &crate::storage::Stored,
    cleaned: &images::Cleaned,
    variants: &[Variant],
) -> AppResult<Image> {
    let size = i64::try_from(cleaned.bytes.len()).unwrap_or(i64::MAX);
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
    check_quota(&mut *tx, settings, viewer.user_id, size).await?;
    let image = sqlx::query_as::<_, Image>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO images (id, user_id, purpose, storage_key, url, width, height, format, size_bytes, variants)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(viewer.user_id)
    .bind(purpose.as_str())
    .bind(&stored.key)
    .bind(&stored.url)
    .bind(i32::try_from(cleaned.width).unwrap_or(i32::MAX))
    .bind(i32::try_from(cleaned.height).unwrap_or(i32::MAX))
    .bind(cleaned.format)
    .bind(size)
    .bind(sqlx::types::Json(variants))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(image)
}

/// Removes what an upload stored before a later step failed.
async fn forget(storage: &Storage, key: &str, variants: &[Variant]) {
    let copies: Vec<String> = variants.iter().map(|v| v.url.clone()).collect();
    storage.remove(key, &copies).await;
}

/// Where an image sits in its owner's list: newest first.
pub type ImageKey = (DateTime<Utc>, ImageId);

/// Member `$1`'s images.
const OWNED: &str = "FROM images WHERE user_id = $1";

/// A page of `owner`'s images, newest first.
pub async fn list_owned(
    db: &PgPool,
    owner: UserId,
    page: &PageRequest<ImageKey>,
) -> AppResult<Vec<Image>> {
    let sql = format!(
        "SELECT {COLUMNS} {OWNED} AND {page}",
        page = page.newest_sql("created_at", "id", 2)
    );
    let query = sqlx::query_as::<_, Image>(sqlx::AssertSqlSafe(sql)).bind(owner);
    Ok(page.bind_newest(query).fetch_all(db).await?)
}

/// How many images `owner` has (at most [`COUNT_CAP`](crate::domain::page::COUNT_CAP)).
pub async fn count_owned(db: &PgPool, owner: UserId) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(capped_count_sql(OWNED)))
            .bind(owner)
            .fetch_one(db)
            .await?,
    )
}

/// `owner`'s images among `ids` (others' are absent).
pub async fn find_many_owned(db: &PgPool, owner: UserId, ids: &[ImageId]) -> AppResult<Vec<Image>> {
    Ok(sqlx::query_as::<_, Image>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM images WHERE user_id = $1 AND id = ANY($2)"
    )))
    .bind(owner)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// One of `owner`'s images; NOT_FOUND for anyone else's.
pub async fn find_owned(db: &PgPool, id: ImageId, owner: UserId) -> AppResult<Image> {
    sqlx::query_as::<_, Image>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM images WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::NotFound("No such image of yours".to_owned()))
}

/// The URL an article's cover shows: the cover-sized copy when there is one.
pub fn cover_url(image: &Image) -> String {
    image
        .variant("cover")
        .map_or_else(|| image.url.clone(), |v| v.url.clone())
}

/// The URL a profile shows: the 320 px copy when there is one.
pub fn avatar_url(image: &Image) -> String {
    image
        .variant("medium")
        .map_or_else(|| image.url.clone(), |v| v.url.clone())
}

/// Deletes one of the viewer's images (moderators: anyone's) and its stored files.
pub async fn delete(db: &PgPool, storage: &Storage, viewer: &Viewer, id: ImageId) -> AppResult<()> {
    let row: Option<(UserId, String, sqlx::types::Json<Vec<Variant>>)> =
        sqlx::query_as("SELECT user_id, storage_key, variants FROM images WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some((owner, key, variants)) = row else {
        return Err(AppError::NotFound("No such image".to_owned()));
    };
    if owner != viewer.user_id {
        viewer
            .require_role(crate::domain::accounts::Role::Moderator)
            .map_err(|_| AppError::NotFound("No such image".to_owned()))?;
    }
    sqlx::query("DELETE FROM images WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    let copies: Vec<String> = variants.iter().map(|v| v.url.clone()).collect();
    storage.remove(&key, &copies).await;
    Ok(())
}
