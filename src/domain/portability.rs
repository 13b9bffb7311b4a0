//! A member's data, out and in.
//!
//! Out: `requestDataExport` queues a job that builds one ZIP: every article as Markdown with
//! Forem's front matter (`articles/<slug>.md`, importable here or on Forem), the comments,
//! reactions, follows and notification settings as JSON, the uploaded images, and the
//! profile. The archive is kept in Postgres (every node and the worker reach it, and it
//! goes when the row does), downloadable for `exports.link_days` through a link signed
//! with `SECRET_KEY_BASE`, announced by email, and deleted by a job when the link expires.
//!
//! In: `importArticles` reads such a ZIP, a Forem/dev.to export (`articles.json`) or loose
//! Markdown files, and makes each article a draft (or publishes what was published, when
//! asked), keeping canonical URLs and dates. The archive is read as an attacker wrote it:
//! only `.md` files and `articles.json` are opened, at most [`MAX_ENTRIES`] entries are
//! looked at and [`MAX_INFLATED`] bytes inflated in all, each entry read through a limit
//! whatever size it declares; what breaks a rule is skipped, with the reason, in the report.

use std::io::{Read as _, Write as _};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::accounts::Viewer;
use super::articles::front_matter;
use super::articles::model::MAX_BODY_BYTES;
use super::articles::service::{self as articles, ArticleInput};
use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::ids::{ArticleId, UserId};
use crate::jobs::{self, Job, JobContext, JobError};

/// Entries of an imported archive looked at.
pub const MAX_ENTRIES: usize = 5_000;
/// Bytes inflated from an imported archive, in all.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;
/// Articles one import makes.
pub const MAX_ARTICLES: usize = 500;
/// The largest `articles.json` read.
const MAX_JSON: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataExport {
    pub id: Uuid,
    pub user_id: UserId,
    pub status: String,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, status, size_bytes, error, created_at, ready_at, expires_at";

impl DataExport {
    /// The download link, while the archive can be downloaded.
    pub fn url(&self, settings: &Settings) -> Option<String> {
        (self.status == "ready" && self.expires_at.is_some_and(|t| t > Utc::now())).then(|| {
            format!(
                "{}/exports/{}/{}",
                settings.public_origin(),
                self.id.simple(),
                signature(settings, self.id)
            )
        })
    }
}

fn signature(settings: &Settings, id: Uuid) -> String {
    super::accounts::tokens::sign(settings, &format!("data-export:{id}"), 20)
}

/// Queues an export (at most `exports.per_day` a day).
pub async fn request(db: &PgPool, settings: &Settings, viewer: &Viewer) -> AppResult<DataExport> {
    let mut tx = db.begin().await?;
    // One member's requests queue up here, so the count below cannot be raced past.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
    let today: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_exports
         WHERE user_id = $1 AND created_at > now() - interval '1 day'",
    )
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    if today >= settings.exports.per_day {
        return Err(AppError::RateLimited {
            message: format!(
                "At most {} exports a day: download the last one, or try again tomorrow",
                settings.exports.per_day
            ),
            retry_after: 3600,
        });
    }
    let export = sqlx::query_as::<_, DataExport>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO data_exports (id, user_id) VALUES ($1, $2) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    jobs::enqueue(
        &mut tx,
        &Job::BuildDataExport {
            export_id: export.id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(export)
}

/// A member's exports, newest first (at most 20).
pub async fn list(db: &PgPool, user: UserId) -> AppResult<Vec<DataExport>> {
    Ok(sqlx::query_as::<_, DataExport>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
    )))
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// The member's own exports among `ids`.
pub async fn find_many(db: &PgPool, user: UserId, ids: &[Uuid]) -> AppResult<Vec<DataExport>> {
    Ok(sqlx::query_as::<_, DataExport>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE user_id = $1 AND id = ANY($2)"
    )))
    .bind(user)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// The slice of an archive a download sends at a time.
pub const CHUNK: i64 = 1024 * 1024;

