//! Rate limits per member and per address, counted in Redis so they hold across nodes,
//! and the per-window query-complexity budget.

use serde_json::{Value, json};
use vibecoding::config::{Rule, Settings};

use crate::helpers::{Options, TestApp, code, spawn_app_with};
use crate::uploads::png;

/// Limits on, each member rule at 2 per minute.
fn strict(s: &mut Settings) {
    s.rate_limits.enabled = true;
    let two = Rule::new(2, 60);
    let l = &mut s.rate_limits;
    l.article_create = two;
    l.article_update = two;
    l.comment_create = two;
    l.reaction = two;
    l.image_upload = two;
    l.profile_update = two;
    l.follow = two;
    l.confirmation_email = two;
    l.report = two;
    l.webhook = two;
    l.new_member_article = Rule::new(1, 300);
    l.new_member_comment = Rule::new(1, 300);
    l.registration_per_ip = Rule::new(10, 3_600);
    l.login_per_ip = Rule::new(3, 600);
}

/// Asserts a RATE_LIMITED refusal with a `retryAfter` within the window.
fn assert_limited(body: &Value, window: u64, what: &str) {
    assert_eq!(code(body), "RATE_LIMITED", "{what}: {body}");
    let retry = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: no retryAfter in {body}"));
    assert!((1..=window).contains(&retry), "{what}: retryAfter {retry}");
}

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }";
const COMMENT: &str = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";

async fn article(app: &TestApp, token: &str, title: &str) -> String {
    app.ok(
        Some(token),
        CREATE,
        json!({ "i": { "title": title, "bodyMarkdown": "Body", "published": true } }),
    )
    .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_member_limit_refuses_with_retry_after() {
    let app = spawn_app_with(Options::default(), strict).await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cyd = app.member("cyd").await;
    app.member("dee").await;
    for name in ["ada", "bob", "cyd", "dee"] {
        app.age_member(name).await;
    }
    let a1 = article(&app, &bob, "One").await;
    let a2 = article(&app, &bob, "Two").await;

    // Each action, run three times as ada: twice accepted, then refused.
    let third = |body: &Value, what: &str| assert_limited(body, 60, what);

    let mut results = Vec::new();
    for i in 0..3 {
        results.push(
            app.graphql_as(
                Some(&ada),
                CREATE,
                json!({ "i": { "title": format!("Mine {i}"), "bodyMarkdown": "x" } }),
            )
            .await
            .1,
        );
    }
    assert!(results[1].get("errors").is_none(), "{}", results[1]);
    third(&results[2], "article creation");

    let update = "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id } } }";
    let mine = results[0]["data"]["createArticle"]["article"]["id"].clone();
    let mut last = Value::Null;
    for i in 0..3 {
        last = app
            .graphql_as(
                Some(&ada),
                update,
                json!({ "i": { "id": mine, "description": format!("d{i}") } }),
            )
            .await
            .1;
    }
    third(&last, "article update");

    for i in 0..3 {
        last = app
            .graphql_as(
                Some(&ada),
                COMMENT,
                json!({ "a": a1, "b": format!("comment {i}") }),
            )
            .await
            .1;
    }
    third(&last, "comments");

    let react = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    for category in ["like", "unicorn", "fire"] {
        last = app
            .graphql_as(Some(&ada), react, json!({ "id": a2, "c": category }))
            .await
            .1;
    }
    third(&last, "reactions");

    let profile = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { userErrors { field message code } user { name } } }";
    for i in 0..3 {
        last = app
            .graphql_as(
                Some(&ada),
                profile,
                json!({ "i": { "name": format!("Ada {i}") } }),
            )
            .await
            .1;
    }
    third(&last, "profile updates");

    let follow = "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }";
    let ids = app
        .ok(
            None,
            "{ a: user(username: \"bob\") { id } b: user(username: \"cyd\") { id } c: user(username: \"dee\") { id } }",
            json!({}),
        )
        .await;
    for key in ["a", "b", "c"] {
        last = app
            .graphql_as(Some(&ada), follow, json!({ "id": ids[key]["id"] }))
            .await
            .1;
    }
    third(&last, "follows");

    let report = "mutation($id: ID!) { report(input: { subjectId: $id, category: SPAM }) { userErrors { field message code } report { id } } }";
    for key in ["a", "b", "c"] {
        last = app
            .graphql_as(Some(&ada), report, json!({ "id": ids[key]["id"] }))
            .await
            .1;
    }
    third(&last, "reports");

    for _ in 0..3 {
        last = app
            .upload(
                Some(&ada),
                "mutation($f: Upload!) { uploadImage(input: { file: $f }) { userErrors { field message code } image { id } } }",
                json!({ "f": null }),
                "f",
                "a.png",
                png(8, 8),
            )
            .await
            .1;
    }
    third(&last, "image uploads");

    // Webhook changes count refused attempts too: each may resolve a host name.
    for _ in 0..3 {
        last = app
            .graphql_as(
                Some(&ada),
                "mutation { createWebhook(input: { url: \"https://127.0.0.1/hook\", events: [ARTICLE_PUBLISHED] }) { userErrors { field message code } webhook { id } } }",
                json!({}),
            )
            .await
            .1;
    }
    third(&last, "webhooks");

    // Confirmation emails: a fresh, unconfirmed account.
    let eve = app.register("eve").await;
    for _ in 0..3 {
        last = app
            .graphql_as(
                Some(&eve),
                "mutation { resendConfirmation { clientMutationId } }",
                json!({}),
            )
            .await
            .1;
    }
    assert_limited(&last, 60, "confirmation emails");

    // Another member still has their whole allowance.
    let data = app
        .ok(Some(&cyd), COMMENT, json!({ "a": a1, "b": "cyd was here" }))
        .await;
    assert!(data["createComment"]["comment"]["id"].is_string());
}

