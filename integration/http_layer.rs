//! What every route goes through: request ids, security headers, the HTTPS redirect, CORS,
//! panics, and the HTML pages.

use poem::{EndpointExt as _, Route, get, handler};
use serde_json::Value;

use crate::helpers::{Options, spawn_app, spawn_app_with};

fn assert_security_headers(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(app.url("/api/v1/health_checks/app"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let generated = app.get("/api/v1/health_checks/app").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    // An id with odd characters is replaced, not echoed.
    let odd = app
        .client
        .get(app.url("/api/v1/health_checks/app"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(odd.headers()["x-request-id"], "<script>");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/graphiql",
        "/api/v1/health_checks/app",
        "/nowhere",
        "/graphql",
    ] {
        let response = app.get(path).await;
        assert_security_headers(response.headers());
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none()
        );
    }
    let refused = app
        .client
        .post(app.url("/graphql"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 415);
    assert_security_headers(refused.headers());
}

#[tokio::test]
async fn behind_an_https_proxy_plain_http_is_redirected_except_health_checks() {
    let app = spawn_app_with(Options::default(), |s| {
        s.app_protocol = "https://".to_owned();
        s.app_domain = "vibecoding.example".to_owned();
    })
    .await;
    let response = app
        .client
        .get(app.url("/graphiql?x=1"))
        .header("x-forwarded-proto", "http")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(
        response.headers()["location"],
        "https://vibecoding.example/graphiql?x=1"
    );
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );

    let post = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 308);

    for name in ["app", "database", "cache"] {
        let health = app
            .client
            .get(app.url(&format!("/api/v1/health_checks/{name}")))
            .header("x-forwarded-proto", "http")
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{name}");
    }
    let secure = app
        .client
        .get(app.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(secure.status(), 200);
    assert!(secure.headers().get("strict-transport-security").is_some());
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let app = spawn_app_with(Options::default(), |s| {
        s.http.allowed_origins = vec!["https://frontend.example".to_owned()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://frontend.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://frontend.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[handler]
fn explode() -> &'static str {
    panic!("secret internals: password=hunter2");
}

#[tokio::test]
async fn a_panic_becomes_a_json_500_without_internals() {
    let app = spawn_app().await;
    let endpoint =
        vibecoding::http::wrap(Route::new().at("/boom", get(explode)), app.state.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_std(listener).unwrap())
            .run(endpoint.map_to_response()),
    );
    let response = app
        .client
        .get(format!("http://127.0.0.1:{port}/boom"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("x-request-id").is_some());
    assert_security_headers(response.headers());
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("secret"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );
    server.abort();
}

#[tokio::test]
async fn the_landing_page_and_graphiql_are_served_with_their_assets() {
    let app = spawn_app().await;
    let landing = app.get("/").await;
    assert_eq!(landing.status(), 200);
    assert!(
        landing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = landing.text().await.unwrap();
    for link in [
        "/graphiql",
        "/api/v1/health_checks/app",
        "/api/v1/health_checks/database",
        "/api/v1/health_checks/cache",
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}");
    }

    let page = app.get("/graphiql").await.text().await.unwrap();
    assert!(
        !page.contains("make assets"),
        "the GraphiQL files are not installed: run `make assets`"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "GraphiQL must load nothing from elsewhere"
    );
    for asset in [
        "graphiql.css",
        "react.js",
        "react-dom.js",
        "graphql-ws.js",
        "graphiql.js",
        "init.js",
    ] {
        assert!(
            page.contains(&format!("/graphiql/assets/{asset}")),
            "{asset}"
        );
        let response = app.get(&format!("/graphiql/assets/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let init = app
        .get("/graphiql/assets/init.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/graphql/ws") && init.contains("defaultQuery"));
    assert_eq!(
        app.get("/graphiql/assets/..%2FCargo.toml").await.status(),
        404
    );
    assert_eq!(app.get("/graphiql/assets/other.js").await.status(), 404);
}