/// The export behind a download link and its archive's size: NOT_FOUND when the link is
/// wrong, expired or the export is not ready.
pub async fn download(
    db: &PgPool,
    settings: &Settings,
    id: &str,
    sig: &str,
) -> AppResult<(Uuid, i64)> {
    let missing = || AppError::NotFound("This download link is invalid or has expired".to_owned());
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    if !super::accounts::tokens::constant_time_eq(
        signature(settings, id).as_bytes(),
        sig.as_bytes(),
    ) {
        return Err(missing());
    }
    let size: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT octet_length(archive)::bigint FROM data_exports
         WHERE id = $1 AND status = 'ready' AND expires_at > now()",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    size.flatten().map(|size| (id, size)).ok_or_else(missing)
}

/// `len` bytes of an export's archive from `offset` (empty once it expired).
pub async fn archive_slice(db: &PgPool, id: Uuid, offset: i64, len: i64) -> AppResult<Vec<u8>> {
    let slice: Option<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT substring(archive FROM $2::int FOR $3::int) FROM data_exports
         WHERE id = $1 AND status = 'ready'",
    )
    .bind(id)
    .bind(offset.saturating_add(1))
    .bind(len)
    .fetch_optional(db)
    .await?;
    Ok(slice.flatten().unwrap_or_default())
}

/// Builds an export (the job). Idempotent: an export no longer pending is left alone, and
/// a worker that dies mid-way leaves it pending for the retry.
pub async fn build(ctx: &JobContext, export_id: Uuid) -> Result<(), JobError> {
    let user: Option<UserId> = sqlx::query_scalar(
        "SELECT e.user_id FROM data_exports e JOIN users u ON u.id = e.user_id
         WHERE e.id = $1 AND e.status = 'pending' AND u.deleted_at IS NULL",
    )
    .bind(export_id)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(user) = user else {
        return Ok(());
    };
    let max = ctx.settings.exports.max_bytes;
    let built = match gather(ctx, user).await? {
        Ok(files) => tokio::task::spawn_blocking(move || zip_files(files, max))
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("the archive task failed: {e}")))?,
        Err(reason) => Err(reason),
    };
    let mut tx = ctx.db.begin().await?;
    let expires_at = Utc::now() + chrono::Duration::days(ctx.settings.exports.link_days.max(1));
    match built {
        Ok(bytes) => {
            let done = sqlx::query(
                "UPDATE data_exports SET status = 'ready', archive = $2, size_bytes = $3,
                        ready_at = now(), expires_at = $4
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(export_id)
            .bind(&bytes)
            .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                jobs::enqueue(&mut tx, &Job::MailDataExport { export_id }).await?;
                jobs::enqueue_at(
                    &mut tx,
                    &Job::ExpireDataExport { export_id },
                    Some(expires_at),
                )
                .await?;
            }
        }
        Err(reason) => {
            sqlx::query(
                "UPDATE data_exports SET status = 'failed', error = $2 WHERE id = $1 AND status = 'pending'",
            )
            .bind(export_id)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Mails the member that their export is ready (the job).
pub async fn mail_ready(ctx: &JobContext, export_id: Uuid) -> Result<(), JobError> {
    let export = sqlx::query_as::<_, DataExport>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE id = $1 AND status = 'ready'"
    )))
    .bind(export_id)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(export) = export else {
        return Ok(());
    };
    let Some(member) = super::accounts::repo::find_by_id(&ctx.db, export.user_id).await? else {
        return Ok(());
    };
    let (Some(to), Some(url), Some(expires_at)) = (
        member.email.as_deref(),
        export.url(&ctx.settings),
        export.expires_at,
    ) else {
        return Ok(());
    };
    let email = crate::mail::templates::data_export_ready(
        to,
        &member.name,
        &member.username,
        &url,
        expires_at,
    );
    Ok(ctx.mailer.send(&email).await?)
}

