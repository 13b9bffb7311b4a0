//! `/graphql` over HTTP: the GraphQL-over-HTTP rules, limits and error codes.

use serde_json::{Value, json};
use vibecoding::config::AppEnv;

use crate::helpers::{Options, code, spawn_app, spawn_app_with};

const HEALTH: &str = "{ health { app database cache cacheMode version } }";
const GQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_query_runs_and_answers_in_the_negotiated_media_type() {
    let app = spawn_app().await;
    let (status, body) = app.graphql(HEALTH, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["health"],
        json!({ "app": "UP", "database": "UP", "cache": "UP", "cacheMode": "REDIS", "version": env!("CARGO_PKG_VERSION") })
    );

    for (accept, expected) in [
        (Some(GQL_RESPONSE), GQL_RESPONSE),
        (Some("application/json"), "application/json"),
        (None, "application/json"),
        (Some("*/*"), "application/json"),
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(json!({ "query": "{ health { app } }" }).to_string());
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with(expected),
            "{accept:?} gave {content_type}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    let refused = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(json!({ "query": "{ health { app } }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 406);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations_and_subscriptions() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            (
                "query",
                "query Q($x: Boolean!) { health { app @include(if: $x) version } }",
            ),
            ("variables", r#"{"x": true}"#),
            ("operationName", "Q"),
        ])
        .header("accept", GQL_RESPONSE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["health"]["app"], "UP");

    for document in [
        "mutation { anything }",
        "subscription { serverTime }",
        "query A { health { app } } mutation B { x }",
    ] {
        let mut query = vec![("query", document)];
        if document.contains("mutation B") {
            query.push(("operationName", "B"));
        }
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{document}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }

    let bad_variables = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ health { app } }"), ("variables", "{not json")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_variables.status(), 400);

    let no_query = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(no_query.status(), 400);

    // A browser opening /graphql is sent to the playground.
    let browser = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 302);
    assert_eq!(browser.headers()["location"], "/graphiql");
}

#[tokio::test]
async fn only_json_bodies_are_accepted() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ health { app } }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/graphql"),
        None,
    ] {
        let mut request = app.client.post(app.url("/graphql")).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(code(&error), "BAD_USER_INPUT");
    }
    // Multipart is for uploads, and only with a header a cross-site form cannot send.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(code(&error), "BAD_USER_INPUT");
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Preflight")
    );
    let with_charset = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(with_charset.status(), 200);
}

