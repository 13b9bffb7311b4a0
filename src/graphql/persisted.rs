//! Persisted queries, for every transport (see [`crate::graphql::guard`]).
//!
//! Automatic persisted queries (Apollo's protocol): a client sends
//! `extensions.persistedQuery.sha256Hash` alone; on `PERSISTED_QUERY_NOT_FOUND` it sends
//! the hash with the query, which is checked against the hash, run, and remembered in
//! Redis (so every node knows it) for `graphql.apq_ttl_secs` once it has parsed and
//! validated. A document larger than `graphql.apq_max_bytes`, or registered past the
//! address's `rate_limits.persisted_query_per_ip`, runs without being remembered.
//!
//! With `graphql.persisted_only`, only the operations of the configured manifest run,
//! asked for by hash (or by their exact text); nothing new can be registered.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::Value;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::config::Settings;
use crate::error::ErrorCode;
use crate::state::AppState;

/// The code clients' APQ links react to by sending the query.
pub const NOT_FOUND_CODE: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// Operations known by the SHA-256 of their text.
#[derive(Debug, Default)]
pub struct Manifest {
    operations: HashMap<String, String>,
}

#[derive(Deserialize)]
struct ManifestFile {
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize)]
struct ManifestOperation {
    id: String,
    body: String,
}

impl Manifest {
    /// Reads the Apollo persisted-query manifest the settings name (none: empty). Every
    /// entry's id must be the SHA-256 of its body.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let Some(path) = &settings.graphql.persisted_manifest else {
            if settings.graphql.persisted_only {
                anyhow::bail!("graphql.persisted_only needs graphql.persisted_manifest");
            }
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let file: ManifestFile = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{} is not a persisted-query manifest: {e}", path.display())
        })?;
        let mut operations = HashMap::new();
        for op in file.operations {
            if hash(&op.body) != op.id.to_ascii_lowercase() {
                anyhow::bail!(
                    "{}: the id {} is not the SHA-256 of its body",
                    path.display(),
                    op.id
                );
            }
            operations.insert(op.id.to_ascii_lowercase(), op.body);
        }
        Ok(Self { operations })
    }

    pub fn get(&self, hash: &str) -> Option<&str> {
        self.operations.get(hash).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.operations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

pub fn hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

/// Why a request's persisted query was not run.
#[derive(Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str(),
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        Self {
            code: NOT_FOUND_CODE,
            message: NOT_FOUND_MESSAGE.to_owned(),
        }
    }
}

/// The text a request runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Text(String),
    /// A new automatic persisted query: run it, and store it once it has validated.
    Register {
        hash: String,
        text: String,
    },
}

/// The hash a request names, if it uses persisted queries.
fn requested_hash(extensions: &HashMap<String, Value>) -> Result<Option<String>, Refusal> {
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let Value::Object(persisted) = persisted else {
        return Err(Refusal::new(
            ErrorCode::BadUserInput,
            "persistedQuery must be an object",
        ));
    };
    let version = persisted.get("version").and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    });
    if version != Some(1) {
        return Err(Refusal::new(
            ErrorCode::BadUserInput,
            "Unsupported persisted query version; use 1",
        ));
    }
    match persisted.get("sha256Hash") {
        Some(Value::String(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(h.to_ascii_lowercase()))
        }
        _ => Err(Refusal::new(
            ErrorCode::BadUserInput,
            "persistedQuery.sha256Hash must be 64 hex digits",
        )),
    }
}

fn cache_key(hash: &str) -> String {
    format!("apq:{hash}")
}

/// Works out the text a request runs from what the client sent. `exempt` requests (the
/// server's own pages) skip `persisted_only`.
pub async fn resolve(
    state: &AppState,
    manifest: &Manifest,
    query: String,
    extensions: &HashMap<String, Value>,
    exempt: bool,
) -> Result<Resolution, Refusal> {
    let hash = requested_hash(extensions)?;
    let query = Some(query).filter(|q| !q.trim().is_empty());
    if state.settings.graphql.persisted_only && !exempt {
        let known = match (&hash, &query) {
            (Some(hash), _) => manifest.get(hash),
            (None, Some(query)) => manifest.get(&self::hash(query)),
            (None, None) => None,
        };
        return match known {
            Some(text) => Ok(Resolution::Text(text.to_owned())),
            None => Err(Refusal::new(
                ErrorCode::Forbidden,
                "Only persisted operations are accepted here",
            )),
        };
    }
    let Some(hash) = hash else {
        return Ok(Resolution::Text(query.unwrap_or_default()));
    };
    if let Some(query) = query {
        if self::hash(&query) != hash {
            return Err(Refusal::new(
                ErrorCode::BadUserInput,
                "provided sha does not match query",
            ));
        }
        return Ok(Resolution::Register { hash, text: query });
    }
    if let Some(text) = manifest.get(&hash) {
        return Ok(Resolution::Text(text.to_owned()));
    }
    match state.cache.get(&cache_key(&hash)).await {
        Ok(Some(text)) => Ok(Resolution::Text(text)),
        Ok(None) => Err(Refusal::not_found()),
        Err(e) => {
            tracing::warn!(error = %e, "automatic persisted queries are unavailable");
            Err(Refusal::not_found())
        }
    }
}

/// Remembers a validated automatic persisted query, unless it is too large or the
/// address has registered too many lately (it still ran; the client sends it again).
pub async fn store(state: &AppState, address: &str, hash: &str, query: &str) {
    let settings = &state.settings;
    if query.len() > settings.graphql.apq_max_bytes {
        tracing::debug!(bytes = query.len(), "persisted query too large to remember");
        return;
    }
    if let Err(e) = crate::limits::check(
        &state.cache,
        settings,
        crate::limits::Action::PersistedQuery,
        address,
    )
    .await
    {
        tracing::debug!(error = %e, "persisted query not remembered");
        return;
    }
    let ttl = Duration::from_secs(settings.graphql.apq_ttl_secs);
    if let Err(e) = state.cache.set_ex(&cache_key(hash), query, ttl).await {
        tracing::warn!(error = %e, "an automatic persisted query could not be stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(json: serde_json::Value) -> HashMap<String, Value> {
        match Value::from_json(json).unwrap() {
            Value::Object(map) => map.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            _ => HashMap::new(),
        }
    }

    #[test]
    fn hashes_are_lowercase_sha256() {
        assert_eq!(hash("{ health { status } }").len(), 64);
        assert!(
            requested_hash(&extensions(
                serde_json::json!({"persistedQuery": {"version": 2, "sha256Hash": "x"}})
            ))
            .is_err()
        );
        assert_eq!(
            requested_hash(&extensions(serde_json::json!({}))).unwrap(),
            None
        );
    }
}
