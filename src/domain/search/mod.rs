//! Search: articles through this node's index ([`index`]: BM25 over every match, title >
//! tags > body, web-search syntax read by [`query`], highlighted passages), or through
//! Postgres' full-text index while the node's index is first being built; members and
//! tags by trigram similarity, so prefixes and typos still find them. Drafts and
//! suspended or deleted members' content never appear.

pub mod index;
pub mod query;

use sqlx::PgPool;
use uuid::Uuid;

use self::index::SearchIndex;

use crate::domain::articles::model::{Article, LIST_COLUMNS};
use crate::error::{AppError, AppResult};

pub const MAX_QUERY: usize = 200;
/// Articles ranked for one search answered by Postgres (while the index is being built):
/// the newest matches.
pub const CANDIDATES: usize = 1_000;
/// How far into the results a search may page.
pub const MAX_OFFSET: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Article,
    User,
    Tag,
}

#[derive(Debug, Clone)]
pub enum Hit {
    Article {
        article: Box<Article>,
        rank: f32,
        highlight: String,
    },
    User {
        id: crate::ids::UserId,
        rank: f32,
    },
    Tag {
        id: crate::ids::TagId,
        rank: f32,
    },
}

impl Hit {
    pub fn rank(&self) -> f32 {
        match self {
            Self::Article { rank, .. } | Self::User { rank, .. } | Self::Tag { rank, .. } => *rank,
        }
    }
}

const START: char = '\u{1}';
const STOP: char = '\u{2}';

/// Escapes a snippet Postgres marked and turns its markers into `<mark>`.
fn highlight(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    for (i, part) in raw.split(START).enumerate() {
        match part.split_once(STOP) {
            Some((marked, rest)) if i > 0 => {
                out.push_str("<mark>");
                crate::text::push_escaped(&mut out, marked);
                out.push_str("</mark>");
                crate::text::push_escaped(&mut out, rest);
            }
            _ => crate::text::push_escaped(&mut out, &part.replace(STOP, "")),
        }
    }
    out
}

fn escape(text: &str) -> String {
    crate::text::escape_html(text)
}

#[derive(sqlx::FromRow)]
struct ArticleRow {
    #[sqlx(flatten)]
    article: Article,
    rank: f32,
    snippet: String,
}

fn like_prefix(query: &str) -> String {
    let escaped: String = query
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("{escaped}%")
}

/// The best `limit` hits of the requested kinds, merged by rank (article ranks are
/// normalised to 0..1 like trigram similarities), starting at `offset`.
pub async fn search(
    db: &PgPool,
    index: &SearchIndex,
    query: &str,
    kinds: &[Kind],
    offset: usize,
    limit: usize,
) -> AppResult<Vec<Hit>> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY {
        return Err(AppError::bad_input(
            "query",
            format!("query must be 1 to {MAX_QUERY} characters long"),
        ));
    }
    if offset > MAX_OFFSET {
        return Err(AppError::bad_input(
            "after",
            format!("search pages stop after {MAX_OFFSET} results"),
        ));
    }
    let fetch = i64::try_from(offset + limit).unwrap_or(i64::MAX);
    let mut hits = Vec::new();
    if kinds.contains(&Kind::Article) {
        let parsed = query::parse(query);
        match index.search(&parsed, 0, offset + limit).await? {
            Some(found) => hits.extend(articles_found(db, &found).await?),
            None => hits.extend(articles_from_postgres(db, query, fetch).await?),
        }
    }
    let needle = query.to_lowercase();
    if kinds.contains(&Kind::User) {
        hits.extend(members(db, &needle, fetch).await?);
    }
    if kinds.contains(&Kind::Tag) {
        hits.extend(tags(db, needle.trim_start_matches('#'), fetch).await?);
    }
    hits.sort_by(|a, b| b.rank().total_cmp(&a.rank()));
    Ok(hits.into_iter().skip(offset).take(limit).collect())
}

/// Members by username prefix and, for three characters or more (fewer match nearly
/// everyone), by trigram similarity of username or name; each condition through its index.
async fn members(db: &PgPool, needle: &str, fetch: i64) -> AppResult<Vec<Hit>> {
    let similar = if needle.chars().count() >= 3 {
        "username::text % $1 OR lower(name) % $1 OR"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, GREATEST(similarity(username::text, $1), similarity(lower(name), $1),
                             CASE WHEN username::text LIKE $2 THEN 0.9 ELSE 0 END)::real AS rank
         FROM users
         WHERE deleted_at IS NULL AND role <> 'suspended' AND ({similar} username::text LIKE $2)
         ORDER BY rank DESC, username LIMIT $3"
    );
    let rows = ranked(db, &sql, needle, fetch).await?;
    Ok(rows
        .into_iter()
        .map(|(id, rank)| Hit::User { id, rank })
        .collect())
}