async fn post_raw(app: &crate::helpers::TestApp, accept: &str, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_requests_and_invalid_documents() {
    let app = spawn_app().await;
    // Not JSON, not an object, no query, variables of the wrong type: 400 in both media types.
    for accept in [GQL_RESPONSE, "application/json"] {
        for body in [
            "{\"query\": ",
            "[1, 2",
            "42",
            "{}",
            r#"{"query": "{ health { app } }", "variables": [1]}"#,
            r#"{"query": 7}"#,
        ] {
            let (status, error) = post_raw(&app, accept, body).await;
            assert_eq!(status, 400, "{accept} {body}");
            assert_eq!(code(&error), "BAD_USER_INPUT", "{body}");
            assert!(error.get("data").is_none());
        }
    }
    // Documents that do not parse or do not validate: 400 with graphql-response+json, and
    // 200 with application/json as the specification asks; never a `data` entry.
    for document in [
        "{ health { app ",
        "{ health { nope } }",
        "{ health }",
        "query ($x: Int!) { health { app } }",
    ] {
        let body = json!({ "query": document }).to_string();
        let (status, error) = post_raw(&app, GQL_RESPONSE, &body).await;
        assert_eq!(status, 400, "{document}");
        assert_eq!(code(&error), "BAD_USER_INPUT", "{document}: {error}");
        assert!(error.get("data").is_none(), "{error}");
        let (status, error) = post_raw(&app, "application/json", &body).await;
        assert_eq!(status, 200, "{document}");
        assert!(error.get("data").is_none(), "{error}");
    }
    // Subscriptions are served over WebSocket only.
    let (status, body) = post_raw(
        &app,
        GQL_RESPONSE,
        &json!({ "query": "subscription { serverTime(intervalMs: 1) }" }).to_string(),
    )
    .await;
    assert_eq!(
        status, 400,
        "subscriptions are not served over HTTP: {body}"
    );
}

#[tokio::test]
async fn batches_are_off_by_default_and_bounded_when_on() {
    let app = spawn_app().await;
    let one = json!({ "query": "{ health { app } }" });
    let (status, body) = post_raw(&app, GQL_RESPONSE, &json!([one, one]).to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_USER_INPUT");

    let app = spawn_app_with(Options::default(), |s| s.graphql.max_batch = 2).await;
    let (status, body) = post_raw(
        &app,
        GQL_RESPONSE,
        &json!([one, { "query": "{ health { nope } }" }]).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["data"]["health"]["app"], "UP");
    assert_eq!(body[1]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (status, _) = post_raw(&app, GQL_RESPONSE, &json!([one, one, one]).to_string()).await;
    assert_eq!(status, 400);
    let (status, _) = post_raw(&app, GQL_RESPONSE, "[]").await;
    assert_eq!(status, 400);
}

/// The standard introspection query's shape: deeper than any data query may be.
const DEEP_INTROSPECTION: &str = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }";

#[tokio::test]
async fn depth_complexity_aliases_and_repeats_are_limited_before_execution() {
    // Introspection is exempt from the depth limit, so GraphiQL's docs load.
    let app = spawn_app().await;
    let (status, body) = app.graphql(DEEP_INTROSPECTION, json!({})).await;
    assert_eq!(status, 200, "{body}");

    let app = spawn_app_with(Options::default(), |s| s.graphql.max_depth = 1).await;
    let (status, body) = app.graphql("{ health { app } }", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    // Through fragments too.
    let (status, _) = app
        .graphql(
            "query { ...F } fragment F on Query { health { ...G } } fragment G on Health { app }",
            json!({}),
        )
        .await;
    assert_eq!(status, 400);

    let app = spawn_app_with(Options::default(), |s| {
        s.graphql.max_complexity = 8;
        s.graphql.max_aliases = 3;
        s.graphql.max_field_repeats = 2;
    })
    .await;

    let costly =
        "{ a: health { app database cache cacheMode version } b: health { app database version } }";
    let (status, body) = app.graphql(costly, json!({})).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );

    let aliases = "{ a: health { app } b: health { app } c: health { app } d: health { app } }";
    let (status, body) = app.graphql(aliases, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases"),
        "{body}"
    );

    let repeats = "{ health { app app app } }";
    let (status, body) = app.graphql(repeats, json!({})).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("more than 2 times"),
        "{body}"
    );

    // Within the limits the same shapes run.
    let (status, body) = app
        .graphql("{ a: health { app } b: health { version } }", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn introspection_and_suggestions_are_off_in_production() {
    let development = spawn_app().await;
    let (status, body) = development
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let (_, body) = development
        .graphql("{ health { versio } }", json!({}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );

    let production = spawn_app_with(Options::default(), |s| {
        s.app_env = AppEnv::Production;
        s.secret_key_base = Some("k".repeat(64).into());
    })
    .await;
    let (_, body) = production
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null() || body["errors"].is_array(),
        "{body}"
    );
    assert_ne!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let (_, body) = production.graphql("{ health { versio } }", json!({})).await;
    assert!(
        !body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
}

#[tokio::test]
async fn oversize_bodies_are_refused() {
    let app = spawn_app_with(Options::default(), |s| s.http.body_limit = 1024).await;
    let big =
        json!({ "query": format!("{{ health {{ app }} }} # {}", "x".repeat(2048)) }).to_string();
    let (status, body) = post_raw(&app, GQL_RESPONSE, &big).await;
    assert_eq!(status, 413);
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_committed_schema_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        committed == vibecoding::graphql::sdl(),
        "schema.graphql is out of date: run `make schema`"
    );
}
