//! Feeds out: RSS 2.0, Atom and JSON Feed for the instance, a member, a tag and a member's
//! FOLLOWING feed, each read back by an independent feed parser, answered 304 on a repeat,
//! and announced on the reading pages.

use feed_rs::model::FeedType;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const FORMATS: [(&str, &str, FeedType); 3] = [
    ("feed.xml", "application/rss+xml", FeedType::RSS2),
    ("feed.atom", "application/atom+xml", FeedType::Atom),
    ("feed.json", "application/feed+json", FeedType::JSON),
];

async fn publish(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(
        Some(token),
        "mutation($i: CreateArticleInput!) { createArticle(input: $i) { article { id url } userErrors { field message code } } }",
        json!({ "i": input }),
    )
    .await["createArticle"]["article"]
        .clone()
}

/// GETs a feed and checks what every feed answer carries; returns the response's parts.
async fn fetch(
    app: &TestApp,
    path: &str,
    media_type: &str,
) -> (reqwest::header::HeaderMap, String) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with(media_type),
        "{path}: {headers:?}"
    );
    assert!(headers.contains_key("etag"), "{path}");
    if let Some(modified) = headers.get("last-modified") {
        // IMF-fixdate: "Wed, 02 Dec 2026 13:13:01 GMT".
        let modified = modified.to_str().unwrap();
        assert!(
            modified.len() == 29 && modified.ends_with(" GMT"),
            "{path}: {modified}"
        );
    }
    (headers, response.text().await.unwrap())
}

/// The feed again with the validators it gave: 304 and no body, by ETag and by date.
async fn unchanged(app: &TestApp, path: &str, headers: &reqwest::header::HeaderMap) {
    for (name, value) in [
        ("if-none-match", &headers["etag"]),
        ("if-modified-since", &headers["last-modified"]),
    ] {
        let response = app
            .client
            .get(app.url(path))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 304, "{path} with {name}");
        assert_eq!(response.headers()["etag"], headers["etag"]);
        assert!(response.text().await.unwrap().is_empty());
    }
    let response = app
        .client
        .get(app.url(path))
        .header("if-none-match", "\"something else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{path}: another copy is not current"
    );
}

#[tokio::test]
async fn every_feed_validates_in_every_format_and_answers_304_on_a_repeat() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let first = publish(
        &app,
        &ada,
        json!({ "title": "Ownership, gently", "bodyMarkdown": "Borrow **checked** <script>x</script>", "tags": ["rust", "learning"], "description": "A gentle start.", "canonicalUrl": "https://blog.example.com/ownership", "published": true }),
    )
    .await;
    publish(
        &app,
        &ada,
        json!({ "title": "Lifetimes & you", "bodyMarkdown": "Second.", "tags": ["rust"], "published": true }),
    )
    .await;
    publish(
        &app,
        &ada,
        json!({ "title": "A secret draft", "bodyMarkdown": "x" }),
    )
    .await;
    app.ok(
        Some(&ada),
        "mutation { updateProfile(input: { name: \"Ada Lovelace\" }) { user { name } userErrors { field } } }",
        json!({}),
    )
    .await;

    for base in ["", "/ada", "/t/rust"] {
        for (file, media_type, kind) in FORMATS {
            let path = format!("{base}/{file}");
            let (headers, body) = fetch(&app, &path, media_type).await;
            let feed = feed_rs::parser::parse(body.as_bytes())
                .unwrap_or_else(|e| panic!("{path} parses: {e}\n{body}"));
            assert_eq!(feed.feed_type, kind, "{path}");
            assert!(feed.title.is_some(), "{path}");
            let titles: Vec<String> = feed
                .entries
                .iter()
                .map(|e| e.title.as_ref().unwrap().content.clone())
                .collect();
            assert_eq!(
                titles,
                ["Lifetimes & you", "Ownership, gently"],
                "{path}: newest first, no drafts"
            );
            let entry = &feed.entries[1];
            assert_eq!(
                entry.links[0].href,
                first["url"].as_str().unwrap(),
                "{path}"
            );
            let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
            assert!(
                content.contains("<strong>checked</strong>") && !content.contains("<script"),
                "{path}: full, sanitised HTML: {content}"
            );
            assert_eq!(
                entry.authors[0].name.as_deref(),
                Some("Ada Lovelace"),
                "{path}"
            );
            let categories: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
            assert!(categories.contains(&"rust"), "{path}: {categories:?}");
            assert!(entry.published.is_some(), "{path}");
            assert!(
                headers["cache-control"]
                    .to_str()
                    .unwrap()
                    .starts_with("public, max-age=300"),
                "{path}: a CDN may keep it"
            );
            unchanged(&app, &path, &headers).await;
        }
    }

    // What the specifications require beyond what the parser needs.
    let (_, rss) = fetch(&app, "/feed.xml", "application/rss+xml").await;
    for required in [
        "<rss version=\"2.0\"",
        "<channel>",
        "<link>",
        "<description>",
        "<guid>",
        "<content:encoded>",
        "<dc:creator>",
        "rel=\"self\"",
    ] {
        assert!(rss.contains(required), "RSS has {required}: {rss}");
    }
    let (_, atom) = fetch(&app, "/ada/feed.atom", "application/atom+xml").await;
    for required in [
        "xmlns=\"http://www.w3.org/2005/Atom\"",
        "<id>",
        "<updated>",
        "rel=\"self\"",
        "href=\"https://blog.example.com/ownership\" rel=\"related\"",
        "type=\"html\"",
    ] {
        assert!(atom.contains(required), "Atom has {required}: {atom}");
    }
    let (_, body) = fetch(&app, "/t/rust/feed.json", "application/feed+json").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert!(
        json["feed_url"]
            .as_str()
            .unwrap()
            .ends_with("/t/rust/feed.json")
    );
    assert_eq!(
        json["items"][1]["external_url"], "https://blog.example.com/ownership",
        "the canonical link"
    );

    // A new article changes the feed: the old validators no longer match.
    let (before, _) = fetch(&app, "/feed.json", "application/feed+json").await;
    publish(
        &app,
        &ada,
        json!({ "title": "Third", "bodyMarkdown": "x", "published": true }),
    )
    .await;
    let response = app
        .client
        .get(app.url("/feed.json"))
        .header("if-none-match", &before["etag"])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    for missing in [
        "/nobody_here/feed.xml",
        "/t/nosuchtag/feed.atom",
        "/t/not%20a%20tag/feed.json",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }

    // The reading pages announce their feeds.
    for (page, base) in [("/", ""), ("/ada", "/ada"), ("/t/rust", "/t/rust")] {
        let html = app.get(page).await.text().await.unwrap();
        for (file, media_type, _) in FORMATS {
            let link = format!("rel=\"alternate\" type=\"{media_type}\"");
            assert!(html.contains(&link), "{page} links {media_type}");
            assert!(
                html.contains(&format!("href=\"{base}/{file}\"")),
                "{page}: {html}"
            );
        }
    }
}