#[tokio::test]
async fn new_accounts_publish_and_comment_slowly() {
    let app = spawn_app_with(Options::default(), |s| {
        strict(s);
        s.rate_limits.article_create = Rule::new(10, 60);
        s.rate_limits.comment_create = Rule::new(10, 60);
    })
    .await;
    let old = app.member("old").await;
    app.age_member("old").await;
    let target = article(&app, &old, "Target").await;
    let young = app.member("young").await;

    article(&app, &young, "First").await;
    let (_, body) = app
        .graphql_as(
            Some(&young),
            CREATE,
            json!({ "i": { "title": "Second", "bodyMarkdown": "x", "published": true } }),
        )
        .await;
    assert_limited(&body, 300, "second published article of a new account");
    // A draft is not publishing.
    let data = app
        .ok(
            Some(&young),
            CREATE,
            json!({ "i": { "title": "Draft", "bodyMarkdown": "x" } }),
        )
        .await;
    assert!(data["createArticle"]["article"]["id"].is_string());

    app.ok(Some(&young), COMMENT, json!({ "a": target, "b": "first" }))
        .await;
    let (_, body) = app
        .graphql_as(Some(&young), COMMENT, json!({ "a": target, "b": "second" }))
        .await;
    assert_limited(&body, 300, "second comment of a new account");
    assert_eq!(
        app.count("SELECT count(*) FROM comments").await,
        1,
        "nothing half-written"
    );
}

#[tokio::test]
async fn limits_hold_across_nodes_sharing_redis() {
    let app = spawn_app_with(Options::default(), strict).await;
    let other = app.second_node_with(Options::default(), strict).await;
    let ada = app.member("ada").await;
    app.age_member("ada").await;
    let target = article(&app, &ada, "Target").await;
    app.ok(
        Some(&ada),
        COMMENT,
        json!({ "a": target, "b": "on node one" }),
    )
    .await;
    other
        .ok(
            Some(&ada),
            COMMENT,
            json!({ "a": target, "b": "on node two" }),
        )
        .await;
    let (_, body) = other
        .graphql_as(Some(&ada), COMMENT, json!({ "a": target, "b": "third" }))
        .await;
    assert_limited(&body, 60, "third comment across nodes");
    let (_, body) = app
        .graphql_as(Some(&ada), COMMENT, json!({ "a": target, "b": "fourth" }))
        .await;
    assert_limited(&body, 60, "fourth comment across nodes");
}

