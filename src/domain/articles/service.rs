//! Writing and publishing articles. Each operation is one transaction: the article, its
//! tags, its series, the counters it moves and the jobs it causes commit together.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::front_matter::{self, FrontMatter};
use super::listing;
use super::model::{
    self, Article, ArticleStatus, COLUMNS, MAX_BODY_BYTES, MAX_DESCRIPTION, MAX_MENTIONS,
    parse_public_url, parse_tags, parse_title,
};
use crate::config::Settings;
use crate::domain::accounts::model::bounded_text;
use crate::domain::accounts::{Role, Viewer};
use crate::domain::audit::{self, Subject};
use crate::domain::markdown;
use crate::domain::organizations::{self, OrgRole};
use crate::domain::outbox::{self, WebhookEvent};
use crate::domain::revisions;
use crate::domain::spam;
use crate::error::{AllValid as _, AppError, AppResult, Problem};
use crate::ids::{ArticleId, ImageId, OrganizationId};
use crate::jobs::{self, Job};

/// What a writer sends; `None` leaves a field to the front matter, then to what the
/// article already has.
#[derive(Debug, Default, Clone)]
pub struct ArticleInput {
    pub title: Option<String>,
    pub body_markdown: Option<String>,
    pub tags: Option<Vec<String>>,
    pub published: Option<bool>,
    pub cover_image_url: Option<String>,
    /// An image the writer uploaded; its cover-sized copy becomes the cover.
    pub cover_image_id: Option<ImageId>,
    pub canonical_url: Option<String>,
    pub description: Option<String>,
    pub series: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// The organization to publish under (`Some(None)`: none); its members only.
    pub organization_id: Option<Option<OrganizationId>>,
}

/// The input merged with the front matter and validated.
struct Draft {
    title: Option<String>,
    body: Option<Body>,
    tags: Option<Vec<String>>,
    published: Option<bool>,
    cover_image_url: Option<Option<String>>,
    canonical_url: Option<Option<String>>,
    description: Option<String>,
    series: Option<Option<String>>,
    published_at: Option<DateTime<Utc>>,
    organization: Option<Option<OrganizationId>>,
}

/// An optional URL: empty clears it.
fn optional_url(field: &str, raw: Option<String>) -> AppResult<Option<Option<String>>> {
    raw.map(|u| {
        if u.trim().is_empty() {
            Ok(None)
        } else {
            parse_public_url(field, &u).map(Some)
        }
    })
    .transpose()
}

/// [`prepare_now`] on a blocking thread: rendering a large article takes milliseconds.
async fn prepare(input: ArticleInput) -> AppResult<Draft> {
    tokio::task::spawn_blocking(move || prepare_now(input))
        .await
        .map_err(AppError::internal)?
}

/// The body rendered: its Markdown, HTML, reading time and the text a description is
/// derived from.
type Body = (String, String, i32, String);

/// Splits off the front matter and renders the rest.
fn parse_body(markdown: &str) -> AppResult<(FrontMatter, Body)> {
    if markdown.len() > MAX_BODY_BYTES {
        return Err(AppError::invalid(
            "bodyMarkdown",
            Problem::TooLong,
            "bodyMarkdown must be at most 800 KB",
        ));
    }
    let (fm, content) = front_matter::split(markdown)?;
    let html = markdown::render(content)
        .map_err(|refused| AppError::bad_input("bodyMarkdown", refused.to_string()))?;
    let text = markdown::plain_text(&html);
    if markdown::mentions(content).len() > MAX_MENTIONS {
        return Err(AppError::bad_input(
            "bodyMarkdown",
            format!("at most {MAX_MENTIONS} @mentions"),
        ));
    }
    let derived: String = text.chars().take(100).collect();
    let body = (
        markdown.to_owned(),
        html,
        markdown::reading_time(&text),
        derived,
    );
    Ok((fm, body))
}

/// A publication date within the years a calendar of ours holds (the database refuses
/// years past 294276, and a date before 1970 or after 9999 is a typing mistake).
fn parse_date(date: Option<DateTime<Utc>>) -> AppResult<Option<DateTime<Utc>>> {
    use chrono::Datelike as _;
    match date {
        Some(d) if !(1970..=9999).contains(&d.year()) => Err(AppError::bad_input(
            "publishedAt",
            "publishedAt must be between the years 1970 and 9999",
        )),
        date => Ok(date),
    }
}

