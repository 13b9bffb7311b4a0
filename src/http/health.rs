//! The runbook's health checks: `/api/v1/health_checks/{app,database,cache}` (and the same
//! under `/api/health_checks/`), with exactly the Rails app's bodies.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::health;
use crate::http::json_response;
use crate::state::AppState;

pub const PREFIXES: [&str; 2] = ["/api/v1/health_checks", "/api/health_checks"];

pub fn is_health_check(path: &str) -> bool {
    PREFIXES.iter().any(|p| path.starts_with(p))
}

fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "message": text }))
}

/// With `HEALTH_CHECK_TOKEN` set, callers from other hosts must send it in the
/// `health-check-token` header; loopback callers (the container's own probe) need not.
fn authorised(req: &Request, state: &AppState) -> bool {
    let Some(expected) = &state.settings.health_check_token else {
        return true;
    };
    if state.settings.http.health_token_exempts_loopback
        && req
            .remote_addr()
            .as_socket_addr()
            .is_some_and(|a| a.ip().is_loopback())
    {
        return true;
    }
    req.headers()
        .get("health-check-token")
        .map(|v| v.as_bytes())
        .is_some_and(|given| constant_time_eq(given, expected.expose_secret().as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest as _;
    // Comparing digests keeps the time independent of where the inputs differ.
    let (a, b) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn unauthorised() -> Response {
    message(StatusCode::UNAUTHORIZED, "Unauthorized")
}

#[handler]
pub async fn app() -> Response {
    message(StatusCode::OK, "App is up")
}

#[handler]
pub async fn database(req: &Request, Data(state): Data<&AppState>) -> Response {
    if !authorised(req, state) {
        return unauthorised();
    }
    if health::database(&state.db, health::budget(&state.settings))
        .await
        .is_ok()
    {
        message(StatusCode::OK, "Database connected")
    } else {
        message(StatusCode::INTERNAL_SERVER_ERROR, "Database NOT connected!")
    }
}

#[handler]
pub async fn cache(req: &Request, Data(state): Data<&AppState>) -> Response {
    if !authorised(req, state) {
        return unauthorised();
    }
    if health::cache(&state.cache, health::budget(&state.settings))
        .await
        .is_ok()
    {
        message(StatusCode::OK, "Cache connected")
    } else {
        message(StatusCode::INTERNAL_SERVER_ERROR, "Cache NOT connected!")
    }
}
