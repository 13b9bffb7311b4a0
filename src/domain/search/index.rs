//! The article index each server node keeps (tantivy: BM25 relevance over every match,
//! with block-max pruning), kept in step with Postgres.
//!
//! - Postgres logs every change that matters to search (`search_changes`, written by
//!   triggers in the transaction of the change) and notifies the nodes. Each node's
//!   [`SearchIndex::run`] loop wakes on the notification (or each second), re-reads the
//!   articles named and re-indexes them, so a write is searchable on every node within a
//!   second of its commit.
//! - The index holds only what search may find: published articles of members in good
//!   standing. The id read back from a hit is checked against Postgres again when the
//!   articles are loaded.
//! - A node builds its index from the articles table when it has none (an ephemeral disk,
//!   a first start), when its index is older than the change log reaches back, and when
//!   operators bump the generation (`vibecoding search rebuild`). Until the first build is
//!   done, search answers from Postgres' full-text index instead.
//! - Late commits: a change is read by its sequence number, and numbers are handed out
//!   before commit, so a slow transaction can commit a lower number after a higher one
//!   was read. Numbers are re-read until they are [`SETTLE`] old.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::{IndexWriterOptions, LogMergePolicy};
use tantivy::query::{BooleanQuery, BoostQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::query::{Item, Parsed};
use crate::error::{AppError, AppResult};

/// The index's layout; an index of another version is built again.
const VERSION: u32 = 1;
/// The analyser of every text field: words, folded to ASCII, lowercased, English stop
/// words dropped, stemmed.
const ANALYZER: &str = "en";
/// How long a change's sequence number is read again in case a lower one commits late.
const SETTLE: &str = "5 minutes";
/// Articles read from Postgres and indexed at a time.
const BATCH: i64 = 2_000;
/// The indexing thread's memory (tantivy's minimum is 15 MB).
const WRITER_MEMORY: usize = 15_000_000;
/// Field weights: a word in the title counts most, then tags, then the body.
const TITLE_BOOST: f32 = 3.0;
const TAGS_BOOST: f32 = 2.0;

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    id_hi: Field,
    id_lo: Field,
    title: Field,
    tags: Field,
    body: Field,
}

impl Fields {
    fn schema() -> (Schema, Self) {
        let mut builder = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Self {
            key: builder.add_text_field("key", STRING),
            id_hi: builder.add_u64_field("id_hi", FAST),
            id_lo: builder.add_u64_field("id_lo", FAST),
            title: builder.add_text_field("title", text.clone()),
            tags: builder.add_text_field("tags", text.clone()),
            body: builder.add_text_field("body", text),
        };
        (builder.build(), fields)
    }

    fn of(schema: &Schema) -> tantivy::Result<Self> {
        Ok(Self {
            key: schema.get_field("key")?,
            id_hi: schema.get_field("id_hi")?,
            id_lo: schema.get_field("id_lo")?,
            title: schema.get_field("title")?,
            tags: schema.get_field("tags")?,
            body: schema.get_field("body")?,
        })
    }
}

fn analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(AsciiFoldingFilter)
        .filter(LowerCaser);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        None => builder.filter(Stemmer::new(Language::English)).build(),
    }
}

/// Where an index stands, kept with each commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payload {
    version: u32,
    /// The rebuild generation it was built for (`search_state.generation`).
    generation: i64,
    /// Every change up to this sequence number is in.
    horizon: i64,
    /// When it last caught up with the log (database time).
    synced_at: chrono::DateTime<chrono::Utc>,
    /// The database it was built from (see [`SOURCE`]); none in indexes built before it
    /// was recorded, which are rebuilt.
    #[serde(default)]
    source: Option<String>,
}

/// What identifies the database an index is built from: the random value its migration
/// stored, with the database's oid, which differs for every copy made in the same cluster
/// (a database created from another as its template keeps the stored value).
const SOURCE: &str = "(SELECT source::text || ':' || (SELECT oid FROM pg_database WHERE datname = current_database())::text FROM search_state)";

/// One built index with its reader.
struct Live {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl Live {
    fn open(dir: &Path) -> tantivy::Result<(Self, Option<Payload>)> {
        let index = Index::open(MmapDirectory::open(dir)?)?;
        index.tokenizers().register(ANALYZER, analyzer());
        let fields = Fields::of(&index.schema())?;
        let payload = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(0)
            .try_into()?;
        Ok((
            Self {
                index,
                reader,
                fields,
            },
            payload,
        ))
    }

