//! Edit history: each edit of an article or a comment keeps a revision, written in the
//! edit's transaction, with its editor, the fields it changed and a unified diff of the
//! text before and after. An author may redact a revision (its diff is then shown to
//! moderators only); the entry itself stays.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::accounts::{Role, Viewer};
use crate::error::{AppError, AppResult};
use crate::ids::{RevisionId, UserId};

/// The longest diff kept: a larger one is cut at a line and marked as cut.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;
/// How long the diff may search for the smallest edit script before it settles for a
/// larger one: an edit that rewrites a large body stays cheap.
const DIFF_DEADLINE: Duration = Duration::from_millis(100);
pub const TRUNCATED: &str = "\\ diff cut at 256 KiB\n";

/// What was edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edited {
    Article,
    Comment,
}

impl Edited {
    fn table(self) -> &'static str {
        match self {
            Self::Article => "article_revisions",
            Self::Comment => "comment_revisions",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Article => "article_id",
            Self::Comment => "comment_id",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Revision {
    pub id: RevisionId,
    /// The article's or the comment's id.
    pub subject_id: uuid::Uuid,
    pub editor_id: Option<UserId>,
    pub fields: Vec<String>,
    pub diff: String,
    pub redacted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The text a revision compares: each field on a line of its own, then the body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Version<'a> {
    pub title: Option<&'a str>,
    pub tags: Option<&'a [String]>,
    pub cover_image_url: Option<&'a str>,
    pub canonical_url: Option<&'a str>,
    pub body: &'a str,
}

impl Version<'_> {
    fn text(&self) -> String {
        let mut text = String::with_capacity(self.body.len() + 256);
        if let Some(title) = self.title {
            text.push_str(&format!("title: {title}\n"));
        }
        if let Some(tags) = self.tags {
            text.push_str(&format!("tags: {}\n", tags.join(", ")));
        }
        if self.title.is_some() {
            text.push_str(&format!(
                "cover_image_url: {}\ncanonical_url: {}\n\n",
                self.cover_image_url.unwrap_or(""),
                self.canonical_url.unwrap_or("")
            ));
        }
        text.push_str(self.body);
        if !self.body.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    /// The fields that differ from `other`.
    fn changed(&self, other: &Version<'_>) -> Vec<String> {
        let mut fields = Vec::new();
        let mut check = |name: &str, differ: bool| {
            if differ {
                fields.push(name.to_owned());
            }
        };
        check("title", self.title != other.title);
        check("body", self.body != other.body);
        check("tags", self.tags != other.tags);
        check(
            "cover_image_url",
            self.cover_image_url != other.cover_image_url,
        );
        check("canonical_url", self.canonical_url != other.canonical_url);
        fields
    }
}

/// A unified diff of `before` and `after`, at most [`MAX_DIFF_BYTES`] long.
pub fn unified_diff(before: &str, after: &str) -> String {
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(DIFF_DEADLINE)
        .diff_lines(before, after);
    let mut text = diff
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string();
    if text.len() > MAX_DIFF_BYTES {
        // At a line's end, found in the bytes: a newline is never inside a character.
        let cut = text.as_bytes()[..MAX_DIFF_BYTES - TRUNCATED.len()]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        text.truncate(cut);
        text.push_str(TRUNCATED);
    }
    text
}

/// Keeps a revision of an edit from `before` to `after` by `editor`, in the edit's
/// transaction; nothing when nothing a reader sees changed.
pub async fn record(
    conn: &mut PgConnection,
    edited: Edited,
    subject: uuid::Uuid,
    editor: UserId,
    before: &Version<'_>,
    after: &Version<'_>,
) -> AppResult<()> {
    let fields = before.changed(after);
    if fields.is_empty() {
        return Ok(());
    }
    let diff = unified_diff(&before.text(), &after.text());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {} (id, {}, editor_id, fields, diff) VALUES ($1, $2, $3, $4, $5)",
        edited.table(),
        edited.key()
    )))
    .bind(RevisionId::generate())
    .bind(subject)
    .bind(editor)
    .bind(&fields)
    .bind(&diff)
    .execute(conn)
    .await?;
    Ok(())
}

