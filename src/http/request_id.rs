//! `X-Request-Id`: taken from the caller when it is sane, generated otherwise, echoed on the
//! response and carried by every log line of the request.

use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, Request, Response};
use tracing::Instrument as _;

pub use crate::telemetry::RequestId;

pub const HEADER: &str = "x-request-id";

/// A path as it may be logged: the private token of a FOLLOWING feed address and of an
/// unsubscribe address are not.
fn loggable(path: &str) -> std::borrow::Cow<'_, str> {
    const PRIVATE: &str = "/feeds/following/";
    const UNSUBSCRIBE: &str = "/unsubscribe/";
    if let Some(rest) = path.strip_prefix(PRIVATE) {
        let file = rest.split_once('/').map_or("", |(_, file)| file);
        return format!("{PRIVATE}[token]/{file}").into();
    }
    if path.starts_with(UNSUBSCRIBE) {
        return format!("{UNSUBSCRIBE}[token]").into();
    }
    // A data export's link downloads the archive: its signature is as good as a password.
    if path.starts_with("/exports/") {
        return "/exports/[id]/[signature]".into();
    }
    path.into()
}

/// The outermost middleware: opens the request's span, and logs its end.
pub async fn middleware<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::from_header)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    // The path only: query strings may carry GraphQL variables.
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %req.method(),
        path = %loggable(req.uri().path()),
    );
    async move {
        let started = Instant::now();
        let mut response = crate::http::middleware::call(&*next, req).await;
        if let Ok(value) = HeaderValue::from_str(id.as_str()) {
            response.headers_mut().insert(HEADER, value);
        }
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
        Ok(response)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn feed_tokens_are_not_logged() {
        assert_eq!(
            super::loggable("/feeds/following/s3cr3t-token/feed.xml"),
            "/feeds/following/[token]/feed.xml"
        );
        assert_eq!(super::loggable("/ada/feed.xml"), "/ada/feed.xml");
        assert_eq!(
            super::loggable("/unsubscribe/0193.digest.abcdef"),
            "/unsubscribe/[token]"
        );
        assert_eq!(
            super::loggable("/exports/0193abcd/5180c622dbb5"),
            "/exports/[id]/[signature]"
        );
    }
}