    fn create(dir: &Path) -> tantivy::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, _) = Fields::schema();
        Index::create_in_dir(dir, schema)?;
        Ok(Self::open(dir)?.0)
    }

    fn writer(&self) -> tantivy::Result<IndexWriter> {
        let writer: IndexWriter = self.index.writer_with_options(
            IndexWriterOptions::builder()
                .memory_budget_per_thread(WRITER_MEMORY)
                .num_worker_threads(1)
                .num_merge_threads(1)
                .build(),
        )?;
        let mut merges = LogMergePolicy::default();
        merges.set_del_docs_ratio_before_merge(0.3);
        writer.set_merge_policy(Box::new(merges));
        Ok(writer)
    }
}

/// An article as the index holds it; `None` text when search must not find it.
struct Indexed {
    id: Uuid,
    text: Option<(String, Vec<String>, String)>,
}

fn document(
    fields: &Fields,
    id: Uuid,
    title: &str,
    tags: &[String],
    body: &str,
) -> TantivyDocument {
    let (hi, lo) = id.as_u64_pair();
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.key, id.to_string());
    doc.add_u64(fields.id_hi, hi);
    doc.add_u64(fields.id_lo, lo);
    doc.add_text(fields.title, title);
    for tag in tags {
        doc.add_text(fields.tags, tag);
    }
    doc.add_text(fields.body, body);
    doc
}

/// Replaces what the index holds of each article, and commits with `payload`.
fn apply(live: &Live, articles: &[Indexed], payload: &Payload) -> tantivy::Result<()> {
    let writer = live.writer()?;
    for article in articles {
        writer.delete_term(Term::from_field_text(
            live.fields.key,
            &article.id.to_string(),
        ));
        if let Some((title, tags, body)) = &article.text {
            writer.add_document(document(&live.fields, article.id, title, tags, body))?;
        }
    }
    commit(writer, payload)?;
    live.reader.reload()
}

fn commit(mut writer: IndexWriter, payload: &Payload) -> tantivy::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(payload).unwrap_or_default());
    prepared.commit()?;
    // Merges started by this commit finish before the writer (and its lock) goes.
    writer.wait_merging_threads()
}

/// The article hits of one search: ids with their BM25 scores, best first, and what makes
/// their highlights.
pub struct Found {
    pub hits: Vec<(Uuid, f32)>,
    snippets: Option<SnippetGenerator>,
}

impl Found {
    /// The passage of `text` that matches best, HTML-escaped, matches in `<mark>`.
    pub fn highlight(&self, text: &str) -> String {
        let Some(generator) = &self.snippets else {
            return super::escape(text.chars().take(200).collect::<String>().as_str());
        };
        let snippet = generator.snippet(text);
        let fragment = snippet.fragment();
        if fragment.is_empty() {
            return super::escape(text.chars().take(200).collect::<String>().as_str());
        }
        let mut out = String::with_capacity(fragment.len() + 32);
        let mut at = 0;
        for range in snippet.highlighted() {
            if range.start < at || range.end > fragment.len() {
                continue;
            }
            out.push_str(&super::escape(&fragment[at..range.start]));
            out.push_str("<mark>");
            out.push_str(&super::escape(&fragment[range.clone()]));
            out.push_str("</mark>");
            at = range.end;
        }
        out.push_str(&super::escape(&fragment[at..]));
        out
    }
}

/// This node's index: empty until the first build is done.
pub struct SearchIndex {
    root: PathBuf,
    live: RwLock<Option<Arc<Live>>>,
    /// Woken by Postgres' `search` notifications.
    wake: Arc<Notify>,
    /// The newest change this node has indexed (for tests that wait on it).
    horizon_seen: watch::Sender<i64>,
}

impl SearchIndex {
    pub fn new(root: PathBuf, wake: Arc<Notify>) -> Self {
        Self {
            root,
            live: RwLock::new(None),
            wake,
            horizon_seen: watch::channel(0).0,
        }
    }

    fn current(&self) -> Option<Arc<Live>> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_current(&self, live: Arc<Live>) {
        *self
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(live);
    }

    /// Whether searches are answered from this index (rather than from Postgres).
    pub fn ready(&self) -> bool {
        self.current().is_some()
    }