/// Runs a ranking statement over `$1` the needle, `$2` its prefix pattern, `$3` the rows.
async fn ranked<
    I: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
>(
    db: &PgPool,
    sql: &str,
    needle: &str,
    fetch: i64,
) -> AppResult<Vec<(I, f32)>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(needle)
        .bind(like_prefix(needle))
        .bind(fetch)
        .fetch_all(db)
        .await?)
}

/// Tags by prefix, and the nearest by trigram distance (a looser threshold than members':
/// tags are short, and a swapped letter costs them much of their similarity).
async fn tags(db: &PgPool, needle: &str, fetch: i64) -> AppResult<Vec<Hit>> {
    let rows = ranked(
        db,
        "SELECT id, max(rank)::real AS rank FROM (
            (SELECT id, 0.9 AS rank FROM tags WHERE name LIKE $2 ORDER BY articles_count DESC, name LIMIT $3)
            UNION ALL
            (SELECT id, 1 - (name <-> $1) AS rank FROM tags ORDER BY name <-> $1 LIMIT $3)
         ) found JOIN tags t USING (id)
         WHERE rank > 0.2
         GROUP BY id, t.articles_count, t.name
         ORDER BY rank DESC, t.articles_count DESC, t.name LIMIT $3",
        needle,
        fetch,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, rank)| Hit::Tag { id, rank })
        .collect())
}

/// The articles of an index search, loaded in one statement and checked again (the
/// index may be a moment behind), in the index's order.
async fn articles_found(db: &PgPool, found: &index::Found) -> AppResult<Vec<Hit>> {
    if found.hits.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = found.hits.iter().map(|(id, _)| *id).collect();
    let columns = crate::domain::articles::model::qualified(LIST_COLUMNS);
    let rows = sqlx::query_as::<_, FoundRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, left(a.title || '. ' || a.body_markdown, 20000) AS text
         FROM articles a JOIN users u ON u.id = a.user_id
         WHERE a.id = ANY($1) AND a.status = 'published'
           AND u.deleted_at IS NULL AND u.role <> 'suspended'"
    )))
    .bind(&ids)
    .fetch_all(db)
    .await?;
    let mut by_id: std::collections::HashMap<crate::ids::ArticleId, FoundRow> =
        rows.into_iter().map(|r| (r.article.id, r)).collect();
    Ok(found
        .hits
        .iter()
        .filter_map(|(id, score)| {
            let row = by_id.remove(&crate::ids::ArticleId(*id))?;
            Some(Hit::Article {
                highlight: found.highlight(&row.text),
                // BM25 is unbounded: s / (s + 1) maps it to 0..1 as Postgres' ranks were.
                rank: score / (score + 1.0),
                article: Box::new(row.article),
            })
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    #[sqlx(flatten)]
    article: Article,
    text: String,
}

/// Articles from Postgres' full-text index: relevance is ranked among the newest
/// [`CANDIDATES`] matches, so a common word costs a bounded walk of the publication-date
/// index rather than ranking every match.
async fn articles_from_postgres(db: &PgPool, query: &str, fetch: i64) -> AppResult<Vec<Hit>> {
    let columns = crate::domain::articles::model::qualified(LIST_COLUMNS);
    let rows = sqlx::query_as::<_, ArticleRow>(sqlx::AssertSqlSafe(format!(
        "WITH candidates AS MATERIALIZED (
            SELECT a.id, a.search, a.published_at, a.user_id FROM articles a
            WHERE a.status = 'published' AND a.search @@ websearch_to_tsquery('english', $1)
            ORDER BY a.published_at DESC, a.id DESC
            LIMIT {CANDIDATES}),
         top AS (
            SELECT c.id, ts_rank_cd(c.search, websearch_to_tsquery('english', $1), 32) AS rank
            FROM candidates c JOIN users u ON u.id = c.user_id
            WHERE u.deleted_at IS NULL AND u.role <> 'suspended'
            ORDER BY rank DESC, c.published_at DESC, c.id
            LIMIT $2)
         SELECT {columns}, top.rank,
                ts_headline('english', left(a.title || '. ' || a.body_markdown, 20000),
                            websearch_to_tsquery('english', $1),
                            'StartSel=\u{1}, StopSel=\u{2}, MaxWords=30, MinWords=12, MaxFragments=2') AS snippet
         FROM top JOIN articles a ON a.id = top.id
         ORDER BY top.rank DESC, a.published_at DESC, a.id"
    )))
    .bind(query)
    .bind(fetch)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Hit::Article {
            highlight: highlight(&r.snippet),
            rank: r.rank,
            article: Box::new(r.article),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_escaped_and_marked() {
        assert_eq!(
            highlight("a <b> \u{1}rust\u{2} & co"),
            "a &lt;b&gt; <mark>rust</mark> &amp; co"
        );
        assert_eq!(like_prefix("a_b%"), "a\\_b\\%%");
    }
}
