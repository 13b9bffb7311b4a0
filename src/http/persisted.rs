//! Persisted queries.
//!
//! Automatic persisted queries (Apollo's protocol): a client sends
//! `extensions.persistedQuery.sha256Hash` alone; on `PERSISTED_QUERY_NOT_FOUND` it sends
//! the hash with the query, which is checked against the hash and remembered in Redis (so
//! every node knows it) for `graphql.apq_ttl_secs`.
//!
//! With `graphql.persisted_only`, only the operations of the configured manifest run,
//! asked for by hash (or by their exact text); nothing new can be registered.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
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
}

/// The hash a request names, if it uses persisted queries.
fn requested_hash(extensions: Option<&Json>) -> Result<Option<String>, Refusal> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    if persisted.get("version").and_then(Json::as_i64) != Some(1) {
        return Err(Refusal::new(
            ErrorCode::BadUserInput,
            "Unsupported persisted query version; use 1",
        ));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(Json::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            Refusal::new(
                ErrorCode::BadUserInput,
                "persistedQuery.sha256Hash must be 64 hex digits",
            )
        })?;
    Ok(Some(hash.to_ascii_lowercase()))
}

fn cache_key(hash: &str) -> String {
    format!("apq:{hash}")
}

/// Works out the query a request runs. `query` is what the client sent; returns the text
/// to run (unchanged for requests that do not use persisted queries).
pub async fn resolve(
    state: &AppState,
    query: Option<String>,
    extensions: Option<&Json>,
) -> Result<Option<String>, Refusal> {
    let hash = requested_hash(extensions)?;
    let settings = &state.settings.graphql;
    if settings.persisted_only {
        let known = match (&hash, &query) {
            (Some(hash), _) => state.persisted.get(hash),
            (None, Some(query)) => state.persisted.get(&self::hash(query)),
            (None, None) => None,
        };
        return match known {
            Some(text) => Ok(Some(text.to_owned())),
            None => Err(Refusal::new(
                ErrorCode::Forbidden,
                "Only persisted operations are accepted here",
            )),
        };
    }
    let Some(hash) = hash else {
        return Ok(query);
    };
    match query.filter(|q| !q.trim().is_empty()) {
        Some(query) => {
            if self::hash(&query) != hash {
                return Err(Refusal::new(
                    ErrorCode::BadUserInput,
                    "provided sha does not match query",
                ));
            }
            let ttl = Duration::from_secs(settings.apq_ttl_secs);
            if let Err(e) = state.cache.set_ex(&cache_key(&hash), &query, ttl).await {
                // The query still runs; the client will send it again next time.
                tracing::warn!(error = %e, "an automatic persisted query could not be stored");
            }
            Ok(Some(query))
        }
        None => {
            if let Some(text) = state.persisted.get(&hash) {
                return Ok(Some(text.to_owned()));
            }
            match state.cache.get(&cache_key(&hash)).await {
                Ok(Some(text)) => Ok(Some(text)),
                Ok(None) => Err(Refusal {
                    code: NOT_FOUND_CODE,
                    message: NOT_FOUND_MESSAGE.to_owned(),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "automatic persisted queries are unavailable");
                    Err(Refusal {
                        code: NOT_FOUND_CODE,
                        message: NOT_FOUND_MESSAGE.to_owned(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lowercase_sha256() {
        assert_eq!(hash("{ health { status } }").len(), 64,);
        assert!(
            requested_hash(Some(
                &serde_json::json!({"persistedQuery": {"version": 2, "sha256Hash": "x"}})
            ))
            .is_err()
        );
        assert_eq!(requested_hash(Some(&serde_json::json!({}))).unwrap(), None);
    }
}