    /// The best `offset + limit` articles for `query`, or `None` while the index is not
    /// built yet.
    pub async fn search(
        &self,
        query: &Parsed,
        offset: usize,
        limit: usize,
    ) -> AppResult<Option<Found>> {
        let Some(live) = self.current() else {
            return Ok(None);
        };
        let query = query.clone();
        let found = tokio::task::spawn_blocking(move || run_query(&live, &query, offset, limit))
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::internal(anyhow::anyhow!("search index: {e}")))?;
        Ok(Some(found))
    }

    /// Waits until this node has indexed every change logged so far (tests).
    pub async fn caught_up(&self, db: &PgPool) -> AppResult<()> {
        let newest: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM search_changes")
            .fetch_one(db)
            .await?;
        self.wake.notify_one();
        let mut seen = self.horizon_seen.subscribe();
        tokio::time::timeout(Duration::from_secs(10), seen.wait_for(|h| *h >= newest))
            .await
            .map_err(|_| AppError::internal(anyhow::anyhow!("the search index did not catch up")))?
            .map_err(AppError::internal)?;
        Ok(())
    }

    /// Keeps the index in step until `shutdown`: opens or builds it, then applies each
    /// change as Postgres announces it (and at least every second).
    pub async fn run(
        self: Arc<Self>,
        db: PgPool,
        kept_hours: u32,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut sync = Sync::default();
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.step(&db, kept_hours, &mut sync).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(error = %e, "the search index could not catch up; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
            }
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn step(&self, db: &PgPool, kept_hours: u32, sync: &mut Sync) -> anyhow::Result<()> {
        let (generation, source, now): (i64, String, chrono::DateTime<chrono::Utc>) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT generation, {SOURCE}, now() FROM search_state"
            )))
            .fetch_one(db)
            .await?;
        if sync.payload.is_none() {
            // First step: the index on disk, if it is usable.
            if let Some((live, payload)) = self.open_existing().await {
                self.set_current(Arc::new(live));
                sync.horizon = payload.horizon;
                sync.payload = Some(payload);
            }
        }
        let stale = sync.payload.as_ref().is_none_or(|p| {
            p.version != VERSION
                || p.generation != generation
                || p.source.as_deref() != Some(source.as_str())
                || now - p.synced_at > chrono::TimeDelta::hours(i64::from(kept_hours))
        });
        if stale {
            self.rebuild(db, generation, &source).await?;
            *sync = Sync::default();
            sync.payload = self.current().and_then(|live| {
                live.index
                    .load_metas()
                    .ok()
                    .and_then(|m| m.payload)
                    .and_then(|p| serde_json::from_str(&p).ok())
            });
            sync.horizon = sync.payload.as_ref().map_or(0, |p| p.horizon);
        }
        self.catch_up(db, generation, &source, now, sync).await
    }

    /// Opens the newest index under the root, if its layout is this version's.
    async fn open_existing(&self) -> Option<(Live, Payload)> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut best: Option<(Live, Payload)> = None;
            for entry in std::fs::read_dir(&root).ok()?.flatten() {
                let Ok((live, Some(payload))) = Live::open(&entry.path()) else {
                    continue;
                };
                if payload.version == VERSION
                    && best
                        .as_ref()
                        .is_none_or(|(_, b)| payload.synced_at > b.synced_at)
                {
                    best = Some((live, payload));
                }
            }
            best
        })
        .await
        .ok()
        .flatten()
    }

    /// Builds a new index from the articles table beside the current one, then switches
    /// to it and removes the others.
    async fn rebuild(&self, db: &PgPool, generation: i64, source: &str) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        // Changes logged before the build begins are in it; later ones (and any that
        // commit late) are read again from the log afterwards.
        let horizon: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(max(seq), 0) FROM search_changes WHERE at < now() - interval '{SETTLE}'"
        )))
        .fetch_one(db)
        .await?;
        let dir = self
            .root
            .join(format!("g{generation}-{}", Uuid::now_v7().simple()));
        let live = {
            let dir = dir.clone();
            Arc::new(tokio::task::spawn_blocking(move || Live::create(&dir)).await??)
        };
        let writer = Arc::new(std::sync::Mutex::new(Some(live.writer()?)));
        let mut after = Uuid::nil();
        let mut count = 0usize;
        loop {
            let page = searchable_after(db, after, BATCH).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            count += page.len();
            let (writer, fields) = (writer.clone(), live.fields);
            tokio::task::spawn_blocking(move || -> tantivy::Result<()> {
                let guard = writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(writer) = guard.as_ref() {
                    for article in page {
                        if let Some((title, tags, body)) = &article.text {
                            writer
                                .add_document(document(&fields, article.id, title, tags, body))?;
                        }
                    }
                }
                Ok(())
            })
            .await??;
        }
        let synced_at: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT now()").fetch_one(db).await?;
        let payload = Payload {
            version: VERSION,
            generation,
            horizon,
            synced_at,
            source: Some(source.to_owned()),
        };
        {
            let live = live.clone();
            tokio::task::spawn_blocking(move || -> tantivy::Result<()> {
                let taken = writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(writer) = taken {
                    commit(writer, &payload)?;
                }
                live.reader.reload()
            })
            .await??;
        }
        self.set_current(live);
        tracing::info!(
            articles = count,
            seconds = started.elapsed().as_secs_f64(),
            "search index built"
        );
        // The others go; an open searcher keeps its files mapped until it is done.
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                if entry.path() != dir {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        })
        .await?;
        Ok(())
    }

    /// Applies the changes logged since the horizon.
    async fn catch_up(
        &self,
        db: &PgPool,
        generation: i64,
        source: &str,
        now: chrono::DateTime<chrono::Utc>,
        sync: &mut Sync,
    ) -> anyhow::Result<()> {
        let Some(live) = self.current() else {
            return Ok(());
        };
        let changes: Vec<(i64, Uuid, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT seq, article_id, at < now() - interval '{SETTLE}' FROM search_changes
             WHERE seq > $1 ORDER BY seq LIMIT 10000"
        )))
        .bind(sync.horizon)
        .fetch_all(db)
        .await?;
        let fresh: Vec<&(i64, Uuid, bool)> = changes
            .iter()
            .filter(|(seq, ..)| !sync.seen.contains(seq))
            .collect();
        let newest = changes.last().map_or(sync.horizon, |c| c.0);
        let settled = changes
            .iter()
            .filter(|(_, _, settled)| *settled)
            .map(|c| c.0)
            .max()
            .unwrap_or(sync.horizon);
        if !fresh.is_empty() || settled > sync.horizon {
            let mut ids: Vec<Uuid> = fresh.iter().map(|c| c.1).collect();
            ids.sort_unstable();
            ids.dedup();
            let articles = searchable(db, &ids).await?;
            let payload = Payload {
                version: VERSION,
                generation,
                horizon: settled,
                synced_at: now,
                source: Some(source.to_owned()),
            };
            let live = live.clone();
            tokio::task::spawn_blocking(move || apply(&live, &articles, &payload)).await??;
            sync.seen.extend(fresh.iter().map(|c| c.0));
            sync.seen.retain(|seq| *seq > settled);
            sync.horizon = settled;
            if let Some(p) = sync.payload.as_mut() {
                p.horizon = settled;
                p.synced_at = now;
            }
        } else if let Some(p) = sync.payload.as_mut() {
            p.synced_at = now;
        }
        self.horizon_seen.send_replace(newest);
        Ok(())
    }
}

