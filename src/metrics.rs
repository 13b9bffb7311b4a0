//! Prometheus metrics at `/metrics`: requests, GraphQL operations, the database pool,
//! Redis, live connections, jobs and rate-limit refusals.
//!
//! Counters and histograms are recorded where things happen; gauges of shared state (the
//! pool, Redis, the job queue) are read when the endpoint is scraped (`http::metrics`).
//! A leaf: it records and renders, and knows nothing of what it measures.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Distinct GraphQL operation names kept as labels; later ones are counted as `other`,
/// since clients choose names and a label per name could grow without end.
const MAX_OPERATION_LABELS: usize = 200;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static OPERATIONS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS);
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off");
                    None
                }
            }
        })
        .as_ref()
}

/// A bounded label for an operation name.
pub fn operation_label(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let known = OPERATIONS.get_or_init(|| Mutex::new(HashSet::new()));
    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
    if known.contains(&name) {
        return name;
    }
    if known.len() < MAX_OPERATION_LABELS {
        known.insert(name.clone());
        return name;
    }
    "other".to_owned()
}

/// The route label of a path: the route pattern, not the path (whose values are unbounded).
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/graphql/ws" => "/graphql/ws",
        "/graphiql" => "/graphiql",
        "/metrics" => "/metrics",
        "/" => "/",
        "/favicon.ico" => "/favicon.ico",
        p if p.starts_with("/graphiql/") => "/graphiql/assets/:name",
        p if p.starts_with("/uploads/") => "/uploads/:file",
        p if p.ends_with("/health_checks/app") => "/api/v1/health_checks/app",
        p if p.ends_with("/health_checks/database") => "/api/v1/health_checks/database",
        p if p.ends_with("/health_checks/cache") => "/api/v1/health_checks/cache",
        p if p.starts_with("/t/") => "/t/:tag",
        p if p.trim_matches('/').contains('/') => "/:username/:slug",
        _ => "/:username",
    }
}

pub fn record_request(path: &str, method: &str, status: u16, elapsed: Duration) {
    let route = route_label(path);
    let status = status.to_string();
    metrics::counter!("http_requests_total", "route" => route, "method" => method.to_owned(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
}

pub fn record_operation(name: &str, kind: &str, elapsed: Duration, errors: &[String]) {
    let operation = operation_label(name);
    metrics::counter!("graphql_operations_total", "operation" => operation.clone(), "type" => kind.to_owned())
        .increment(1);
    metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation.clone(), "type" => kind.to_owned())
        .record(elapsed.as_secs_f64());
    for code in errors {
        metrics::counter!("graphql_errors_total", "operation" => operation.clone(), "code" => code.clone())
            .increment(1);
    }
}

pub fn record_refusal(action: &'static str) {
    metrics::counter!("rate_limit_refusals_total", "action" => action).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_patterns_not_paths() {
        assert_eq!(route_label("/ada/hello-world-1a2b"), "/:username/:slug");
        assert_eq!(route_label("/ada"), "/:username");
        assert_eq!(
            route_label("/api/health_checks/app"),
            "/api/v1/health_checks/app"
        );
        assert_eq!(route_label("/uploads/abc.png"), "/uploads/:file");
    }

    #[test]
    fn operation_labels_are_sanitised() {
        assert_eq!(operation_label("Feed{}\"x"), "Feedx");
    }
}
