//! Feeds in: a member's RSS, Atom or JSON feeds, fetched by the worker on a schedule with
//! conditional GET through the outbound guard, each new entry made an article of theirs
//! (Markdown from its HTML, tags from its categories, the canonical URL when asked), once:
//! entries are remembered by GUID per source, and an entry whose link is already the
//! canonical URL of one of the member's articles is skipped.
//!
//! A feed that is too large, slow, malformed, redirected or hostile fails that fetch with
//! its reason in `last_error`, and nothing else: the source is tried again at its next
//! turn, other sources and jobs are untouched. The XML parser expands no entity it does
//! not know (no billion laughs) and keeps no tree; the HTML of an entry is bounded in size
//! and nesting before it is converted.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::accounts::Viewer;
use super::articles::model::{MAX_BODY_BYTES, MAX_TAG_LEN, MAX_TAGS, MAX_TITLE, parse_public_url};
use super::articles::service::{self as articles, ArticleInput};
use crate::config::Settings;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ArticleId, UserId};
use crate::jobs::{self, Job, JobContext, JobError};
use crate::outbound;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Source {
    pub id: Uuid,
    pub user_id: UserId,
    pub url: String,
    pub mark_canonical: bool,
    pub publish: bool,
    pub last_fetched_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub next_fetch_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, url, mark_canonical, publish, last_fetched_at, last_error, \
                       next_fetch_at, created_at";

/// Adds a source (its URL checked through the outbound guard) and queues its first fetch.
pub async fn add(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    url: &str,
    mark_canonical: bool,
    publish: bool,
) -> AppResult<Source> {
    viewer.require_writer()?;
    if publish {
        viewer.require_publisher(settings.auth.require_confirmed_email)?;
    }
    let target = outbound::check(&settings.outbound, "url", url).await?;
    let url = target.url.to_string();
    let mut tx = db.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feed_sources WHERE user_id = $1")
        .bind(viewer.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= settings.feed_import.max_sources_per_member {
        return Err(AppError::input_rule(format!(
            "a member may import at most {} feeds; remove one first",
            settings.feed_import.max_sources_per_member
        )));
    }
    let source = sqlx::query_as::<_, Source>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO feed_sources (id, user_id, url, mark_canonical, publish)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, url) DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(viewer.user_id)
    .bind(&url)
    .bind(mark_canonical)
    .bind(publish)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::invalid("url", Problem::Taken, "you import this feed already"))?;
    jobs::enqueue(
        &mut tx,
        &Job::FetchFeed {
            source_id: source.id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(source)
}

/// Removes a source; the articles it made stay.
pub async fn remove(db: &PgPool, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    let done = sqlx::query("DELETE FROM feed_sources WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(viewer.user_id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound("No such feed source".to_owned()));
    }
    Ok(())
}

/// Queues a fetch of one of the viewer's sources now (the scheduled one moves to an
/// interval from now).
pub async fn refresh(
    db: &PgPool,
    viewer: &Viewer,
    id: Uuid,
    interval_minutes: i64,
) -> AppResult<Source> {
    let mut tx = db.begin().await?;
    let source = sqlx::query_as::<_, Source>(sqlx::AssertSqlSafe(format!(
        "UPDATE feed_sources SET next_fetch_at = now() + make_interval(mins => $3::int)
         WHERE id = $1 AND user_id = $2
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(viewer.user_id)
    .bind(i32::try_from(interval_minutes).unwrap_or(60))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such feed source".to_owned()))?;
    jobs::enqueue(&mut tx, &Job::FetchFeed { source_id: id }).await?;
    tx.commit().await?;
    Ok(source)
}

/// The member's sources, newest first (at most `feed_import.max_sources_per_member`).
pub async fn list(db: &PgPool, user: UserId) -> AppResult<Vec<Source>> {
    Ok(sqlx::query_as::<_, Source>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM feed_sources WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    )))
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// Sources by id, those of `user` only.
pub async fn find_many(db: &PgPool, user: UserId, ids: &[Uuid]) -> AppResult<Vec<Source>> {
    Ok(sqlx::query_as::<_, Source>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM feed_sources WHERE id = ANY($1) AND user_id = $2"
    )))
    .bind(ids)
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// The articles each of `sources` made that still exist, newest first, at most `limit` per
/// source: one statement for them all.
pub async fn articles_of(
    db: &PgPool,
    sources: &[Uuid],
    limit: i64,
) -> AppResult<Vec<(Uuid, ArticleId)>> {
    Ok(sqlx::query_as(
        "SELECT s.id, e.article_id FROM unnest($1::uuid[]) AS s(id)
         CROSS JOIN LATERAL (
             SELECT article_id FROM feed_entries
             WHERE source_id = s.id AND article_id IS NOT NULL
             ORDER BY created_at DESC LIMIT $2) e",
    )
    .bind(sources)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Queues a fetch of every source whose time has come, and sets its next time, together.
pub async fn queue_due(ctx: &JobContext) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    let due: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE feed_sources SET next_fetch_at = now() + make_interval(mins => $1::int)
         WHERE id IN (SELECT id FROM feed_sources WHERE next_fetch_at <= now()
                      ORDER BY next_fetch_at LIMIT 500 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(i32::try_from(ctx.settings.feed_import.interval_minutes).unwrap_or(60))
    .fetch_all(&mut *tx)
    .await?;
    for source_id in &due {
        jobs::enqueue(
            &mut tx,
            &Job::FetchFeed {
                source_id: *source_id,
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(feeds = due.len(), "feed fetches queued");
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Fetching {
    user_id: UserId,
    url: String,
    mark_canonical: bool,
    publish: bool,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What one fetch came to, as `last_error` tells it (`None`: all went well).
#[derive(Debug, Default, Serialize)]
struct Outcome {
    error: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Fetches source `id` and imports what is new. A feed's failure is recorded, not raised:
/// the job succeeds, and the source waits for its next turn.
pub async fn fetch(ctx: &JobContext, id: Uuid) -> Result<(), JobError> {
    let row = sqlx::query_as::<_, Fetching>(
        "SELECT user_id, url, mark_canonical, publish, etag, last_modified
         FROM feed_sources WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(row) = row else {
        return Ok(()); // Removed since.
    };
    let Some(owner) =
        super::accounts::service::as_member(&ctx.db, "FROM users u WHERE u.id = $1", row.user_id)
            .await?
    else {
        return Ok(());
    };
    // One fetch of a source at a time (a refresh and the schedule may queue two): the
    // other finds the lock taken and leaves it.
    let mut lock = ctx.db.begin().await?;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("feed_source:{id}"))
            .fetch_one(&mut *lock)
            .await?;
    if !locked {
        return Ok(());
    }
    let outcome = match download(&ctx.settings, &row).await {
        Ok(Downloaded::NotModified) => Outcome {
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
            ..Outcome::default()
        },
        Ok(Downloaded::Feed {
            body,
            etag,
            last_modified,
        }) => {
            let imported = import(ctx, id, &row, &owner, &body).await?;
            // Entries left for later must come back in full: the validators are kept
            // as they were, so the next request is not answered 304.
            let (etag, last_modified) = if imported.complete {
                (etag, last_modified)
            } else {
                (row.etag.clone(), row.last_modified.clone())
            };
            Outcome {
                error: imported.error,
                etag,
                last_modified,
            }
        }
        Err(error) => Outcome {
            error: Some(error),
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        },
    };
    let error = outcome.error.as_deref().map(|e| {
        e.chars()
            .filter(|c| !c.is_control())
            .take(1_000)
            .collect::<String>()
    });
    if error.is_some() {
        // The reason stays with the member (it may quote their URL, tokens and all).
        tracing::info!(source = %id, "a feed fetch failed or skipped entries");
    }
    sqlx::query(
        "UPDATE feed_sources SET last_fetched_at = now(), last_error = $2, etag = $3,
                last_modified = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(&error)
    .bind(&outcome.etag)
    .bind(&outcome.last_modified)
    .execute(&ctx.db)
    .await?;
    lock.commit().await?;
    Ok(())
}

enum Downloaded {
    NotModified,
    Feed {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// A conditional GET, bounded in time and size, to a public address only, following no
/// redirect.
async fn download(settings: &Settings, row: &Fetching) -> Result<Downloaded, String> {
    let target = outbound::check(&settings.outbound, "url", &row.url)
        .await
        .map_err(|e| e.public_message())?;
    let client = outbound::client(&settings.outbound, &target).map_err(|e| e.public_message())?;
    let mut request = client.get(target.url.clone()).header(
        "accept",
        "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.5",
    );
    if let Some(etag) = &row.etag {
        request = request.header("if-none-match", etag);
    }
    if let Some(modified) = &row.last_modified {
        request = request.header("if-modified-since", modified);
    }
    let response = request
        .send()
        .await
        .map_err(|e| outbound::Failure::of(&settings.outbound, &e).to_string())?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Downloaded::NotModified);
    }
    if status.is_redirection() {
        let to = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("elsewhere")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(format!(
            "the feed redirects ({status}) to {to}: redirects are not followed; add the feed's final address instead"
        ));
    }
    if !status.is_success() {
        return Err(format!("the feed answered {status}"));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 200)
            .map(str::to_owned)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let body = outbound::read_capped(
        &settings.outbound,
        response,
        settings.feed_import.max_feed_bytes,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Downloaded::Feed {
        body,
        etag,
        last_modified,
    })
}

/// What importing a downloaded feed came to.
struct Imported {
    /// The error to record, if any.
    error: Option<String>,
    /// Every entry of the feed was handled (none left for a later fetch).
    complete: bool,
}

/// The most entries of one feed looked at, newest first: a feed of tens of thousands of
/// tiny entries costs no more than this.
const MAX_ENTRIES_READ: usize = 200;
/// The most articles one member's feeds make in a day.
pub const MAX_ARTICLES_PER_DAY: i64 = 50;

/// A stable id for an entry that has none of its own: from its links and title (the
/// parser's default would be random, and the entry would come back at every fetch).
fn entry_id(
    links: &[feed_rs::model::Link],
    title: &Option<feed_rs::model::Text>,
    _: Option<&str>,
) -> String {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for link in links {
        hash.update(link.href.as_bytes());
        hash.update([0]);
    }
    if let Some(title) = title {
        hash.update(title.content.as_bytes());
    }
    format!("generated:{}", hex::encode(hash.finalize()))
}

/// How an entry is remembered: the SHA-256 of its id (ids may be long or hold any
/// character).
fn entry_key(id: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(id.as_bytes()))
}

/// Imports the new entries of a downloaded feed, oldest first.
async fn import(
    ctx: &JobContext,
    source: Uuid,
    row: &Fetching,
    owner: &Viewer,
    body: &[u8],
) -> Result<Imported, JobError> {
    let failed = |error: String| Imported {
        error: Some(error),
        complete: true,
    };
    let parser = feed_rs::parser::Builder::new()
        .id_generator(entry_id)
        .build();
    let feed = match parser.parse(body) {
        Ok(feed) => feed,
        Err(e) => {
            let reason = e.to_string().chars().take(300).collect::<String>();
            return Ok(failed(format!(
                "the address did not give an RSS, Atom or JSON feed ({reason})"
            )));
        }
    };
    let mut entries = feed.entries;
    // The newest first, to keep the newest when there are too many; then the oldest
    // first, so articles are made in the order they were written.
    entries.sort_by_key(|e| std::cmp::Reverse(e.published.or(e.updated)));
    entries.truncate(MAX_ENTRIES_READ);
    entries.reverse();
    // A new member's imports wait as drafts, like their other articles would.
    let young = Utc::now() - owner.member_since
        < chrono::TimeDelta::days(ctx.settings.rate_limits.new_member_days);
    let publish = row.publish && !young;
    let made_today: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM feed_entries e JOIN feed_sources s ON s.id = e.source_id
         WHERE s.user_id = $1 AND e.article_id IS NOT NULL AND e.created_at > now() - interval '1 day'",
    )
    .bind(row.user_id)
    .fetch_one(&ctx.db)
    .await?;
    let mut skipped = Vec::new();
    let mut made = 0;
    let mut complete = true;
    // What is known already, for every entry at once: their keys, and their links among
    // the member's canonical URLs.
    let link_of = |entry: &feed_rs::model::Entry| {
        entry
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .and_then(|l| parse_public_url("canonicalUrl", &l.href).ok())
    };
    let keys: Vec<String> = entries.iter().map(|e| entry_key(&e.id)).collect();
    let links: Vec<String> = entries.iter().filter_map(link_of).collect();
    let mut known: HashSet<String> =
        sqlx::query_scalar("SELECT guid FROM feed_entries WHERE source_id = $1 AND guid = ANY($2)")
            .bind(source)
            .bind(&keys)
            .fetch_all(&ctx.db)
            .await?
            .into_iter()
            .collect();
    let mut canonical: HashSet<String> = sqlx::query_scalar(
        "SELECT canonical_url FROM articles WHERE user_id = $1 AND canonical_url = ANY($2)",
    )
    .bind(row.user_id)
    .bind(&links)
    .fetch_all(&ctx.db)
    .await?
    .into_iter()
    .collect();
    for (entry, guid) in entries.into_iter().zip(keys) {
        // (An entry repeated within the feed is known after its first.)
        if !known.insert(guid.clone()) {
            continue;
        }
        if made >= ctx.settings.feed_import.max_entries_per_fetch
            || made_today + i64::try_from(made).unwrap_or(i64::MAX) >= MAX_ARTICLES_PER_DAY
        {
            // The rest wait for a later fetch.
            complete = false;
            break;
        }
        let link = link_of(&entry);
        if link.as_ref().is_some_and(|l| canonical.contains(l)) {
            remember(&ctx.db, source, &guid).await?;
            continue;
        }
        let title = entry
            .title
            .as_ref()
            .map(|t| collapse(&t.content))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Untitled".to_owned());
        let title: String = title.chars().take(MAX_TITLE).collect();
        let html = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        let markdown = tokio::task::spawn_blocking(move || markdown_of(&html))
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("converting an entry failed: {e}")))?;
        if markdown.len() > MAX_BODY_BYTES {
            skipped.push(format!("\"{title}\" is longer than an article may be"));
            remember(&ctx.db, source, &guid).await?;
            continue;
        }
        let tags = tags_of(entry.categories.iter().map(|c| c.term.as_str()));
        let published_at = entry
            .published
            .or(entry.updated)
            .filter(|at| *at <= Utc::now());
        let input = ArticleInput {
            title: Some(title.clone()),
            body_markdown: Some(if markdown.trim().is_empty() {
                link.clone().unwrap_or_else(|| title.clone())
            } else {
                markdown
            }),
            tags: Some(tags),
            published: Some(publish),
            canonical_url: link.clone().filter(|_| row.mark_canonical),
            published_at: published_at.filter(|_| publish),
            ..ArticleInput::default()
        };
        let recorded_guid = guid.clone();
        let also: articles::Also = Box::new(move |conn, article| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO feed_entries (source_id, guid, article_id) VALUES ($1, $2, $3)",
                )
                .bind(source)
                .bind(recorded_guid)
                .bind(article)
                .execute(conn)
                .await?;
                Ok(())
            })
        });
        let created = Box::pin(articles::create_and(
            &ctx.db,
            &ctx.settings,
            owner,
            input,
            Some(also),
        ));
        match created.await {
            Ok(_) => {
                made += 1;
                if let Some(link) = link.filter(|_| row.mark_canonical) {
                    canonical.insert(link);
                }
            }
            Err(AppError::Forbidden(why)) => {
                return Ok(Imported {
                    error: Some(format!("articles cannot be made now: {why}")),
                    complete: false,
                });
            }
            // What the entry holds breaks a rule for articles, or it cannot be stored:
            // skipped, said, and not tried again (a database that is down fails the
            // remembering too, and the job is retried).
            Err(e) => {
                let why = match &e {
                    AppError::BadUserInput(invalid) => invalid
                        .first()
                        .map(|i| i.message.clone())
                        .unwrap_or_default(),
                    other => {
                        tracing::warn!(error = %other.public_message(), "an entry could not be imported");
                        "it could not be stored".to_owned()
                    }
                };
                skipped.push(format!("\"{title}\": {why}"));
                remember(&ctx.db, source, &guid).await?;
            }
        }
    }
    let error =
        if !complete && made_today + i64::try_from(made).unwrap_or(0) >= MAX_ARTICLES_PER_DAY {
            Some(format!(
                "{MAX_ARTICLES_PER_DAY} articles a day are imported at most; the rest come later"
            ))
        } else {
            (!skipped.is_empty()).then(|| {
                let mut said = format!("skipped {}: ", skipped.len());
                said.push_str(&skipped.join("; "));
                said
            })
        };
    Ok(Imported { error, complete })
}

/// Remembers an entry that made no article, so it is not tried again.
async fn remember(db: &PgPool, source: Uuid, guid: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO feed_entries (source_id, guid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(guid)
    .execute(db)
    .await?;
    Ok(())
}

/// Whitespace runs made single spaces, control characters dropped.
fn collapse(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// Tags from an entry's categories: letters and digits kept, lower-cased, at most four.
fn tags_of<'a>(categories: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for category in categories {
        let tag: String = category
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(MAX_TAG_LEN)
            .collect();
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
        if tags.len() == MAX_TAGS {
            break;
        }
    }
    tags
}

/// The most HTML an entry may hold to be converted; more is cut at a character boundary.
const MAX_HTML: usize = 512 * 1024;
/// Elements nested deeper than this are not converted as a tree: the text alone is kept.
const MAX_NESTING: usize = 100;

/// Markdown from an entry's HTML (scripts, styles, frames and forms dropped). The
/// converter walks the parsed tree recursively, so a tree deeper than [`MAX_NESTING`]
/// (measured on the tree itself, without recursion) keeps its text only; the result is
/// rendered and sanitised like any article when stored. CPU work: run it off the runtime.
pub fn markdown_of(html: &str) -> String {
    let mut end = html.len().min(MAX_HTML);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let html = &html[..end];
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(vec![
            "script", "style", "iframe", "object", "embed", "form", "head",
        ])
        .build();
    // A parser's work grows with what is open at each tag, and formatting elements left
    // open are opened again in every block: HTML whose text says it would be deep, huge
    // or multiplied is never parsed.
    if !parsable(html) {
        return text_of(html);
    }
    let Ok(tree) = converter.html_to_tree(html) else {
        return text_of(html);
    };
    if depth(&tree) > MAX_NESTING {
        return text_of(html);
    }
    converter.tree_to_markdown(&tree)
}

/// Elements that never contain others, or whose end HTML parsers supply at the next one.
const FLAT: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "dt", "dd", "option", "tr", "td", "th",
];
/// Formatting elements: HTML parsers open again every one left open in each new block,
/// so a few left open times many blocks make many elements.
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// The most start tags an entry's HTML is parsed with.
const MAX_HTML_TAGS: usize = 10_000;
/// The most formatting elements left open at once for the HTML to be parsed.
const MAX_OPEN_FORMATTING: usize = 8;

/// What the text says of the tree a parser would build, in one pass: how deep elements
/// nest (every start tag of an element that can hold others opens a level, a `/>`
/// included: HTML parsers ignore it; every end tag closes one), how many start tags
/// there are, and how many formatting elements are open at most.
fn shape(html: &str) -> (usize, usize, usize) {
    let (mut depth, mut deepest, mut tags) = (0usize, 0usize, 0usize);
    let (mut formatting, mut most_formatting) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        let closing = bytes.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let is_formatting = FORMATTING.contains(&name.as_str());
        if closing {
            depth = depth.saturating_sub(1);
            if is_formatting {
                formatting = formatting.saturating_sub(1);
            }
            continue;
        }
        tags += 1;
        if !FLAT.contains(&name.as_str()) {
            depth += 1;
            deepest = deepest.max(depth);
        }
        if is_formatting {
            formatting += 1;
            most_formatting = most_formatting.max(formatting);
        }
    }
    (deepest, tags, most_formatting)
}

/// Whether a parser would build the tree of `html` in bounded time and memory.
fn parsable(html: &str) -> bool {
    let (depth, tags, formatting) = shape(html);
    depth <= MAX_NESTING && tags <= MAX_HTML_TAGS && formatting <= MAX_OPEN_FORMATTING
}

/// How deep a parsed tree is, walked with a stack of its own.
fn depth(root: &std::rc::Rc<htmd::Node>) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((node, level)) = stack.pop() {
        deepest = deepest.max(level);
        if level > MAX_NESTING {
            break;
        }
        // (The converter does not walk a template's contents; neither does this.)
        for child in node.children.borrow().iter() {
            stack.push((child.clone(), level + 1));
        }
    }
    deepest
}

/// The text of some HTML, tags dropped, entities left as they are.
fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    collapse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_markdown_and_deep_nesting_only_text() {
        let md = markdown_of(
            "<h2>Hi</h2><p>Some <strong>bold</strong> <a href=\"https://x.example\">link</a></p><script>alert(1)</script>",
        );
        assert!(md.contains("## Hi"), "{md}");
        assert!(md.contains("**bold**"), "{md}");
        assert!(md.contains("[link](https://x.example)"), "{md}");
        assert!(!md.contains("alert"), "{md}");
        let deep = format!(
            "{}deep{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(markdown_of(&deep), "deep");
        // A slash does not close a div for an HTML parser: still deep, still only text.
        let slashed = format!("{}deep", "<div/>".repeat(50_000));
        assert_eq!(markdown_of(&slashed), "deep");
        let unclosed = format!("{}deep", "<b id=x>".repeat(20_000));
        assert_eq!(markdown_of(&unclosed), "deep");
        // No closing bracket anywhere: still one pass.
        let open = "<a".repeat(100_000);
        assert!(markdown_of(&open).len() < 300_000);
        assert_eq!(shape("<div/><div><p>a<p>b</div><br><b>x</b>"), (2, 6, 1));
        // A few formatting elements left open, then many blocks: the parser would open
        // each again in every block. Only text.
        let multiplied = format!(
            "{}{}",
            (0..50).map(|n| format!("<b id={n}>")).collect::<String>(),
            "<p>x".repeat(5_000)
        );
        assert!(!markdown_of(&multiplied).contains("**"));
        // Unclosed paragraphs are siblings, not a deep tree: converted.
        let paragraphs = "<p>line".repeat(500);
        assert!(markdown_of(&paragraphs).contains("line\n\nline"));
    }

    #[test]
    fn categories_become_at_most_four_tags() {
        let tags = tags_of(["Rust", "Web Dev", "rust", "C++", "a", "b", "c"].into_iter());
        assert_eq!(tags, ["rust", "webdev", "c", "a"]);
    }
}