/// Checks every field (a field given wins over the front matter's) and reports every one
/// that is invalid.
fn prepare_now(input: ArticleInput) -> AppResult<Draft> {
    let (fm, body) = match input.body_markdown.as_deref().map(parse_body).transpose() {
        Ok(Some((fm, body))) => (fm, Ok(Some(body))),
        Ok(None) => (FrontMatter::default(), Ok(None)),
        Err(e) => (FrontMatter::default(), Err(e)),
    };
    let (body, title, tags, description, series, cover_image_url, canonical_url, published_at) = (
        body,
        input
            .title
            .or(fm.title)
            .map(|t| parse_title(&t))
            .transpose(),
        input.tags.or(fm.tags).map(|t| parse_tags(&t)).transpose(),
        input
            .description
            .or(fm.description)
            .map(|d| bounded_text("description", &d, MAX_DESCRIPTION))
            .transpose(),
        input
            .series
            .or(fm.series)
            .map(|s| {
                let s = bounded_text("series", &s, 128)?;
                Ok::<_, AppError>(Some(s).filter(|s| !s.is_empty()))
            })
            .transpose(),
        optional_url("coverImageUrl", input.cover_image_url.or(fm.cover_image)),
        optional_url("canonicalUrl", input.canonical_url.or(fm.canonical_url)),
        parse_date(input.published_at.or(fm.date)),
    )
        .all_valid()?;
    Ok(Draft {
        title,
        tags,
        published: input.published.or(fm.published),
        cover_image_url,
        canonical_url,
        description,
        series,
        published_at,
        body,
        organization: input.organization_id,
    })
}

/// An uploaded image of the writer's as the cover; it wins over a cover URL.
/// What a writer sent, checked and rendered, with the cover they chose from their uploads.
async fn writer_draft(db: &PgPool, viewer: &Viewer, input: ArticleInput) -> AppResult<Draft> {
    viewer.require_writer()?;
    let cover = input.cover_image_id;
    let mut draft = prepare(input).await?;
    uploaded_cover(db, viewer, cover, &mut draft).await?;
    Ok(draft)
}

async fn uploaded_cover(
    db: &PgPool,
    viewer: &Viewer,
    image: Option<ImageId>,
    draft: &mut Draft,
) -> AppResult<()> {
    if let Some(id) = image {
        let image = crate::domain::media::find_owned(db, id, viewer.user_id)
            .await
            .map_err(|_| AppError::bad_input("coverImageId", "no such image of yours"))?;
        draft.cover_image_url = Some(Some(crate::domain::media::cover_url(&image)));
    }
    Ok(())
}

/// An article after a write, and whether that write made it live (which subscribers hear of).
pub struct Saved {
    pub article: Article,
    pub went_live: bool,
}