/// Bumps the generation every node builds its index for; answers the new one.
pub async fn request_rebuild(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("UPDATE search_state SET generation = generation + 1 RETURNING generation")
        .fetch_one(db)
        .await
}

/// What operators see of the change log.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Status {
    pub generation: i64,
    pub changes_logged: i64,
    pub newest_change: Option<i64>,
    pub oldest_change_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn status(db: &PgPool) -> sqlx::Result<Status> {
    sqlx::query_as(
        "SELECT (SELECT generation FROM search_state) AS generation, count(*) AS changes_logged,
                max(seq) AS newest_change, min(at) AS oldest_change_at
         FROM search_changes",
    )
    .fetch_one(db)
    .await
}

/// Forgets changes older than `kept_hours` (a node whose index is older rebuilds it).
pub async fn purge_changes(db: &PgPool, kept_hours: u32) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM search_changes WHERE at < now() - make_interval(hours => $1)")
            .bind(i32::try_from(kept_hours).unwrap_or(i32::MAX))
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

/// What one node's loop remembers between steps.
#[derive(Default)]
struct Sync {
    payload: Option<Payload>,
    horizon: i64,
    /// Changes above the horizon already applied.
    seen: HashSet<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    title: String,
    tag_names: Vec<String>,
    body_markdown: String,
    searchable: bool,
}

impl From<Row> for Indexed {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            text: row
                .searchable
                .then_some((row.title, row.tag_names, row.body_markdown)),
        }
    }
}

const SEARCHABLE: &str =
    "a.status = 'published' AND u.deleted_at IS NULL AND u.role <> 'suspended'";

