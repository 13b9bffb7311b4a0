use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::domain::accounts::Viewer;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ArticleId, UserId};

pub const MAX_TITLE: usize = 128;
pub const MAX_BODY_BYTES: usize = 800 * 1024;
pub const MAX_TAGS: usize = 4;
pub const MAX_TAG_LEN: usize = 30;
pub const MAX_MENTIONS: usize = 7;
pub const MAX_DESCRIPTION: usize = 300;
pub const MAX_URL: usize = 2048;

/// Every column but the bodies: what lists read. A list of 20 articles would otherwise
/// carry their whole Markdown and HTML (tens of kilobytes each) for clients that seldom
/// ask for them; `bodyHtml` on a listed article loads the bodies through the loader.
pub const LIST_COLUMNS: &str = "id, user_id, title, slug, description, \
     cover_image_url, canonical_url, series_id, status, published_at, edited_at, \
     reading_time_minutes, tag_names, preview_token, comments_count, reactions_count, score, \
     created_at, updated_at, removal_reason, tallies, discussion_locked_at, discussion_lock_reason, \
     organization_id, co_author_ids, review_state, review_note";

/// `columns` read from the table aliased `a` (expressions stay as they are).
pub fn qualified(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| {
            if c.contains(' ') {
                c.to_owned()
            } else {
                format!("a.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every column, bodies included.
pub const COLUMNS: &str = "id, user_id, title, slug, description, \
     cover_image_url, canonical_url, series_id, status, published_at, edited_at, \
     reading_time_minutes, tag_names, preview_token, comments_count, reactions_count, score, \
     created_at, updated_at, removal_reason, tallies, discussion_locked_at, discussion_lock_reason, \
     organization_id, co_author_ids, review_state, review_note, \
     body_markdown, body_html, true AS body_loaded";

/// Where an article is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArticleStatus {
    /// Only its author (and a preview link) sees it.
    Draft,
    /// Goes live by itself at `published_at`.
    Scheduled,
    /// Live.
    Published,
    /// Taken down by a moderator; its author cannot publish it again.
    Removed,
}

crate::text_enum!(ArticleStatus {
    Draft = "draft",
    Scheduled = "scheduled",
    Published = "published",
    Removed = "removed",
});

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Article {
    pub id: ArticleId,
    pub user_id: UserId,
    pub title: String,
    pub slug: String,
    /// Empty unless `body_loaded` (lists read `LIST_COLUMNS`).
    #[sqlx(default)]
    pub body_markdown: String,
    #[sqlx(default)]
    pub body_html: String,
    #[sqlx(default)]
    pub body_loaded: bool,
    pub description: String,
    pub cover_image_url: Option<String>,
    pub canonical_url: Option<String>,
    pub series_id: Option<crate::ids::SeriesId>,
    pub status: ArticleStatus,
    pub published_at: Option<DateTime<Utc>>,
    pub edited_at: Option<DateTime<Utc>>,
    pub reading_time_minutes: i32,
    pub tag_names: Vec<String>,
    pub preview_token: String,
    pub comments_count: i32,
    pub reactions_count: i32,
    pub score: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why a moderator took it down (status `removed`).
    pub removal_reason: Option<String>,
    /// Reactions per category, as the tallies hold them (see the `reactions` area).
    pub tallies: sqlx::types::Json<std::collections::HashMap<String, i32>>,
    /// When its discussion was locked (no new comments), and why.
    pub discussion_locked_at: Option<DateTime<Utc>>,
    pub discussion_lock_reason: Option<String>,
    /// The organization it is published under, if any.
    pub organization_id: Option<crate::ids::OrganizationId>,
    /// Co-authors who accepted: they edit it and it counts for them.
    pub co_author_ids: Vec<UserId>,
    /// `pending` while in its organization's review queue, `returned` when sent back.
    pub review_state: Option<String>,
    /// The editors' note when they sent it back.
    pub review_note: Option<String>,
}

impl Article {
    /// Published and live: visible to everyone.
    pub fn is_live(&self) -> bool {
        self.status == ArticleStatus::Published
    }

    /// Its author or one of its accepted co-authors.
    pub fn is_author(&self, viewer: Option<&Viewer>) -> bool {
        viewer.is_some_and(|v| v.user_id == self.user_id || self.co_author_ids.contains(&v.user_id))
    }

    /// Every author: the author, then the accepted co-authors.
    pub fn authors(&self) -> Vec<UserId> {
        std::iter::once(self.user_id)
            .chain(self.co_author_ids.iter().copied())
            .collect()
    }

    /// Waiting in its organization's review queue.
    pub fn in_review(&self) -> bool {
        self.review_state.as_deref() == Some("pending")
    }

    /// What an organization's editors and owners reach of its articles: the live (or
    /// scheduled) ones and the drafts submitted to its review queue, never a removed one.
    pub fn open_to_editors(&self) -> bool {
        self.organization_id.is_some()
            && !self.is_removed()
            && (self.status != ArticleStatus::Draft || self.in_review())
    }

    /// Taken down by a moderator: only a moderator publishes it again.
    pub fn is_removed(&self) -> bool {
        self.status == ArticleStatus::Removed
    }

    /// What [`Article::visible_to`] allows, and a draft or scheduled article to whoever holds
    /// its preview token (never a removed one: its token was rotated, and stays unusable).
    pub fn visible_with(&self, viewer: Option<&Viewer>, preview_token: Option<&str>) -> bool {
        self.visible_to(viewer)
            || (!self.is_removed()
                && preview_token.is_some_and(|t| {
                    crate::domain::accounts::tokens::constant_time_eq(
                        t.as_bytes(),
                        self.preview_token.as_bytes(),
                    )
                }))
    }

    /// Whether `viewer` may edit it as one of its authors, unless suspended (its
    /// organization's editors may too: see the service).
    pub fn may_edit(&self, viewer: Option<&Viewer>) -> bool {
        self.is_author(viewer) && viewer.is_some_and(|v| v.require_writer().is_ok())
    }

    /// Whether `viewer` may react to it: it is live and they are not suspended.
    pub fn may_react(&self, viewer: Option<&Viewer>) -> bool {
        self.is_live() && viewer.is_some_and(|v| v.require_writer().is_ok())
    }

    /// Whether `viewer` may comment on it, `blocked` telling whether its author blocked
    /// them.
    pub fn may_comment(&self, viewer: Option<&Viewer>, blocked: bool) -> bool {
        self.may_react(viewer) && !blocked
    }

    /// Drafts and scheduled articles are their authors' alone (and, once submitted for
    /// review, their organization's editors': see the service); a removed one its
    /// authors' and the moderators'.
    pub fn visible_to(&self, viewer: Option<&Viewer>) -> bool {
        self.is_live()
            || self.is_author(viewer)
            || (self.is_removed()
                && viewer.is_some_and(|v| {
                    v.require_role(crate::domain::accounts::Role::Moderator)
                        .is_ok()
                }))
    }
}

pub fn parse_title(raw: &str) -> AppResult<String> {
    let title = raw.trim();
    let length = title.chars().count();
    if length == 0 || length > MAX_TITLE {
        return Err(AppError::invalid(
            "title",
            if length == 0 {
                Problem::Blank
            } else {
                Problem::TooLong
            },
            format!("title must be 1 to {MAX_TITLE} characters long"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "title",
            "title contains control characters",
        ));
    }
    Ok(title.to_owned())
}

/// Up to four tags of 1 to 30 lower-case letters and digits; duplicates are merged.
pub fn parse_tags(raw: &[String]) -> AppResult<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw {
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty()
            || tag.chars().count() > MAX_TAG_LEN
            || !tag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(AppError::bad_input(
                "tags",
                format!("tags must be 1 to {MAX_TAG_LEN} letters or digits: {tag:?}"),
            ));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(AppError::invalid(
            "tags",
            Problem::TooLong,
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

/// An http(s) URL whose host is a public name or address: no loopback, private,
/// link-local or otherwise internal targets.
pub fn parse_public_url(field: &str, raw: &str) -> AppResult<String> {
    let url = raw.trim();
    let invalid = |why: &str| AppError::bad_input(field, format!("{field} {why}"));
    if url.len() > MAX_URL {
        return Err(AppError::invalid(
            field,
            Problem::TooLong,
            format!("{field} is too long"),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must be an http:// or https:// URL"))?;
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err(invalid("must be an http:// or https:// URL"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    }
    .trim_end_matches('.')
    .to_ascii_lowercase();
    if host.is_empty() {
        return Err(invalid("must name a host"));
    }
    let internal_name = host == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
        || !host.contains('.') && host.parse::<IpAddr>().is_err();
    let internal_ip = host
        .parse::<IpAddr>()
        .is_ok_and(|ip| !crate::outbound::is_public(ip));
    if internal_name || internal_ip {
        return Err(invalid("must point to a public host"));
    }
    Ok(url.to_owned())
}

/// A URL slug from the title plus a short random suffix: `my-first-post-x7k2`.
pub fn make_slug(title: &str) -> String {
    let mut base = slug::slugify(title);
    if base.len() > 60 {
        let cut = base[..60].rfind('-').unwrap_or(60);
        base.truncate(cut);
    }
    if base.is_empty() {
        base = "article".to_owned();
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..4)
        .map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char)
        .collect();
    format!("{base}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_bounded() {
        let t = |v: &[&str]| parse_tags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&["Rust", "#webdev", "rust"]).unwrap(),
            vec!["rust", "webdev"]
        );
        assert!(t(&["a", "b", "c", "d", "e"]).is_err());
        assert!(t(&["web-dev"]).is_err());
        assert!(t(&[""]).is_err());
        assert!(t(&[&"x".repeat(31)]).is_err());
    }

    #[test]
    fn urls_must_be_public_http() {
        assert!(parse_public_url("coverImageUrl", "https://images.example.com/a.png").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com/x",
            "http://localhost/x",
            "http://127.0.0.1/x",
            "http://10.0.0.5/x",
            "http://192.168.1.1/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://intranet/x",
            "http://printer.local/x",
            "https://user@127.0.0.1:8080/x",
            "http://0.0.0.0/",
        ] {
            assert!(parse_public_url("coverImageUrl", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        let slug = make_slug("Hello, World! This is Rust");
        assert!(slug.starts_with("hello-world-this-is-rust-"), "{slug}");
        assert_eq!(slug.len(), "hello-world-this-is-rust-".len() + 4);
        assert!(
            make_slug("日本語").starts_with("ri-ben-yu-")
                || make_slug("!!!").starts_with("article-")
        );
    }
}