pub async fn find(db: &PgPool, id: ArticleId) -> AppResult<Option<Article>> {
    Ok(sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM articles WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// The article, locked for the rest of the transaction; NOT_FOUND when there is none.
pub(super) async fn lock(conn: &mut PgConnection, id: ArticleId) -> AppResult<Article> {
    sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM articles WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such article".to_owned()))
}

/// The article at `/{username}/{slug}`, if this viewer (or preview-token holder) may see it.
pub async fn find_by_path(
    db: &PgPool,
    viewer: Option<&Viewer>,
    username: &str,
    slug: &str,
    preview_token: Option<&str>,
    includes: listing::Includes,
) -> AppResult<Option<(Article, listing::Extras)>> {
    let sql = includes.wrap(
        &format!(
            "SELECT {} FROM articles a JOIN users u ON u.id = a.user_id
             WHERE u.username = $1::citext AND a.slug = $2 AND u.deleted_at IS NULL",
            model::qualified(COLUMNS)
        ),
        None,
    );
    let row = sqlx::query_as::<_, listing::WithExtras>(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .bind(slug)
        .fetch_optional(db)
        .await?;
    Ok(row
        .filter(|r| r.article.visible_with(viewer, preview_token))
        .map(|r| (r.article, r.extras)))
}

/// Replaces the article's tags, creating tags on first use.
async fn set_tags(
    conn: &mut PgConnection,
    article_id: ArticleId,
    tags: &[String],
) -> AppResult<()> {
    sqlx::query("DELETE FROM article_tags WHERE article_id = $1")
        .bind(article_id)
        .execute(&mut *conn)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = tags.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query("INSERT INTO tags (id, name) SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT (name) DO NOTHING")
        .bind(&ids)
        .bind(tags)
        .execute(&mut *conn)
        .await?;
    let positions: Vec<i16> = (0..tags.len())
        .map(|i| i16::try_from(i).unwrap_or(i16::MAX))
        .collect();
    sqlx::query(
        "INSERT INTO article_tags (article_id, tag_id, position)
         SELECT $1, t.id, p.position FROM UNNEST($2::text[], $3::int2[]) AS p(name, position)
         JOIN tags t ON t.name = p.name",
    )
    .bind(article_id)
    .bind(tags)
    .bind(&positions)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the counters an article contributes to while it is live.
/// Moves the article counts of every author, of the organization and of the tags of an
/// article going live (`delta` 1) or leaving (-1).
async fn count_live(
    conn: &mut PgConnection,
    article: &Article,
    tags: &[String],
    delta: i32,
) -> AppResult<()> {
    sqlx::query("UPDATE users SET articles_count = articles_count + $2 WHERE id = ANY($1)")
        .bind(article.authors())
        .bind(delta)
        .execute(&mut *conn)
        .await?;
    if let Some(org) = article.organization_id {
        sqlx::query("UPDATE organizations SET articles_count = articles_count + $2 WHERE id = $1")
            .bind(org)
            .bind(delta)
            .execute(&mut *conn)
            .await?;
    }
    if !tags.is_empty() {
        sqlx::query("UPDATE tags SET articles_count = articles_count + $2 WHERE name = ANY($1)")
            .bind(tags)
            .bind(delta)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The status the article moves to and when it goes live. `publishedAt` is fixed at the
/// first publication; until then a future date schedules the article.
fn next_state(
    article: &Article,
    publish: bool,
    requested_at: Option<DateTime<Utc>>,
) -> (ArticleStatus, Option<DateTime<Utc>>) {
    // A takedown holds whatever the author does; `take_down` and `restore` alone move it.
    if article.is_removed() {
        return (article.status, article.published_at);
    }
    if !publish {
        return (ArticleStatus::Draft, article.published_at);
    }
    let now = Utc::now();
    let at = match (article.status, article.published_at) {
        (ArticleStatus::Published, Some(at)) => at,
        (ArticleStatus::Scheduled, Some(at)) => requested_at.unwrap_or(at),
        (_, Some(at)) if at <= now => at,
        _ => requested_at.unwrap_or(now),
    };
    let status = if at > now {
        ArticleStatus::Scheduled
    } else {
        ArticleStatus::Published
    };
    (status, Some(at))
}

/// Tells the author's and the instance's webhooks what happened to `article`.
async fn announce(
    conn: &mut PgConnection,
    event: WebhookEvent,
    article: &Article,
    detail: serde_json::Value,
) -> AppResult<()> {
    outbox::record(
        conn,
        event,
        (outbox::Subject::Article, article.id.into()),
        &article.authors(),
        detail,
    )
    .await?;
    Ok(())
}

/// Writes status changes and what follows from them: counters, the scheduled job, the
/// webhooks' events.
async fn transition(
    conn: &mut PgConnection,
    before: &Article,
    status: ArticleStatus,
    published_at: Option<DateTime<Utc>>,
) -> AppResult<()> {
    if before.status == status && before.published_at == published_at {
        return Ok(());
    }
    sqlx::query("UPDATE articles SET status = $2, published_at = $3 WHERE id = $1")
        .bind(before.id)
        .bind(status)
        .bind(published_at)
        .execute(&mut *conn)
        .await
        .map_err(AppError::from)?;
    let was_live = before.is_live();
    let is_live = status == ArticleStatus::Published;
    if was_live != is_live {
        count_live(
            conn,
            before,
            &before.tag_names,
            if is_live { 1 } else { -1 },
        )
        .await?;
        let event = if is_live {
            WebhookEvent::ArticlePublished
        } else {
            WebhookEvent::ArticleUnpublished
        };
        announce(conn, event, before, serde_json::json!({})).await?;
    }
    if is_live {
        crate::domain::ranking::refresh_one(&mut *conn, before.id).await?;
    }
    if status == ArticleStatus::Scheduled {
        jobs::enqueue_at(
            &mut *conn,
            &Job::PublishScheduled {
                article_id: before.id,
            },
            published_at,
        )
        .await?;
    }
    Ok(())
}

/// Replaces an article's tag rows (its `tag_names` column is the caller's) and, while it
/// is live, the tags' article counts.
async fn retag(conn: &mut PgConnection, before: &Article, tags: &[String]) -> AppResult<()> {
    if tags == before.tag_names.as_slice() {
        return Ok(());
    }
    set_tags(conn, before.id, tags).await?;
    if before.is_live() {
        let removed: Vec<String> = before
            .tag_names
            .iter()
            .filter(|t| !tags.contains(t))
            .cloned()
            .collect();
        let added: Vec<String> = tags
            .iter()
            .filter(|t| !before.tag_names.contains(t))
            .cloned()
            .collect();
        sqlx::query("UPDATE tags SET articles_count = articles_count - 1 WHERE name = ANY($1)")
            .bind(&removed)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE tags SET articles_count = articles_count + 1 WHERE name = ANY($1)")
            .bind(&added)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A moderator changes an article's tags, with a reason kept in the audit log; a tag
/// moderator adds or removes their own tags on a live article.
pub async fn moderate_tags(
    db: &PgPool,
    viewer: &Viewer,
    id: ArticleId,
    tags: &[String],
    reason: &str,
) -> AppResult<Article> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, id).await?;
    let instance_moderator = viewer.require_role(Role::Moderator).is_ok();
    let moderated = if instance_moderator {
        Vec::new()
    } else {
        crate::domain::tags::moderated_by(&mut tx, viewer.user_id).await?
    };
    if !instance_moderator {
        // A tag moderator acts on live articles only.
        if !before.is_live() {
            return Err(AppError::NotFound("No such article".to_owned()));
        }
        if moderated.is_empty() {
            return Err(AppError::Forbidden(
                "This needs a moderator, or a tag moderator".to_owned(),
            ));
        }
    }
    let (reason, tags) = (audit::parse_reason(reason), model::parse_tags(tags)).all_valid()?;
    let tags = crate::domain::tags::canonical(&mut tx, tags).await?;
    // A tag moderator adds or removes their own tags, and no others.
    if !instance_moderator {
        let changed = tags
            .iter()
            .filter(|t| !before.tag_names.contains(t))
            .chain(before.tag_names.iter().filter(|t| !tags.contains(t)));
        if let Some(other) = changed.into_iter().find(|t| !moderated.contains(t)) {
            return Err(AppError::Forbidden(format!(
                "You moderate {}; #{other} is not yours to add or remove",
                moderated
                    .iter()
                    .map(|t| format!("#{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    retag(&mut tx, &before, &tags).await?;
    sqlx::query("UPDATE articles SET tag_names = $2 WHERE id = $1")
        .bind(id)
        .bind(&tags)
        .execute(&mut *tx)
        .await?;
    audit::audit(
        &mut tx,
        Some(viewer.user_id),
        crate::domain::audit::AuditAction::ArticleRetag,
        Subject::Article(id),
        &reason,
        serde_json::json!({ "before": before.tag_names, "after": tags }),
    )
    .await?;
    let article = lock(&mut tx, id).await?;
    record_revision(&mut tx, viewer, &before, &article).await?;
    tx.commit().await?;
    Ok(article)
}

/// Keeps the revision of an edit by `viewer` from `before` to `after` (both read with
/// their bodies) of a live or taken-down article.
async fn record_revision(
    conn: &mut PgConnection,
    viewer: &Viewer,
    before: &Article,
    after: &Article,
) -> AppResult<()> {
    // A draft is its authors' work in progress: the history holds the edits made while
    // readers see the article (or after a takedown), so nothing written before it went
    // live, or while it was back in drafts, becomes public with it.
    if !before.is_live() && !before.is_removed() {
        return Ok(());
    }
    fn version(a: &Article) -> revisions::Version<'_> {
        revisions::Version {
            title: Some(&a.title),
            tags: Some(&a.tag_names),
            cover_image_url: a.cover_image_url.as_deref(),
            canonical_url: a.canonical_url.as_deref(),
            body: &a.body_markdown,
        }
    }
    revisions::record(
        conn,
        revisions::Edited::Article,
        before.id.uuid(),
        viewer.user_id,
        &version(before),
        &version(after),
    )
    .await
}

/// A moderator's takedown (the caller has checked the right to): the article leaves
/// every list, its author cannot publish it again, and its preview link stops working.
pub async fn take_down(conn: &mut PgConnection, id: ArticleId, reason: &str) -> AppResult<()> {
    let before = lock(conn, id).await?;
    transition(conn, &before, ArticleStatus::Removed, before.published_at).await?;
    sqlx::query("UPDATE articles SET removal_reason = $2, preview_token = $3 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .bind(crate::domain::accounts::tokens::issue().raw)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Undoes a takedown: the article is its author's draft again.
pub async fn restore(conn: &mut PgConnection, id: ArticleId) -> AppResult<()> {
    let before = lock(conn, id).await?;
    if !before.is_removed() {
        return Err(AppError::bad_input("id", "this article was not taken down"));
    }
    transition(conn, &before, ArticleStatus::Draft, before.published_at).await?;
    sqlx::query("UPDATE articles SET removal_reason = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A removed article cannot be published by its author.
fn refuse_if_removed(article: &Article) -> AppResult<()> {
    if article.is_removed() {
        return Err(AppError::Forbidden(format!(
            "A moderator took this article down ({}); it cannot be published again",
            article
                .removal_reason
                .as_deref()
                .unwrap_or("no reason given")
        )));
    }
    Ok(())
}

pub async fn create(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    input: ArticleInput,
) -> AppResult<Saved> {
    // Boxed: the whole creation is one large future, kept off the caller's stack.
    Box::pin(create_and(db, settings, viewer, input, None)).await
}

/// Work done in a new article's own transaction, once it is stored (an import records the
/// feed entry it came from, so an entry is imported once and never lost).
pub type Also = Box<
    dyn for<'c> FnOnce(
            &'c mut PgConnection,
            ArticleId,
        ) -> futures_util::future::BoxFuture<'c, AppResult<()>>
        + Send,
>;

/// [`create`], with `also` in the same transaction.
pub async fn create_and(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    input: ArticleInput,
    also: Option<Also>,
) -> AppResult<Saved> {
    let draft = writer_draft(db, viewer, input).await?;
    let title = draft.title.clone().ok_or_else(|| {
        AppError::invalid(
            "title",
            Problem::Blank,
            "title is required (as a field or in the front matter)",
        )
    })?;
    let (markdown, html, reading_time, derived) = draft.body.clone().unwrap_or_default();
    let publish = draft.published.unwrap_or(false);
    if publish {
        viewer.require_publisher(settings.auth.require_confirmed_email)?;
    }
    let mut tx = db.begin().await?;
    let organization = draft.organization.flatten();
    if let Some(org) = organization {
        let role = organizations::require_role(&mut tx, viewer, org, OrgRole::Member).await?;
        if publish && role < OrgRole::Editor {
            return Err(submit_instead());
        }
    }
    let tags =
        crate::domain::tags::canonical(&mut tx, draft.tags.clone().unwrap_or_default()).await?;
    let series_id = match draft.series.clone().flatten() {
        Some(series) => Some(super::series::upsert(&mut tx, viewer.user_id, &series).await?),
        None => None,
    };
    let id = ArticleId::generate();
    let preview = crate::domain::accounts::tokens::issue().raw;
    let mut inserted = None;
    for _ in 0..5 {
        inserted = sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
            "INSERT INTO articles (id, user_id, title, slug, body_markdown, body_html, description,
                cover_image_url, canonical_url, series_id, reading_time_minutes, tag_names, preview_token,
                organization_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (user_id, slug) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(viewer.user_id)
        .bind(&title)
        .bind(model::make_slug(&title))
        .bind(&markdown)
        .bind(&html)
        .bind(draft.description.clone().unwrap_or(derived.clone()))
        .bind(draft.cover_image_url.clone().flatten())
        .bind(draft.canonical_url.clone().flatten())
        .bind(series_id)
        .bind(reading_time)
        .bind(&tags)
        .bind(&preview)
        .bind(organization)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_some() {
            break;
        }
    }
    let article = inserted
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no free slug after 5 tries")))?;
    set_tags(&mut tx, id, &tags).await?;
    if publish {
        let (status, at) = next_state(&article, true, draft.published_at);
        transition(&mut tx, &article, status, at).await?;
    }
    spam::flag_spam(&mut tx, settings, Subject::Article(id), &title).await?;
    crate::domain::notifications::subscribe(
        &mut tx,
        viewer.user_id,
        id,
        crate::domain::notifications::ThreadLevel::All,
        true,
    )
    .await?;
    if let Some(also) = also {
        also(&mut tx, id).await?;
    }
    let article = lock(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Saved {
        went_live: article.is_live(),
        article,
    })
}

/// `viewer`'s role in the article's organization, if it has one and they belong to it.
async fn org_role(
    conn: &mut PgConnection,
    article: &Article,
    viewer: &Viewer,
) -> AppResult<Option<OrgRole>> {
    match article.organization_id {
        Some(org) => organizations::role_of(conn, org, viewer.user_id).await,
        None => Ok(None),
    }
}

/// Whether an editor (or owner) of its organization, holding `role`, reaches the article:
/// the organization's live articles, and the drafts submitted to its review queue.
fn editor_reaches(article: &Article, role: Option<OrgRole>) -> bool {
    role >= Some(OrgRole::Editor) && article.open_to_editors()
}

/// NOT_FOUND unless `viewer` sees the article: what [`Article::visible_to`] allows, and what
/// its organization's editors reach.
fn require_visible(article: &Article, viewer: &Viewer, role: Option<OrgRole>) -> AppResult<()> {
    if article.visible_to(Some(viewer)) || editor_reaches(article, role) {
        return Ok(());
    }
    Err(AppError::NotFound("No such article".to_owned()))
}

fn may_edit(article: &Article, viewer: &Viewer, role: Option<OrgRole>) -> AppResult<()> {
    viewer.require_writer()?;
    if !article.may_edit(Some(viewer)) && !editor_reaches(article, role) {
        return Err(AppError::Forbidden(
            "Only its authors and its organization's editors can change this article".to_owned(),
        ));
    }
    Ok(())
}

/// An organization's article goes live through its editors.
fn submit_instead() -> AppError {
    AppError::Forbidden(
        "Only the organization's editors and owners publish its articles: submit it for review"
            .to_owned(),
    )
}

/// FORBIDDEN unless `viewer` may publish the article: its organization's editors for an
/// organization's article, its authors otherwise.
fn may_publish(article: &Article, role: Option<OrgRole>) -> AppResult<()> {
    if article.organization_id.is_some() && role < Some(OrgRole::Editor) {
        return Err(submit_instead());
    }
    Ok(())
}

pub async fn update(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    id: ArticleId,
    input: ArticleInput,
) -> AppResult<Saved> {
    let draft = writer_draft(db, viewer, input).await?;
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, id).await?;
    let role = org_role(&mut tx, &before, viewer).await?;
    require_visible(&before, viewer, role)?;
    may_edit(&before, viewer, role)?;
    if draft.published == Some(true) {
        refuse_if_removed(&before)?;
    }
    // Its author moves it into (or out of) an organization they belong to.
    let organization = match draft.organization {
        Some(wanted) if wanted != before.organization_id => {
            if before.user_id != viewer.user_id {
                return Err(AppError::Forbidden(
                    "Only the article's author moves it between organizations".to_owned(),
                ));
            }
            if before.status != ArticleStatus::Draft {
                return Err(AppError::bad_input(
                    "organizationId",
                    "only a draft moves between organizations: unpublish it first",
                ));
            }
            if let Some(org) = wanted {
                organizations::require_role(&mut tx, viewer, org, OrgRole::Member).await?;
            }
            wanted
        }
        _ => before.organization_id,
    };
    let role = match organization {
        Some(org) if Some(org) != before.organization_id => {
            organizations::role_of(&mut tx, org, viewer.user_id).await?
        }
        _ => role,
    };
    let publish = draft.published.unwrap_or(matches!(
        before.status,
        ArticleStatus::Scheduled | ArticleStatus::Published
    ));
    if publish && before.status == ArticleStatus::Draft {
        viewer.require_publisher(settings.auth.require_confirmed_email)?;
    }
    // Whatever goes (or stays) on its way out under an organization, its editors send.
    if publish && !before.is_live() {
        may_publish(
            &Article {
                organization_id: organization,
                ..before.clone()
            },
            role,
        )?;
    }
    let series_id = match &draft.series {
        // The article's author's series, whoever edits it.
        Some(Some(series)) => Some(super::series::upsert(&mut tx, before.user_id, series).await?),
        Some(None) => None,
        None => before.series_id,
    };
    let (markdown, html, reading_time, derived) = match draft.body.clone() {
        Some(body) => body,
        None => (
            before.body_markdown.clone(),
            before.body_html.clone(),
            before.reading_time_minutes,
            before.description.clone(),
        ),
    };
    let description = draft
        .description
        .clone()
        .unwrap_or(if draft.body.is_some() {
            derived
        } else {
            before.description.clone()
        });
    let tags = match draft.tags.clone() {
        Some(tags) => crate::domain::tags::canonical(&mut tx, tags).await?,
        None => before.tag_names.clone(),
    };
    let content_changed = draft.title.as_ref().is_some_and(|t| *t != before.title)
        || markdown != before.body_markdown;
    sqlx::query(
        "UPDATE articles SET title = $2, body_markdown = $3, body_html = $4, description = $5,
            cover_image_url = $6, canonical_url = $7, series_id = $8, reading_time_minutes = $9,
            tag_names = $10, edited_at = CASE WHEN $11 THEN now() ELSE edited_at END,
            organization_id = $12,
            review_state = CASE WHEN $13 THEN NULL ELSE review_state END
         WHERE id = $1",
    )
    .bind(id)
    .bind(draft.title.clone().unwrap_or(before.title.clone()))
    .bind(&markdown)
    .bind(&html)
    .bind(&description)
    .bind(
        draft
            .cover_image_url
            .clone()
            .unwrap_or(before.cover_image_url.clone()),
    )
    .bind(
        draft
            .canonical_url
            .clone()
            .unwrap_or(before.canonical_url.clone()),
    )
    .bind(series_id)
    .bind(reading_time)
    .bind(&tags)
    .bind(content_changed && before.is_live())
    .bind(organization)
    .bind(publish || organization != before.organization_id)
    .execute(&mut *tx)
    .await
    .map_err(AppError::from)?;
    retag(&mut tx, &before, &tags).await?;
    let current = lock(&mut tx, id).await?;
    let (status, at) = next_state(&current, publish, draft.published_at);
    // Counters follow the tags the article has now.
    transition(
        &mut tx,
        &Article {
            status: before.status,
            published_at: before.published_at,
            ..current
        },
        status,
        at,
    )
    .await?;
    if let Some(title) = &draft.title {
        spam::flag_spam(&mut tx, settings, Subject::Article(id), title).await?;
    }
    let article = lock(&mut tx, id).await?;
    let changed = before.title != article.title
        || before.body_markdown != article.body_markdown
        || before.tag_names != article.tag_names
        || before.description != article.description
        || before.cover_image_url != article.cover_image_url
        || before.canonical_url != article.canonical_url;
    record_revision(&mut tx, viewer, &before, &article).await?;
    if before.is_live() && article.is_live() && changed {
        announce(
            &mut tx,
            WebhookEvent::ArticleUpdated,
            &article,
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Saved {
        went_live: !before.is_live() && article.is_live(),
        article,
    })
}

pub async fn set_published(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    id: ArticleId,
    publish: bool,
) -> AppResult<Saved> {
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, id).await?;
    let role = org_role(&mut tx, &before, viewer).await?;
    require_visible(&before, viewer, role)?;
    // Moderators and admins may take any article down; its authors (or, for an
    // organization's article, its editors) put it up.
    let own = before.may_edit(Some(viewer)) || editor_reaches(&before, role);
    if publish || own {
        may_edit(&before, viewer, role)?;
    } else {
        viewer.require_role(Role::Moderator)?;
    }
    if publish {
        refuse_if_removed(&before)?;
    }
    if publish && !before.is_live() {
        may_publish(&before, role)?;
    }
    if publish && before.status == ArticleStatus::Draft {
        viewer.require_publisher(settings.auth.require_confirmed_email)?;
        sqlx::query("UPDATE articles SET review_state = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if !publish && !own {
        // A moderator unpublishing someone else's article takes it down.
        unpublish_in(&mut tx, viewer, id, "").await?;
    } else {
        let (status, at) = next_state(&before, publish, None);
        transition(&mut tx, &before, status, at).await?;
    }
    let article = lock(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Saved {
        went_live: !before.is_live() && article.is_live(),
        article,
    })
}

pub async fn delete(db: &PgPool, viewer: &Viewer, id: ArticleId) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let article = lock(&mut tx, id).await?;
    if !article.visible_to(Some(viewer)) {
        return Err(AppError::NotFound("No such article".to_owned()));
    }
    viewer.require_writer()?;
    if article.user_id != viewer.user_id {
        return Err(AppError::Forbidden(
            "Only the article's author can delete it".to_owned(),
        ));
    }
    if article.is_live() {
        count_live(&mut tx, &article, &article.tag_names, -1).await?;
        let deleted = serde_json::json!({ "deleted": true });
        announce(&mut tx, WebhookEvent::ArticleUnpublished, &article, deleted).await?;
    }
    // Reactions point at their item by id, without a foreign key: remove them with it.
    sqlx::query(
        "WITH items AS (
            SELECT 'article'::text AS t, $1::uuid AS id
            UNION ALL SELECT 'comment', id FROM comments WHERE article_id = $1)
         , gone AS (DELETE FROM reactions r USING items i WHERE r.reactable_type = i.t AND r.reactable_id = i.id)
         DELETE FROM reaction_tallies r USING items i WHERE r.reactable_type = i.t AND r.reactable_id = i.id",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM articles WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The scheduled-publication job: makes the article live if its time has come and it is
/// still scheduled. Runs again harmlessly.
pub async fn publish_scheduled(db: &PgPool, id: ArticleId) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    let Some(article) = sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM articles WHERE id = $1 AND status = 'scheduled' AND published_at <= now() FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    transition(
        &mut tx,
        &article,
        ArticleStatus::Published,
        article.published_at,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Takes an article down, as a moderator: it becomes `removed`, which its author cannot
/// undo (see [`take_down`]).
pub async fn unpublish_in(
    conn: &mut PgConnection,
    viewer: &Viewer,
    article: ArticleId,
    reason: &str,
) -> AppResult<()> {
    viewer.require_role(Role::Moderator)?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM articles WHERE id = $1 FOR UPDATE")
            .bind(article)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(status) = status else {
        return Err(AppError::NotFound("No such article".to_owned()));
    };
    take_down(conn, article, reason).await?;
    audit::audit(
        conn,
        Some(viewer.user_id),
        crate::domain::audit::AuditAction::ArticleUnpublish,
        Subject::Article(article),
        reason,
        serde_json::json!({ "status_before": status }),
    )
    .await
}

/// An author of an organization's draft puts it in the editors' review queue.
pub async fn submit_for_review(db: &PgPool, viewer: &Viewer, id: ArticleId) -> AppResult<Article> {
    viewer.require_writer()?;
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, id).await?;
    if !before.visible_to(Some(viewer)) {
        return Err(AppError::NotFound("No such article".to_owned()));
    }
    if !before.is_author(Some(viewer)) {
        return Err(AppError::Forbidden(
            "Only its authors submit an article for review".to_owned(),
        ));
    }
    if before.organization_id.is_none() {
        return Err(AppError::bad_input(
            "id",
            "only an organization's article goes through review: set its organizationId",
        ));
    }
    if before.status != ArticleStatus::Draft || before.in_review() {
        return Err(AppError::bad_input(
            "id",
            "only a draft not already in review can be submitted",
        ));
    }
    sqlx::query(
        "UPDATE articles SET review_state = 'pending', review_note = NULL, submitted_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let article = lock(&mut tx, id).await?;
    tx.commit().await?;
    Ok(article)
}

/// An editor (or owner) sends a submitted draft back to its authors with a note.
pub async fn return_for_changes(
    db: &PgPool,
    viewer: &Viewer,
    id: ArticleId,
    note: &str,
) -> AppResult<Article> {
    viewer.require_writer()?;
    let note = audit::parse_reason(note).map_err(|_| {
        AppError::bad_input(
            "note",
            "a note of 1 to 500 characters tells the authors why",
        )
    })?;
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, id).await?;
    let role = org_role(&mut tx, &before, viewer).await?;
    require_visible(&before, viewer, role)?;
    if role < Some(OrgRole::Editor) {
        return Err(AppError::Forbidden(
            "Only the organization's editors and owners review its articles".to_owned(),
        ));
    }
    if !before.in_review() {
        return Err(AppError::bad_input(
            "id",
            "this article is not waiting for review",
        ));
    }
    sqlx::query("UPDATE articles SET review_state = 'returned', review_note = $2 WHERE id = $1")
        .bind(id)
        .bind(&note)
        .execute(&mut *tx)
        .await?;
    let article = lock(&mut tx, id).await?;
    tx.commit().await?;
    Ok(article)
}

/// The drafts waiting in each organization's review queue, oldest submission first (at
/// most 100 each), in one statement; the caller has checked that the viewer edits there.
pub async fn review_queues(db: &PgPool, orgs: &[OrganizationId]) -> AppResult<Vec<Article>> {
    Ok(sqlx::query_as::<_, Article>(sqlx::AssertSqlSafe(format!(
        "SELECT q.* FROM unnest($1::uuid[]) AS o(id) CROSS JOIN LATERAL (
            SELECT {} FROM articles WHERE organization_id = o.id AND review_state = 'pending'
            AND status = 'draft' ORDER BY submitted_at LIMIT 100) q",
        model::LIST_COLUMNS
    )))
    .bind(orgs)
    .fetch_all(db)
    .await?)
}