/// The articles named, as search should now see them (gone ones included, with no text).
async fn searchable(db: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<Indexed>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, a.title, a.tag_names, a.body_markdown, ({SEARCHABLE}) AS searchable
         FROM articles a JOIN users u ON u.id = a.user_id WHERE a.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?;
    let mut found: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    let mut out: Vec<Indexed> = rows
        .into_iter()
        .map(|r| {
            found.insert(r.id);
            r.into()
        })
        .collect();
    out.extend(
        ids.iter()
            .filter(|id| !found.contains(id))
            .map(|&id| Indexed { id, text: None }),
    );
    Ok(out)
}

/// A page of searchable articles in id order.
async fn searchable_after(db: &PgPool, after: Uuid, limit: i64) -> sqlx::Result<Vec<Indexed>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, a.title, a.tag_names, a.body_markdown, true AS searchable
         FROM articles a JOIN users u ON u.id = a.user_id
         WHERE {SEARCHABLE} AND a.id > $1 ORDER BY a.id LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Indexed::from).collect())
}

/// The words of `text` as the index holds them.
fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// One word or phrase, in any field, weighted by field.
fn item_query(fields: &Fields, words: &[String]) -> Option<Box<dyn Query>> {
    if words.is_empty() {
        return None;
    }
    let in_field = |field: Field| -> Box<dyn Query> {
        if words.len() == 1 {
            Box::new(TermQuery::new(
                Term::from_field_text(field, &words[0]),
                IndexRecordOption::WithFreqs,
            ))
        } else {
            Box::new(PhraseQuery::new(
                words
                    .iter()
                    .map(|w| Term::from_field_text(field, w))
                    .collect(),
            ))
        }
    };
    Some(Box::new(BooleanQuery::new(vec![
        (
            Occur::Should,
            Box::new(BoostQuery::new(in_field(fields.title), TITLE_BOOST)),
        ),
        (
            Occur::Should,
            Box::new(BoostQuery::new(in_field(fields.tags), TAGS_BOOST)),
        ),
        (Occur::Should, in_field(fields.body)),
    ])))
}

/// The tantivy query for a parsed search: every group required (its alternatives in
/// any field), excluded words forbidden.
fn to_query(fields: &Fields, analyzer: &mut TextAnalyzer, parsed: &Parsed) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for group in &parsed.groups {
        let alternatives: Vec<(Occur, Box<dyn Query>)> = group
            .iter()
            .filter_map(|item| {
                let words = match item {
                    Item::Word(w) | Item::Phrase(w) => tokens(analyzer, w),
                };
                item_query(fields, &words).map(|q| (Occur::Should, q))
            })
            .collect();
        match alternatives.len() {
            0 => {}
            1 => clauses.extend(alternatives.into_iter().map(|(_, q)| (Occur::Must, q))),
            _ => clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives)))),
        }
    }
    if clauses.is_empty() {
        // Nothing to look for (only stop words, or only exclusions).
        return Box::new(EmptyQuery);
    }
    for item in &parsed.excluded {
        let words = match item {
            Item::Word(w) | Item::Phrase(w) => tokens(analyzer, w),
        };
        if let Some(q) = item_query(fields, &words) {
            clauses.push((Occur::MustNot, q));
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

fn run_query(live: &Live, parsed: &Parsed, offset: usize, limit: usize) -> tantivy::Result<Found> {
    let mut analyzer = analyzer();
    let query = to_query(&live.fields, &mut analyzer, parsed);
    let searcher = live.reader.searcher();
    let wanted = offset.saturating_add(limit).max(1);
    let top = searcher.search(&query, &TopDocs::with_limit(wanted).order_by_score())?;
    let mut hits = Vec::with_capacity(top.len().saturating_sub(offset));
    for (score, address) in top.into_iter().skip(offset) {
        let segment = searcher.segment_reader(address.segment_ord);
        let fast = segment.fast_fields();
        let (Some(hi), Some(lo)) = (
            fast.u64("id_hi")?.first(address.doc_id),
            fast.u64("id_lo")?.first(address.doc_id),
        ) else {
            continue;
        };
        hits.push((Uuid::from_u64_pair(hi, lo), score));
    }
    let snippets = if hits.is_empty() {
        None
    } else {
        let mut generator = SnippetGenerator::create(&searcher, &*query, live.fields.body)?;
        generator.set_max_num_chars(240);
        Some(generator)
    };
    Ok(Found { hits, snippets })
}
