//! The HTTP surface: routes and the middleware every route runs through.

pub mod auth;
pub mod exports;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod pages;
pub mod reading;
pub mod request_id;
pub mod shared_pages;
pub mod syndication;
pub mod ws;
pub mod ws_limits;

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt as _, Response, Route, get};

use crate::error::ErrorCode;
use crate::graphql::api::Api;
use crate::state::AppState;

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .header("cache-control", "no-store")
        .body(body.to_string())
}

/// The body of an error answered outside GraphQL execution (a refused request, a panic, a
/// credential that does not check out), in the GraphQL response shape: one error with its
/// stable code, and `retryAfter` when there is one.
pub fn error_body(code: ErrorCode, message: &str, retry_after: Option<u64>) -> serde_json::Value {
    let mut extensions = serde_json::json!({ "code": code.as_str() });
    if let Some(seconds) = retry_after {
        extensions["retryAfter"] = serde_json::json!(seconds);
    }
    serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] })
}

/// [`error_body`] as a JSON response with `status`.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    json_response(status, &error_body(code, message, None))
}

/// Every route, behind the middleware stack of [`wrap`].
pub fn routes(state: AppState, api: Api) -> impl Endpoint<Output = Response> {
    let mut route = Route::new()
        .at("/", get(reading::home))
        .at("/feed.xml", get(syndication::site))
        .at("/feed.atom", get(syndication::site))
        .at("/feed.json", get(syndication::site))
        .at("/t/:tag/feed.xml", get(syndication::tag))
        .at("/t/:tag/feed.atom", get(syndication::tag))
        .at("/t/:tag/feed.json", get(syndication::tag))
        .at("/:username/feed.xml", get(syndication::member))
        .at("/:username/feed.atom", get(syndication::member))
        .at("/:username/feed.json", get(syndication::member))
        .at(
            "/feeds/following/:token/feed.xml",
            get(syndication::following),
        )
        .at(
            "/feeds/following/:token/feed.atom",
            get(syndication::following),
        )
        .at(
            "/feeds/following/:token/feed.json",
            get(syndication::following),
        )
        .at(
            "/unsubscribe/:token",
            get(reading::unsubscribe_page).post(reading::unsubscribe),
        )
        .at("/exports/:id/:signature", get(exports::download))
        .at("/auth/:provider", get(oauth::start))
        .at("/auth/:provider/callback", get(oauth::callback))
        .at("/t/:tag", get(reading::tag_page))
        .at("/modlog", get(reading::modlog_page))
        .at("/:username", get(reading::profile_page))
        .at("/:username/:slug", get(reading::article_page))
        .at("/favicon.ico", get(pages::favicon))
        .at("/graphql", get(graphql::get).post(graphql::post))
        .at("/graphql/ws", get(ws::upgrade))
        .at("/graphiql", get(pages::graphiql))
        .at("/graphiql/assets/:name", get(pages::graphiql_asset));
    if state.settings.metrics.enabled && state.settings.metrics.port.is_none() {
        route = route.at("/metrics", get(metrics::scrape));
    }
    if let crate::storage::Storage::Local { dir, .. } = &state.storage {
        route = route.nest(
            crate::storage::UPLOADS_PATH,
            poem::endpoint::StaticFilesEndpoint::new(dir.clone()).around(middleware::immutable),
        );
    }
    for prefix in health::PREFIXES {
        route = route
            .at(format!("{prefix}/app"), get(health::app))
            .at(format!("{prefix}/database"), get(health::database))
            .at(format!("{prefix}/cache"), get(health::cache));
    }
    wrap(
        route
            .data(api)
            .data(std::sync::Arc::new(shared_pages::SharedPages::default()))
            .data(ws_limits::Counters::default())
            .data(std::sync::Arc::new(pages::Assets::load(
                &state.settings.http.assets_dir,
            ))),
        state,
    )
}

/// Wraps an endpoint (innermost first) in: panic catching, the body size limit, CORS, the
/// HTTPS redirect, security headers, and the request id with its log span.
pub fn wrap<E: Endpoint + 'static>(
    endpoint: E,
    state: AppState,
) -> impl Endpoint<Output = Response> {
    let settings = state.settings.clone();

    let cors_state = state.clone();
    let cors = (!settings.http.allowed_origins.is_empty()).then(|| {
        Cors::new()
            .allow_origins_fn(move |origin| cors_state.origin_allowed(origin))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(["content-type", "authorization", "api-key", "x-request-id"])
            .expose_headers(["x-request-id", "retry-after"])
            .max_age(600)
    });
    let https = settings.is_https();
    let body_limit = settings.http.body_limit;
    let upload_limit = graphql::upload_body_limit(settings.uploads.max_bytes);
    let redirect_settings = settings.clone();

    endpoint
        .data(state)
        .with(CatchPanic::new().with_handler(middleware::panic_response))
        .around(move |ep, req| middleware::body_limit(ep, req, body_limit, upload_limit))
        .with_if(cors.is_some(), cors.unwrap_or_else(Cors::new))
        .around(move |ep, req| middleware::https_redirect(ep, req, Arc::clone(&redirect_settings)))
        .around(move |ep, req| middleware::security_headers(ep, req, https))
        .around(request_id::middleware)
        .around(metrics::measure)
        .map_to_response()
}
