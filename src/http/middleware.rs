//! Security headers, the HTTPS redirect behind a proxy, and panics turned into JSON 500s.

use std::sync::Arc;

use poem::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::config::Settings;
use crate::error::ErrorCode;
use crate::http::error_response;
use crate::http::health::is_health_check;

/// Scripts and styles come from this server only; GraphiQL needs inline styles and the
/// WebSocket connection.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; font-src 'self' data:; \
     connect-src 'self' ws: wss:; object-src 'none'; frame-ancestors 'none'; \
     base-uri 'self'; form-action 'self'";

pub async fn security_headers<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    https: bool,
) -> poem::Result<Response> {
    let mut response = call(&*next, req).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    if https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    Ok(response)
}

/// Behind a TLS-terminating proxy, a request that reached the proxy over plain HTTP is
/// sent to the same path over HTTPS on the configured domain (never the request's own
/// `Host`, which a client controls). Health checks are exempt: platform probes use HTTP.
pub async fn https_redirect<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    settings: Arc<Settings>,
) -> poem::Result<Response> {
    let forwarded_http = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("http"));
    if settings.is_https() && forwarded_http && !is_health_check(req.uri().path()) {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let location = format!("https://{}{path}", settings.app_domain);
        let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::PERMANENT_REDIRECT
        };
        return Ok(Response::builder()
            .status(status)
            .header(header::LOCATION, location)
            .finish());
    }
    Ok(call(&*next, req).await)
}

/// Runs the inner endpoint and turns its error, if any, into the response it stands for,
/// so outer middleware can still decorate it.
pub async fn call<E: Endpoint>(next: &E, req: Request) -> Response {
    match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Refuses a body announced larger than the limit (413) before reading it. Bodies without
/// a length are cut off at the limit by the handlers that read them.
pub async fn body_limit<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    limit: usize,
    upload_limit: usize,
) -> poem::Result<Response> {
    let upload = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let limit = if upload {
        limit.max(upload_limit)
    } else {
        limit
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadUserInput,
            &format!("The request body is larger than {limit} bytes"),
        ));
    }
    Ok(call(&*next, req).await)
}

/// Uploaded files never change under their name: cached for a year, never sniffed.
pub async fn immutable<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let mut response = call(&*next, req).await;
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    }
    Ok(response)
}

/// What a client sees when a handler panics: no message, no backtrace.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        crate::error::INTERNAL_MESSAGE,
    )
}