#[tokio::test]
async fn the_following_feed_is_private_to_its_token_and_a_new_token_ends_the_old() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    publish(
        &app,
        &ada,
        json!({ "title": "Ada writes", "bodyMarkdown": "x", "published": true }),
    )
    .await;
    publish(
        &app,
        &carol,
        json!({ "title": "Carol writes", "bodyMarkdown": "x", "published": true }),
    )
    .await;
    let ada_id = app
        .ok(None, "{ user(username: \"ada\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field } } }",
        json!({ "id": ada_id }),
    )
    .await;

    let create =
        "mutation { createFollowingFeedToken { rssUrl atomUrl jsonUrl userErrors { field } } }";
    let (_, body) = app.graphql(create, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let urls = app.ok(Some(&bob), create, json!({})).await["createFollowingFeedToken"].clone();
    let origin = app.state.settings.public_origin();
    let path = |url: &Value| {
        url.as_str()
            .unwrap()
            .strip_prefix(&origin)
            .unwrap()
            .to_owned()
    };
    for ((_, media_type, kind), field) in FORMATS.into_iter().zip(["rssUrl", "atomUrl", "jsonUrl"])
    {
        let address = path(&urls[field]);
        let (headers, body) = fetch(&app, &address, media_type).await;
        assert_eq!(headers["cache-control"], "private, max-age=300");
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        assert_eq!(feed.feed_type, kind);
        let titles: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        assert_eq!(titles, ["Ada writes"], "only whom bob follows");
        unchanged(&app, &address, &headers).await;
    }
    let old = path(&urls["rssUrl"]);
    let token = old.split('/').nth(3).unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feed_tokens WHERE token_hash = sha256(convert_to('{token}', 'UTF8'))"
        ))
        .await,
        1,
        "the token is kept as its hash only"
    );

    app.ok(Some(&bob), create, json!({})).await;
    assert_eq!(
        app.get(&old).await.status(),
        404,
        "a new token ends the old"
    );
    assert_eq!(
        app.get("/feeds/following/not-a-token/feed.xml")
            .await
            .status(),
        404
    );

    // A deleted account's feed address stops working with it.
    let current =
        path(&app.ok(Some(&bob), create, json!({})).await["createFollowingFeedToken"]["rssUrl"]);
    assert_eq!(app.get(&current).await.status(), 200);
    app.ok(
        Some(&bob),
        "mutation { deleteAccount(input: { password: \"correct horse battery\" }) { deletedUserId } }",
        json!({}),
    )
    .await;
    assert_eq!(app.get(&current).await.status(), 404);
    assert_eq!(app.count("SELECT count(*) FROM feed_tokens").await, 0);
}