/// Marks an export failed once its build job has died (tried `max_attempts` times), so the
/// member sees it failed and may ask again.
pub async fn give_up(db: &PgPool, export_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE data_exports SET status = 'failed',
                error = 'it could not be built: ask for a new export'
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(export_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes an expired export's archive (the job).
pub async fn expire(db: &PgPool, export_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE data_exports SET status = 'expired', archive = NULL
         WHERE id = $1 AND status = 'ready' AND expires_at <= now()",
    )
    .bind(export_id)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ArticleRow {
    title: String,
    slug: String,
    body_markdown: String,
    status: String,
    published_at: Option<DateTime<Utc>>,
    canonical_url: Option<String>,
    description: String,
    cover_image_url: Option<String>,
    tag_names: Vec<String>,
    series: Option<String>,
}

/// An article as Markdown with Forem's front matter (the stored body's own front matter,
/// if any, replaced by what the article now is).
fn markdown_of(article: &ArticleRow) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let content = front_matter::split(&article.body_markdown)
        .map(|(_, content)| content)
        .unwrap_or(&article.body_markdown);
    let mut out = String::from("---\n");
    out.push_str(&format!("title: {}\n", q(&article.title)));
    out.push_str(&format!(
        "published: {}\n",
        article.status == "published" || article.status == "scheduled"
    ));
    if !article.description.is_empty() {
        out.push_str(&format!("description: {}\n", q(&article.description)));
    }
    if !article.tag_names.is_empty() {
        out.push_str(&format!("tags: {}\n", q(&article.tag_names.join(", "))));
    }
    if let Some(url) = &article.canonical_url {
        out.push_str(&format!("canonical_url: {}\n", q(url)));
    }
    if let Some(url) = &article.cover_image_url {
        out.push_str(&format!("cover_image: {}\n", q(url)));
    }
    if let Some(series) = &article.series {
        out.push_str(&format!("series: {}\n", q(series)));
    }
    if let Some(date) = article.published_at {
        out.push_str(&format!(
            "date: {}\n",
            q(&date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        ));
    }
    out.push_str("---\n\n");
    out.push_str(content.trim_start_matches('\n'));
    out
}

/// Every file of a member's export, by name.
async fn gather(
    ctx: &JobContext,
    user: UserId,
) -> Result<Result<Vec<(String, Vec<u8>)>, String>, JobError> {
    let db = &ctx.db;
    // What the archive would hold, before any of it is read: an account too large to
    // export fails here, not after its articles and images filled the worker's memory.
    let raw: i64 = sqlx::query_scalar(
        "SELECT ((SELECT coalesce(sum(octet_length(body_markdown)), 0) FROM articles WHERE user_id = $1)
              + (SELECT coalesce(sum(size_bytes), 0) FROM images WHERE user_id = $1))::bigint",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    let budget = ctx.settings.exports.max_bytes.saturating_mul(4);
    if u64::try_from(raw).unwrap_or(0) > budget {
        return Ok(Err(too_large(ctx.settings.exports.max_bytes)));
    }
    let mut files = Vec::new();
    let json_file = |name: &str, value: &Value| {
        (
            name.to_owned(),
            serde_json::to_vec_pretty(value).unwrap_or_default(),
        )
    };
    let profile: Value = sqlx::query_scalar(
        "SELECT jsonb_build_object('username', username, 'name', name, 'email', email,
                'bio', bio, 'location', location, 'website_url', website_url,
                'github_username', github_username, 'twitter_username', twitter_username,
                'avatar_url', avatar_url, 'role', role, 'member_since', created_at,
                'identities', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'provider', provider, 'login', login, 'linked_at', created_at)), '[]')
                    FROM identities WHERE user_id = users.id))
         FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    files.push(json_file("profile.json", &profile));

    let articles = sqlx::query_as::<_, ArticleRow>(
        "SELECT a.title, a.slug, a.body_markdown, a.status, a.published_at, a.canonical_url,
                a.description, a.cover_image_url, a.tag_names, s.title AS series
         FROM articles a LEFT JOIN series s ON s.id = a.series_id
         WHERE a.user_id = $1 ORDER BY a.created_at",
    )
    .bind(user)
    .fetch_all(db)
    .await?;
    for article in &articles {
        files.push((
            format!("articles/{}.md", article.slug),
            markdown_of(article).into_bytes(),
        ));
    }

    let comments: Value = sqlx::query_scalar(
        "SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'id', c.id, 'parent_id', c.parent_id, 'body_markdown', c.body_markdown,
                    'created_at', c.created_at, 'edited_at', c.edited_at,
                    'article', jsonb_build_object('title', a.title,
                        'path', '/' || au.username || '/' || a.slug))
                ORDER BY c.created_at), '[]')
         FROM comments c JOIN articles a ON a.id = c.article_id JOIN users au ON au.id = a.user_id
         WHERE c.user_id = $1",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    files.push(json_file("comments.json", &comments));

    let reactions: Value = sqlx::query_scalar(
        "SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'category', r.category, 'on', r.reactable_type, 'id', r.reactable_id,
                    'title', coalesce(a.title, ca.title), 'created_at', r.created_at)
                ORDER BY r.created_at), '[]')
         FROM reactions r
         LEFT JOIN articles a ON r.reactable_type = 'article' AND a.id = r.reactable_id
         LEFT JOIN comments c ON r.reactable_type = 'comment' AND c.id = r.reactable_id
         LEFT JOIN articles ca ON ca.id = c.article_id
         WHERE r.user_id = $1",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    files.push(json_file("reactions.json", &reactions));

    let follows: Value = sqlx::query_scalar(
        "SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'type', f.followable_type,
                    'name', coalesce(u.username::text, t.name::text, o.slug::text),
                    'since', f.created_at)
                ORDER BY f.created_at), '[]')
         FROM follows f
         LEFT JOIN users u ON f.followable_type = 'user' AND u.id = f.followable_id
         LEFT JOIN tags t ON f.followable_type = 'tag' AND t.id = f.followable_id
         LEFT JOIN organizations o ON f.followable_type = 'organization' AND o.id = f.followable_id
         WHERE f.follower_id = $1",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    files.push(json_file("follows.json", &follows));

    let settings: Value = sqlx::query_scalar(
        "SELECT coalesce((SELECT to_jsonb(s) - 'user_id' FROM notification_settings s
                          WHERE s.user_id = $1), '{}'::jsonb)",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    files.push(json_file("notification_settings.json", &settings));

    let images: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, storage_key, url, format FROM images WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(db)
    .await?;
    let storage = match crate::storage::Storage::from_settings(&ctx.settings) {
        Ok(storage) => storage,
        Err(e) => {
            tracing::error!(error = %e, "the image storage is not set up: an export failed");
            return Ok(Err(
                "the images could not be read: try again later".to_owned()
            ));
        }
    };
    let mut listed = Vec::new();
    for (id, key, url, format) in images {
        let file = format!("images/{}.{format}", id.simple());
        match storage
            .read(
                &ctx.settings.outbound,
                &key,
                &url,
                ctx.settings.uploads.max_bytes,
            )
            .await
        {
            Ok(bytes) => {
                files.push((file.clone(), bytes));
                listed.push(json!({ "file": file, "url": url }));
            }
            Err(e) => {
                tracing::warn!(error = %e.public_message(), "an image could not be exported");
                listed.push(json!({ "file": null, "url": url }));
            }
        }
    }
    files.push(json_file("images.json", &Value::Array(listed)));
    Ok(Ok(files))
}