/// One page of the revisions of each subject, newest first, in one statement: for each
/// `(subject, after, limit)`, up to `limit` revisions older than `after`; the pages in
/// the order of `keys`.
pub async fn pages(
    db: &PgPool,
    edited: Edited,
    keys: &[(uuid::Uuid, Option<RevisionId>, i64)],
) -> AppResult<Vec<Vec<Revision>>> {
    let subjects: Vec<uuid::Uuid> = keys.iter().map(|k| k.0).collect();
    let afters: Vec<Option<uuid::Uuid>> = keys.iter().map(|k| k.1.map(RevisionId::uuid)).collect();
    let limits: Vec<i64> = keys.iter().map(|k| k.2).collect();
    let rows = sqlx::query_as::<_, Paged>(sqlx::AssertSqlSafe(format!(
        "SELECT k.n, r.* FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) WITH ORDINALITY AS k(subject, after, lim, n)
         CROSS JOIN LATERAL (
            SELECT id, {key} AS subject_id, editor_id, fields, diff, redacted_at, created_at
            FROM {table} WHERE {key} = k.subject AND (k.after IS NULL OR id < k.after)
            ORDER BY id DESC LIMIT k.lim) r
         ORDER BY k.n, r.id DESC",
        key = edited.key(),
        table = edited.table()
    )))
    .bind(&subjects)
    .bind(&afters)
    .bind(&limits)
    .fetch_all(db)
    .await?;
    let mut pages: Vec<Vec<Revision>> = vec![Vec::new(); keys.len()];
    for row in rows {
        if let Some(page) = usize::try_from(row.n - 1)
            .ok()
            .and_then(|i| pages.get_mut(i))
        {
            page.push(row.revision);
        }
    }
    Ok(pages)
}

#[derive(sqlx::FromRow)]
struct Paged {
    n: i64,
    #[sqlx(flatten)]
    revision: Revision,
}

/// Whether `viewer` reads redacted diffs: moderators and admins.
pub fn sees_redacted(viewer: Option<&Viewer>) -> bool {
    viewer.is_some_and(|v| v.require_role(Role::Moderator).is_ok())
}

/// Redacts a revision of `subject`, which the caller has checked `viewer` may edit.
pub async fn redact(
    conn: &mut PgConnection,
    edited: Edited,
    subject: uuid::Uuid,
    id: RevisionId,
) -> AppResult<Revision> {
    sqlx::query_as::<_, Revision>(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET redacted_at = COALESCE(redacted_at, now())
         WHERE id = $1 AND {key} = $2
         RETURNING id, {key} AS subject_id, editor_id, fields, diff, redacted_at, created_at",
        key = edited.key(),
        table = edited.table()
    )))
    .bind(id)
    .bind(subject)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such revision".to_owned()))
}

/// A revision by id, with what it belongs to.
pub async fn find(db: &PgPool, id: RevisionId) -> AppResult<Option<(Edited, Revision)>> {
    #[derive(sqlx::FromRow)]
    struct Found {
        kind: String,
        #[sqlx(flatten)]
        revision: Revision,
    }
    let found = sqlx::query_as::<_, Found>(
        "SELECT 'article' AS kind, id, article_id AS subject_id, editor_id, fields, diff, redacted_at, created_at
         FROM article_revisions WHERE id = $1
         UNION ALL
         SELECT 'comment', id, comment_id, editor_id, fields, diff, redacted_at, created_at
         FROM comment_revisions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(found.map(|f| {
        let edited = if f.kind == "article" {
            Edited::Article
        } else {
            Edited::Comment
        };
        (edited, f.revision)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_shows_what_changed() {
        let diff = unified_diff("a\nb\nc\n", "a\nB\nc\n");
        assert!(diff.contains("--- before\n+++ after\n"), "{diff}");
        assert!(diff.contains("-b\n+B\n"), "{diff}");
    }

    #[test]
    fn a_rewrite_of_a_large_body_stays_bounded() {
        // The worst case of an edit: every line of a maximal body replaced.
        let before = "a\n".repeat(400_000);
        let after = "b\n".repeat(400_000);
        let diff = unified_diff(&before, &after);
        assert!(diff.len() <= MAX_DIFF_BYTES, "{}", diff.len());
        assert!(diff.ends_with(TRUNCATED));
        // Interleaved changes are the costly ones for an exact diff.
        let before: String = (0..100_000).map(|i| format!("{i}\n")).collect();
        let after: String = (0..100_000)
            .map(|i| format!("{}\n", i * 7 % 100_003))
            .collect();
        assert!(unified_diff(&before, &after).len() <= MAX_DIFF_BYTES);
        // Characters of several bytes, on long lines, never cut in the middle.
        let before = format!("{}\n", "д".repeat(300_000));
        let after = format!("{}\n", "ж".repeat(300_000));
        let diff = unified_diff(&before, &after);
        assert!(diff.len() <= MAX_DIFF_BYTES && diff.ends_with(TRUNCATED));
        let lines: String = (0..200_000).map(|i| format!("строка {i}\n")).collect();
        let diff = unified_diff(&lines, &lines.replace("строка", "линия"));
        assert!(diff.len() <= MAX_DIFF_BYTES && diff.ends_with(TRUNCATED));
    }

    #[test]
    fn fields_that_changed_are_named() {
        let tags = vec!["rust".to_owned()];
        let before = Version {
            title: Some("A"),
            tags: Some(&tags),
            body: "x",
            ..Default::default()
        };
        let after = Version {
            title: Some("B"),
            ..before.clone()
        };
        assert_eq!(before.changed(&after), ["title"]);
        assert!(before.changed(&before).is_empty());
    }
}
