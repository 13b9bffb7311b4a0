//! The four feeds: order, paging while articles arrive, personalisation, and periods.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app, spawn_app_with};

const FEED: &str = "query($t: FeedType!, $p: FeedPeriod, $tag: String, $f: Int, $a: String) { feed(type: $t, period: $p, tag: $tag, first: $f, after: $a) { edges { node { title } } pageInfo { hasNextPage endCursor } } }";

fn titles(data: &Value) -> Vec<String> {
    data["feed"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn publish(app: &TestApp, token: &str, title: &str, tags: &[&str]) -> Value {
    app.ok(
        Some(token),
        "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }",
        json!({ "i": { "title": title, "bodyMarkdown": "x", "tags": tags, "published": true } }),
    )
    .await["createArticle"]["article"]["id"]
        .clone()
}

async fn age(app: &TestApp, id: &Value, hours: i32) {
    let raw =
        vibecoding::graphql::node::decode(&async_graphql::ID(id.as_str().unwrap().to_owned()))
            .unwrap()
            .1;
    sqlx::query(
        "UPDATE articles SET published_at = now() - make_interval(hours => $2) WHERE id = $1",
    )
    .bind(raw)
    .bind(hours)
    .execute(&app.state.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn latest_top_relevant_and_following() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let eve = app.member("eve").await;
    let old_hit = publish(&app, &ada, "Old but loved", &["rust"]).await;
    let fresh = publish(&app, &ada, "Fresh and quiet", &["go"]).await;
    let by_bob = publish(&app, &bob, "By Bob", &["python"]).await;
    let ancient = publish(&app, &bob, "Ancient", &["rust"]).await;
    age(&app, &old_hit, 72).await;
    age(&app, &fresh, 1).await;
    age(&app, &by_bob, 2).await;
    age(&app, &ancient, 24 * 400).await;
    let toggle = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    for category in ["like", "unicorn", "fire", "raised_hands", "exploding_head"] {
        app.ok(Some(&eve), toggle, json!({ "id": old_hit, "c": category }))
            .await;
        app.ok(Some(&bob), toggle, json!({ "id": old_hit, "c": category }))
            .await;
    }
    app.ok(Some(&eve), toggle, json!({ "id": ancient, "c": "like" }))
        .await;
    // A periodic refresh brings every rank up to date.
    sqlx::query("UPDATE articles SET hot_score = hot_rank(score, comments_count, published_at)")
        .execute(&app.state.db)
        .await
        .unwrap();

    let latest = app.ok(None, FEED, json!({ "t": "LATEST" })).await;
    assert_eq!(
        titles(&latest),
        vec!["Fresh and quiet", "By Bob", "Old but loved", "Ancient"]
    );
    let top = app.ok(None, FEED, json!({ "t": "TOP", "p": "WEEK" })).await;
    assert_eq!(titles(&top)[0], "Old but loved");
    assert!(
        !titles(&top).contains(&"Ancient".to_owned()),
        "older than the period"
    );
    let top_ever = app
        .ok(None, FEED, json!({ "t": "TOP", "p": "INFINITY" }))
        .await;
    assert_eq!(
        titles(&top_ever)[..2],
        ["Old but loved".to_owned(), "Ancient".to_owned()]
    );
    let relevant = app.ok(None, FEED, json!({ "t": "RELEVANT" })).await;
    assert!(
        !titles(&relevant).contains(&"Ancient".to_owned()),
        "RELEVANT looks at recent articles"
    );
    let by_tag = app
        .ok(None, FEED, json!({ "t": "LATEST", "tag": "rust" }))
        .await;
    assert_eq!(titles(&by_tag), vec!["Old but loved", "Ancient"]);

    // Following Bob lifts his article in eve's RELEVANT feed and fills her FOLLOWING feed.
    let anonymous_order = titles(&relevant);
    let bob_id = app
        .ok(None, "{ user(username: \"bob\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    app.ok(
        Some(&eve),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": bob_id }),
    )
    .await;
    let personal = titles(&app.ok(Some(&eve), FEED, json!({ "t": "RELEVANT" })).await);
    let position = |list: &[String], t: &str| list.iter().position(|x| x == t).unwrap();
    assert!(
        position(&personal, "By Bob") <= position(&anonymous_order, "By Bob"),
        "{personal:?} vs {anonymous_order:?}"
    );
    assert!(
        position(&personal, "By Bob") < position(&personal, "Fresh and quiet"),
        "{personal:?}"
    );
    let following = app
        .ok(
            Some(&eve),
            FEED,
            json!({ "t": "FOLLOWING", "p": "INFINITY" }),
        )
        .await;
    assert_eq!(titles(&following), vec!["By Bob", "Ancient"]);
    let (_, body) = app.graphql(FEED, json!({ "t": "FOLLOWING" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn feed_pages_neither_skip_nor_repeat_when_articles_arrive() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    for i in 0..9 {
        let id = publish(&app, &ada, &format!("Story {i}"), &[]).await;
        age(&app, &id, 10 - i).await;
    }
    sqlx::query("UPDATE articles SET hot_score = hot_rank(score, comments_count, published_at)")
        .execute(&app.state.db)
        .await
        .unwrap();
    for kind in ["LATEST", "RELEVANT", "TOP"] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut arrivals = 0;
        loop {
            let data = app
                .ok(None, FEED, json!({ "t": kind, "f": 4, "a": after }))
                .await;
            seen.extend(titles(&data));
            // A new article lands between pages.
            arrivals += 1;
            publish(&app, &ada, &format!("Arrival {kind} {arrivals}"), &[]).await;
            if data["feed"]["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = data["feed"]["pageInfo"]["endCursor"]
                .as_str()
                .map(str::to_owned);
        }
        let stories: Vec<&String> = seen.iter().filter(|t| t.starts_with("Story")).collect();
        let mut unique = stories.clone();
        unique.dedup();
        assert_eq!(stories.len(), 9, "{kind}: every story once: {seen:?}");
        assert_eq!(unique.len(), 9, "{kind}: no repeats: {seen:?}");
    }
}

#[tokio::test]
async fn blocked_members_vanish_from_feeds_notifications_and_live_events() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let eve = app.member("eve").await;
    let bob_id = app
        .ok(None, "{ user(username: \"bob\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    let eve_article = publish(&app, &eve, "Eve writes", &[]).await;
    publish(&app, &bob, "Bob writes", &[]).await;
    app.ok(
        Some(&eve),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": bob_id }),
    )
    .await;
    assert_eq!(
        app.ok(
            Some(&eve),
            "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } user { viewerHasBlocked } } }",
            json!({ "id": bob_id })
        )
        .await["blockUser"]["user"]["viewerHasBlocked"],
        true
    );

    for kind in ["LATEST", "RELEVANT", "FOLLOWING"] {
        let feed = titles(
            &app.ok(Some(&eve), FEED, json!({ "t": kind, "p": "INFINITY" }))
                .await,
        );
        assert!(!feed.contains(&"Bob writes".to_owned()), "{kind}: {feed:?}");
    }
    assert!(
        titles(&app.ok(Some(&ada), FEED, json!({ "t": "LATEST" })).await)
            .contains(&"Bob writes".to_owned()),
        "only for the blocker"
    );

    app.drain_jobs().await;
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }",
        json!({ "id": eve_article }),
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }",
        json!({ "id": eve_article }),
    )
    .await;
    app.drain_jobs().await;
    let inbox = app
        .ok(
            Some(&eve),
            "{ viewer { notifications { edges { node { actors { username } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        inbox["viewer"]["notifications"]["edges"],
        json!([{ "node": { "actors": [{ "username": "ada" }] } }])
    );

    let (socket, _) = crate::helpers::ws_handshake(&app.ws_url(), "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut ws = crate::helpers::WsClient {
        socket,
        protocol: "graphql-transport-ws".into(),
    };
    ws.send(json!({ "type": "connection_init", "payload": { "token": eve } }))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe("a", "subscription { articlePublished { title } }")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    publish(&app, &bob, "Bob again", &[]).await;
    publish(&app, &ada, "Ada writes", &[]).await;
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next_json())
        .await
        .unwrap();
    assert_eq!(
        message["payload"]["data"]["articlePublished"]["title"], "Ada writes",
        "bob's article was skipped: {message}"
    );

    let (_, body) = app
        .graphql_as(
            Some(&bob),
            "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
            json!({ "id": bob_id }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    app.ok(
        Some(&eve),
        "mutation($id: ID!) { unblockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": bob_id }),
    )
    .await;
    assert!(
        titles(&app.ok(Some(&eve), FEED, json!({ "t": "LATEST" })).await)
            .contains(&"Bob writes".to_owned())
    );
}

#[tokio::test]
async fn listed_articles_load_their_bodies_only_when_asked() {
    let app = spawn_app_with(
        crate::helpers::Options {
            db_proxy: true,
            ..Default::default()
        },
        |s| s.graphql.loader_delay_ms = 25,
    )
    .await;
    let ada = app.member("ada").await;
    for i in 0..5 {
        app.ok(
            Some(&ada),
            "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id } } }",
            json!({ "i": { "title": format!("Body {i}"), "bodyMarkdown": format!("Paragraph **{i}**"), "published": true } }),
        )
        .await;
    }
    let lean = "{ feed(type: LATEST, first: 5) { edges { node { title } } } }";
    let full =
        "{ feed(type: LATEST, first: 5) { edges { node { title bodyHtml bodyMarkdown } } } }";
    let before = app.statements();
    app.ok(None, lean, json!({})).await;
    let lean_cost = app.statements() - before;
    let before = app.statements();
    let data = app.ok(None, full, json!({})).await;
    let full_cost = app.statements() - before;
    assert_eq!(full_cost, lean_cost + 1, "one query for every body");
    for (i, edge) in data["feed"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .enumerate()
    {
        assert_eq!(edge["node"]["bodyMarkdown"], format!("Paragraph **{i}**"));
        assert!(
            edge["node"]["bodyHtml"]
                .as_str()
                .unwrap()
                .contains(&format!("<strong>{i}</strong>")),
            "{edge}"
        );
    }
}

/// Waits until `check` holds (a notification crosses Postgres and a listener).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} within 5 s");
}

#[tokio::test]
async fn signed_out_first_pages_are_kept_until_any_node_writes() {
    let app = spawn_app_with(
        crate::helpers::Options {
            db_proxy: true,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let other = app.second_node(crate::helpers::Options::default()).await;
    let token = app.member("keeper").await;
    publish(&app, &token, "First", &["rust"]).await;
    let latest = json!({ "t": "LATEST" });
    let first = app.ok(None, FEED, latest.clone()).await;
    assert_eq!(titles(&first), vec!["First"]);
    // The same request again: answered from memory, not a statement sent (once the
    // notification of the write above has come by, which drops what was kept before it).
    eventually("a kept page is served", || async {
        app.ok(None, FEED, latest.clone()).await;
        let before = app.statements();
        let again = app.ok(None, FEED, latest.clone()).await;
        again == first && app.statements() == before
    })
    .await;
    // A signed-in reader's feed is theirs: it runs every time.
    let before = app.statements();
    app.ok(Some(&token), FEED, latest.clone()).await;
    assert!(app.statements() > before);
    // A second page is never kept.
    let cursor = first["feed"]["pageInfo"]["endCursor"].clone();
    let paged = json!({ "t": "LATEST", "a": cursor });
    app.ok(None, FEED, paged.clone()).await;
    let before = app.statements();
    app.ok(None, FEED, paged).await;
    assert!(app.statements() > before);
    // A write on the other node: this node's kept page goes.
    publish(&other, &token, "Second", &["rust"]).await;
    eventually("the new article shows on this node", || async {
        titles(&app.ok(None, FEED, latest.clone()).await) == vec!["Second", "First"]
    })
    .await;
    // Any change readers see counts, a title edit included.
    let id = publish(&app, &token, "Third", &[]).await;
    app.ok(None, FEED, latest.clone()).await;
    other
        .ok(
            Some(&token),
            "mutation($id: ID!) { updateArticle(input: { id: $id, title: \"Third, edited\" }) { userErrors { field message code } article { id } } }",
            json!({ "id": id }),
        )
        .await;
    eventually("the edit shows", || async {
        titles(&app.ok(None, FEED, latest.clone()).await)[0] == "Third, edited"
    })
    .await;
}

#[tokio::test]
async fn a_feed_page_with_authors_tags_and_counts_is_two_statements() {
    let app = spawn_app_with(
        crate::helpers::Options {
            db_proxy: true,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let mut tokens = Vec::new();
    for i in 0..3 {
        tokens.push(app.member(&format!("writer{i}")).await);
    }
    for n in 0..25 {
        let id = publish(
            &app,
            &tokens[n % 3],
            &format!("Article {n}"),
            &["rust", "web"],
        )
        .await;
        app.ok(
            Some(&tokens[(n + 1) % 3]),
            "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }",
            json!({ "id": id }),
        )
        .await;
    }
    let page = "query($a: String) { feed(type: LATEST, first: 20, after: $a) { edges { node { title author { username name } tags { name } reactionCounts { category count } viewerReactions } } pageInfo { endCursor } } }";
    // Signed in: the session check, the page with its authors (and counts: the articles
    // carry them), then their tags.
    let before = app.statements();
    let data = app.ok(Some(&tokens[0]), page, json!({})).await;
    let edges = data["feed"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    assert_eq!(
        edges[0]["node"]["tags"],
        json!([{ "name": "rust" }, { "name": "web" }])
    );
    assert_eq!(
        edges[0]["node"]["reactionCounts"],
        json!([{ "category": "like", "count": 1 }])
    );
    assert!(
        edges[0]["node"]["author"]["username"]
            .as_str()
            .unwrap()
            .starts_with("writer")
    );
    // The viewer's own reactions are theirs: one statement more.
    assert_eq!(
        app.statements() - before,
        4,
        "session, page with authors, tags, viewer's reactions"
    );
    // A second page, signed out: the page and its tags.
    let before = app.statements();
    let cursor = data["feed"]["pageInfo"]["endCursor"].clone();
    let data = app.ok(None, page, json!({ "a": cursor })).await;
    assert_eq!(data["feed"]["edges"].as_array().unwrap().len(), 5);
    assert_eq!(app.statements() - before, 2);
}