fn too_large(max: u64) -> String {
    if max >= 1_000_000 {
        format!("the export would be larger than {} MB", max / 1_000_000)
    } else {
        format!("the export would be larger than {} KB", max.div_ceil(1000))
    }
}

/// Zips the files; the reason when it cannot or would be larger than `max` bytes.
fn zip_files(files: Vec<(String, Vec<u8>)>, max: u64) -> Result<Vec<u8>, String> {
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    if total > max.saturating_mul(4) {
        return Err(too_large(max));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name, options)
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| format!("the archive could not be written: {e}"))?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| format!("the archive could not be written: {e}"))?
        .into_inner();
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(bytes)
}

/// An article found in an imported archive.
#[derive(Debug)]
enum Found {
    /// A Markdown file, front matter and all.
    Markdown { file: String, text: String },
    /// An entry of a Forem `articles.json`.
    Forem {
        file: String,
        article: Box<ForemArticle>,
    },
}

/// What an import skipped, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file (and, in an `articles.json`, the entry's position) it came from.
    pub source: String,
    pub title: Option<String>,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    pub created: Vec<ArticleId>,
    pub skipped: Vec<Skipped>,
}

/// A Forem article as its exports (and its API) spell it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForemArticle {
    title: Option<String>,
    body_markdown: Option<String>,
    published: Option<bool>,
    published_at: Option<String>,
    canonical_url: Option<String>,
    description: Option<String>,
    main_image: Option<String>,
    cover_image: Option<String>,
    cached_tag_list: Option<String>,
    tag_list: Option<Value>,
    tags: Option<Value>,
}

