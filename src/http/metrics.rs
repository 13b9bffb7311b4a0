//! `/metrics` for Prometheus: on the main port behind `METRICS_TOKEN` (loopback callers
//! only when no token is set), or on its own port (`metrics.port`) for a private network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Endpoint, Request, Response, handler};
use secrecy::ExposeSecret as _;

use crate::domain::accounts::tokens::constant_time_eq;
use crate::http::middleware::call;
use crate::state::AppState;

fn allowed(req: &Request, state: &AppState) -> bool {
    match &state.settings.metrics_token {
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                constant_time_eq(given.trim().as_bytes(), token.expose_secret().as_bytes())
            }),
        None => req
            .remote_addr()
            .as_socket_addr()
            .is_some_and(|a| a.ip().is_loopback()),
    }
}

async fn render(state: &AppState) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(gauges_then_render(state).await)
}

/// On the main port.
#[handler]
pub async fn scrape(req: &Request, Data(state): Data<&AppState>) -> Response {
    if !allowed(req, state) {
        let mut response = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body("metrics need Authorization: Bearer <METRICS_TOKEN>");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    render(state).await
}

/// On the metrics port: reachable only from where that port is exposed.
#[handler]
pub async fn scrape_private(Data(state): Data<&AppState>) -> Response {
    render(state).await
}

/// Counts every request by route, method and status, with its latency.
pub async fn measure<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let response = call(&*next, req).await;
    crate::metrics::record_request(
        &path,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    Ok(response)
}

/// Reads the gauges of shared state, then renders every metric.
async fn gauges_then_render(state: &AppState) -> String {
    let Some(handle) = crate::metrics::handle() else {
        return String::new();
    };
    let pool = &state.db;
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    metrics::gauge!("db_pool_max_connections")
        .set(f64::from(state.settings.database.max_connections));
    let redis_up = if state.cache.is_embedded() {
        1.0
    } else {
        match tokio::time::timeout(Duration::from_millis(500), state.cache.ping()).await {
            Ok(Ok(())) => 1.0,
            _ => 0.0,
        }
    };
    metrics::gauge!("redis_up").set(redis_up);
    metrics::gauge!("pubsub_lost_events").set(state.pubsub.lost_events() as f64);
    match tokio::time::timeout(Duration::from_secs(2), crate::jobs::queue::stats(pool)).await {
        Ok(Ok(stats)) => {
            for kind in stats {
                for (status, count) in [
                    ("queued", kind.queued),
                    ("running", kind.running),
                    ("scheduled", kind.scheduled),
                    ("failed", kind.failed),
                    ("dead", kind.dead),
                ] {
                    metrics::gauge!("jobs", "kind" => kind.kind.clone(), "status" => status)
                        .set(count as f64);
                }
            }
        }
        _ => tracing::warn!("job counts could not be read for /metrics"),
    }
    handle.render()
}