#[tokio::test]
async fn sign_in_and_registration_are_limited_per_address() {
    let app = spawn_app_with(Options::default(), |s| {
        strict(s);
        s.rate_limits.registration_per_ip = Rule::new(3, 3_600);
    })
    .await;
    app.register("ada").await;
    let login = "mutation($i: LoginInput!) { login(input: $i) { userErrors { field message code } token } }";
    for _ in 0..2 {
        let (_, body) = app
            .graphql(
                login,
                json!({ "i": { "login": "ada", "password": "wrong password" } }),
            )
            .await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let (_, body) = app
        .graphql(
            login,
            json!({ "i": { "login": "ada", "password": "wrong password" } }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // The fourth attempt from this address is refused even with the right password.
    let (_, body) = app
        .graphql(
            login,
            json!({ "i": { "login": "ada", "password": "correct horse battery" } }),
        )
        .await;
    assert_limited(&body, 600, "sign-in attempts");

    // One registration was spent on ada; two more, then refused.
    app.register("bob").await;
    app.register("cyd").await;
    let (_, body) = app
        .graphql(
            "mutation($i: RegisterInput!) { register(input: $i) { userErrors { field message code } token } }",
            json!({ "i": { "username": "dee", "email": "dee@example.com", "password": "correct horse battery" } }),
        )
        .await;
    assert_limited(&body, 3_600, "registrations");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 3);
}

#[tokio::test]
async fn expensive_queries_spend_the_budget_faster() {
    let app = spawn_app_with(Options::default(), |s| {
        strict(s);
        s.rate_limits.complexity_per_ip = Rule::new(1_500, 60);
    })
    .await;
    // A cheap query costs a few points: many fit.
    for _ in 0..20 {
        let (status, body) = app.graphql("{ health { app } }", json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    // A page of 100 articles with nested fields costs over a thousand: the second one
    // runs, the third is refused before it runs.
    let expensive =
        "{ articles(first: 100) { edges { node { title author { username } tags { name } } } } }";
    let mut last = (0, Value::Null);
    for _ in 0..3 {
        last = app.graphql(expensive, json!({})).await;
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert_limited(&last.1, 60, "query budget");
    assert!(last.1.get("data").is_none());
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": expensive }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
}

#[tokio::test]
async fn rate_limit_answers_what_a_request_cost_and_what_is_left() {
    let app = spawn_app_with(Options::default(), |s| {
        strict(s);
        s.rate_limits.complexity_per_member = Rule::new(5_000, 60);
    })
    .await;
    let ada = app.member("ada").await;
    let budget = "rateLimit { limit cost remaining resetAt }";
    let first = app
        .ok(Some(&ada), &format!("{{ {budget} }}"), json!({}))
        .await["rateLimit"]
        .clone();
    assert_eq!(first["limit"], 5_000, "{first}");
    let cost = first["cost"].as_i64().unwrap();
    assert!(cost >= 1, "{first}");
    assert_eq!(first["remaining"], 5_000 - cost);
    let reset: chrono::DateTime<chrono::Utc> = first["resetAt"].as_str().unwrap().parse().unwrap();
    let ahead = reset - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::zero() && ahead <= chrono::Duration::seconds(60),
        "{ahead}"
    );

    // A page of 50 articles costs what its selection costs, and the budget shows it.
    let page = app
        .ok(
            Some(&ada),
            &format!("{{ {budget} articles(first: 50) {{ edges {{ node {{ title }} }} }} }}"),
            json!({}),
        )
        .await["rateLimit"]
        .clone();
    let page_cost = page["cost"].as_i64().unwrap();
    assert!(
        page_cost > 50,
        "each of the 50 items costs something: {page}"
    );
    assert_eq!(page["remaining"], 5_000 - cost - page_cost);

    // Without budgets there is nothing to report.
    let off = spawn_app_with(Options::default(), |_| {}).await;
    let data = off.ok(None, &format!("{{ {budget} }}"), json!({})).await;
    assert_eq!(data["rateLimit"], Value::Null);
}