impl ForemArticle {
    fn tags(&self) -> Option<Vec<String>> {
        let listed = |v: &Value| match v {
            Value::String(s) => Some(
                s.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        };
        self.tags
            .as_ref()
            .and_then(listed)
            .or_else(|| self.tag_list.as_ref().and_then(listed))
            .or_else(|| {
                self.cached_tag_list
                    .as_ref()
                    .map(|s| listed(&Value::String(s.clone())).unwrap_or_default())
            })
    }
}

/// The first `room` articles of an `articles.json`, and how many more it held: those are
/// read past without being kept, so a list of millions of `{}` costs no memory.
struct Capped {
    articles: Vec<ForemArticle>,
    more: usize,
}

struct CappedSeed(usize);

impl<'de> serde::de::DeserializeSeed<'de> for CappedSeed {
    type Value = Capped;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Capped, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CappedSeed {
    type Value = Capped;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of articles")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Capped, A::Error> {
        let mut articles = Vec::new();
        while articles.len() < self.0 {
            match seq.next_element::<ForemArticle>()? {
                Some(article) => articles.push(article),
                None => return Ok(Capped { articles, more: 0 }),
            }
        }
        let mut more = 0;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            more += 1;
        }
        Ok(Capped { articles, more })
    }
}

fn read_forem(text: &str, room: usize) -> Result<Capped, serde_json::Error> {
    use serde::de::DeserializeSeed as _;
    let mut reader = serde_json::Deserializer::from_str(text);
    let capped = CappedSeed(room).deserialize(&mut reader)?;
    reader.end()?;
    Ok(capped)
}

/// Reads the articles out of an archive (in a blocking task: inflating is CPU work).
fn read_archive(bytes: Vec<u8>) -> Result<(Vec<Found>, Vec<Skipped>), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| "the file is not a ZIP archive".to_owned())?;
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut budget = MAX_INFLATED;
    // Articles past MAX_ARTICLES are counted, not kept.
    let mut more = 0usize;
    let entries = archive.len();
    if entries > MAX_ENTRIES {
        skipped.push(Skipped {
            source: "(archive)".to_owned(),
            title: None,
            reason: format!("only the first {MAX_ENTRIES} of its {entries} entries were read"),
        });
    }
    for index in 0..entries.min(MAX_ENTRIES) {
        let Ok(mut entry) = archive.by_index(index) else {
            continue;
        };
        let Ok(name) = entry.name().map(|n| n.into_owned()) else {
            continue;
        };
        let base = name.rsplit('/').next().unwrap_or("");
        let limit = if base.ends_with(".md") || base.ends_with(".markdown") {
            MAX_BODY_BYTES as u64
        } else if base == "articles.json" {
            MAX_JSON
        } else {
            continue;
        };
        if entry.is_dir() || name.starts_with("__MACOSX/") || base.starts_with("._") {
            continue;
        }
        let skip = |reason: String| Skipped {
            source: name.clone(),
            title: None,
            reason,
        };
        if base != "articles.json" && found.len() >= MAX_ARTICLES {
            more += 1;
            continue;
        }
        if entry.size() > limit || entry.size() > budget {
            skipped.push(skip(format!("larger than {} KB", limit.min(budget) / 1024)));
            continue;
        }
        // Declared sizes can lie: read through a limit.
        let mut data = Vec::new();
        let cap = limit.min(budget);
        if (&mut entry).take(cap + 1).read_to_end(&mut data).is_err() {
            skipped.push(skip("it could not be decompressed".to_owned()));
            continue;
        }
        budget = budget.saturating_sub(data.len() as u64);
        if data.len() as u64 > cap {
            skipped.push(skip(format!("larger than {} KB", cap / 1024)));
            if budget == 0 {
                break;
            }
            continue;
        }
        let Ok(text) = String::from_utf8(data) else {
            skipped.push(skip("it is not UTF-8 text".to_owned()));
            continue;
        };
        if base == "articles.json" {
            match read_forem(&text, MAX_ARTICLES.saturating_sub(found.len())) {
                Ok(list) => {
                    more += list.more;
                    found.extend(list.articles.into_iter().enumerate().map(|(i, article)| {
                        Found::Forem {
                            file: format!("{name}[{i}]"),
                            article: Box::new(article),
                        }
                    }));
                }
                Err(e) => skipped.push(skip(format!("not a list of articles: {e}"))),
            }
        } else {
            found.push(Found::Markdown { file: name, text });
        }
    }
    if more > 0 {
        skipped.push(Skipped {
            source: "(archive)".to_owned(),
            title: None,
            reason: format!(
                "{more} more articles were not read: at most {MAX_ARTICLES} per import"
            ),
        });
    }
    Ok((found, skipped))
}

/// Imports the articles of an archive (see the module's notes); `publish` publishes what
/// was published where it came from, otherwise everything becomes a draft. `allow` is
/// asked before each article (the article-creation rate limits, told whether it will be
/// published): once it refuses, the rest are skipped with its reason. An error of our own
/// stops the import; the articles made before it stay.
pub async fn import<F, Fut>(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    bytes: Vec<u8>,
    publish: bool,
    allow: F,
) -> AppResult<Report>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = AppResult<()>>,
{
    viewer.require_writer()?;
    if publish {
        viewer.require_publisher(settings.auth.require_confirmed_email)?;
    }
    let (found, skipped) = tokio::task::spawn_blocking(move || read_archive(bytes))
        .await
        .map_err(AppError::internal)?
        .map_err(|reason| AppError::bad_input("file", reason))?;
    let mut report = Report {
        created: Vec::new(),
        skipped,
    };
    if found.is_empty() {
        return Err(AppError::bad_input(
            "file",
            "the archive holds no articles (Markdown files or an articles.json)",
        ));
    }
    let items: Vec<(String, ArticleInput, Option<String>)> = found
        .into_iter()
        .map(|item| input_of(item, publish))
        .collect();
    // What the member already has under these titles: one statement for the archive.
    let mut existing = Existing::load(
        db,
        viewer.user_id,
        items
            .iter()
            .filter_map(|(_, _, title)| title.clone())
            // Postgres refuses a NUL; such an article is skipped below anyway.
            .filter(|t| crate::text::forbidden_char(t).is_none())
            .collect(),
    )
    .await?;
    let mut refused: Option<String> = None;
    for (source, input, title) in items {
        // Text from the archive obeys the rule every stored text does (Postgres refuses
        // NUL, and the other controls only hide things).
        let texts = [
            input.title.as_deref(),
            input.body_markdown.as_deref(),
            input.description.as_deref(),
            input.canonical_url.as_deref(),
            input.cover_image_url.as_deref(),
        ];
        let tags = input.tags.iter().flatten().map(String::as_str);
        if let Some(c) = texts
            .into_iter()
            .flatten()
            .chain(tags)
            .find_map(crate::text::forbidden_char)
        {
            report.skipped.push(Skipped {
                source,
                title: title.filter(|t| crate::text::forbidden_char(t).is_none()),
                reason: format!(
                    "it holds the control character {}",
                    crate::text::describe(c)
                ),
            });
            continue;
        }
        if let Some(title) = &title
            && existing.has(title, input.body_markdown.as_deref())
        {
            report.skipped.push(Skipped {
                source,
                title: Some(title.clone()),
                reason: "you already have this article".to_owned(),
            });
            continue;
        }
        // Counted only for an article about to be made: one already here costs nothing.
        if refused.is_none()
            && let Err(e) = allow(input.published == Some(true)).await
        {
            match e {
                AppError::RateLimited { .. } | AppError::Forbidden(_) => {
                    refused = Some(e.public_message());
                }
                other => return Err(other),
            }
        }
        if let Some(reason) = &refused {
            report.skipped.push(Skipped {
                source,
                title,
                reason: reason.clone(),
            });
            continue;
        }
        let made = title.clone().zip(input.body_markdown.clone());
        match articles::create(db, settings, viewer, input).await {
            Ok(saved) => {
                // A second copy in the same archive is skipped too.
                if let Some((title, body)) = made {
                    existing.add(&title, &body);
                }
                report.created.push(saved.article.id);
            }
            Err(AppError::BadUserInput(invalid)) => report.skipped.push(Skipped {
                source,
                title,
                reason: invalid
                    .iter()
                    .map(|i| i.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            Err(e @ (AppError::Forbidden(_) | AppError::RateLimited { .. })) => {
                report.skipped.push(Skipped {
                    source,
                    title,
                    reason: e.public_message(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    tracing::info!(
        user_id = %viewer.user_id,
        created = report.created.len(),
        skipped = report.skipped.len(),
        "articles imported"
    );
    Ok(report)
}

/// An article found in an archive as the input `createArticle` takes, with where it came
/// from and its title (a field, or its front matter's).
fn input_of(item: Found, publish: bool) -> (String, ArticleInput, Option<String>) {
    let (source, input) = match item {
        Found::Markdown { file, text } => {
            let published = publish
                && front_matter::split(&text).is_ok_and(|(fm, _)| fm.published == Some(true));
            (
                file,
                ArticleInput {
                    body_markdown: Some(text),
                    published: Some(published),
                    ..ArticleInput::default()
                },
            )
        }
        Found::Forem { file, article } => {
            let tags = article.tags();
            let date = article
                .published_at
                .as_deref()
                .and_then(front_matter::parse_date);
            (
                file,
                ArticleInput {
                    title: article.title,
                    body_markdown: article.body_markdown,
                    tags,
                    published: Some(publish && article.published == Some(true)),
                    cover_image_url: article.cover_image.or(article.main_image),
                    canonical_url: article.canonical_url,
                    description: article.description,
                    published_at: date,
                    ..ArticleInput::default()
                },
            )
        }
    };
    let title = input.title.clone().or_else(|| {
        input
            .body_markdown
            .as_deref()
            .and_then(|b| front_matter::split(b).ok())
            .and_then(|(fm, _)| fm.title)
    });
    (source, input, title)
}

/// A body without its front matter, trimmed: what two copies of an article share.
fn content_of(body: &str) -> String {
    front_matter::split(body)
        .map(|(_, content)| content.trim().to_owned())
        .unwrap_or_else(|_| body.trim().to_owned())
}

/// The member's articles under the titles of an archive (an import run twice makes
/// nothing twice): title → bodies.
struct Existing(std::collections::HashMap<String, Vec<String>>);

impl Existing {
    async fn load(db: &PgPool, user: UserId, titles: Vec<String>) -> AppResult<Self> {
        let titles: Vec<String> = titles.iter().map(|t| t.trim().to_owned()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT title, body_markdown FROM articles WHERE user_id = $1 AND title = ANY($2)",
        )
        .bind(user)
        .bind(&titles)
        .fetch_all(db)
        .await?;
        let mut by_title = std::collections::HashMap::<String, Vec<String>>::new();
        for (title, body) in rows {
            by_title.entry(title).or_default().push(content_of(&body));
        }
        Ok(Self(by_title))
    }

    /// Whether an article with this title and body (any body, when it has none) is there.
    fn has(&self, title: &str, body: Option<&str>) -> bool {
        let content = body.map(content_of);
        self.0.get(title.trim()).is_some_and(|bodies| {
            bodies
                .iter()
                .any(|stored| content.as_deref().is_none_or(|c| c == stored))
        })
    }

    fn add(&mut self, title: &str, body: &str) {
        self.0
            .entry(title.trim().to_owned())
            .or_default()
            .push(content_of(body));
    }
}
