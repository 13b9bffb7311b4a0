//! Feeds in: a member's feed, served by a local server, becomes their articles once per
//! entry; hostile feeds fail their own fetch and nothing else.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, code, field, spawn_app_with};

const ADD: &str = "mutation($i: AddFeedSourceInput!) { addFeedSource(input: $i) { userErrors { field message code } feedSource { id url markCanonical publish } } }";
const SOURCES: &str = "{ viewer { feedSources { id url lastFetchedAt lastError articles { title status canonicalUrl tagList bodyMarkdown publishedAt } } } }";

async fn app() -> TestApp {
    spawn_app_with(Default::default(), |s| {
        s.outbound.allow_http = true;
        s.outbound.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
        s.outbound.timeout_secs = 1;
        s.feed_import.max_feed_bytes = 64 * 1024;
    })
    .await
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, link)| {
            format!(
                "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
                 <pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>\
                 <category>Rust</category><category>Web Dev</category>\
                 <description><![CDATA[<h2>About {title}</h2><p>Some <em>words</em> and <a href=\"https://example.com/x\">a link</a>.</p><script>alert(1)</script>]]></description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Blog</title>\
         <link>https://blog.example.com/</link><description>d</description>{items}</channel></rss>"
    )
}

async fn sources(app: &TestApp, token: &str) -> Vec<Value> {
    app.ok(Some(token), SOURCES, json!({})).await["viewer"]["feedSources"]
        .as_array()
        .unwrap()
        .clone()
}

/// Makes every source due and runs the worker.
async fn fetch_all(app: &TestApp) {
    sqlx::query("UPDATE feed_sources SET next_fetch_at = now()")
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO jobs (id, kind, payload) VALUES (gen_random_uuid(), 'fetch_due_feeds', '{\"kind\":\"fetch_due_feeds\"}')")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
}

#[tokio::test]
async fn a_feed_becomes_articles_once_each() {
    let server = MockServer::start().await;
    // A reader that sends the ETag back gets a 304.
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_raw(
                    rss(&[
                        ("a-1", "First Post", "https://blog.example.com/first"),
                        ("a-2", "Second Post", "https://blog.example.com/second"),
                    ]),
                    "application/rss+xml",
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let app = app().await;
    let ada = app.member("ada").await;
    // An article of hers already has the canonical URL of an entry to come.
    app.ok(
        Some(&ada),
        "mutation { createArticle(input: { title: \"Third, written here\", bodyMarkdown: \"x\", canonicalUrl: \"https://blog.example.com/third\" }) { userErrors { field message code } article { id } } }",
        json!({}),
    )
    .await;
    let data = app
        .ok(
            Some(&ada),
            ADD,
            json!({ "i": { "url": format!("{}/feed.xml", server.uri()) } }),
        )
        .await;
    assert_eq!(data["addFeedSource"]["feedSource"]["publish"], "DRAFT");
    assert_eq!(data["addFeedSource"]["feedSource"]["markCanonical"], true);
    app.drain_jobs().await;

    let listed = sources(&app, &ada).await;
    assert_eq!(listed[0]["lastError"], Value::Null, "{listed:?}");
    assert!(listed[0]["lastFetchedAt"].is_string());
    let articles = listed[0]["articles"].as_array().unwrap();
    assert_eq!(articles.len(), 2);
    // Entries of one date are made in the feed's order read as newest first: the first
    // item last.
    assert_eq!(articles[0]["title"], "First Post");
    let second = &articles[1];
    assert_eq!(second["title"], "Second Post");
    assert_eq!(second["status"], "DRAFT");
    assert_eq!(second["canonicalUrl"], "https://blog.example.com/second");
    assert_eq!(second["tagList"], json!(["rust", "webdev"]));
    let body = second["bodyMarkdown"].as_str().unwrap();
    assert!(body.contains("## About Second Post"), "{body}");
    assert!(
        body.contains("*words*") || body.contains("_words_"),
        "{body}"
    );
    assert!(body.contains("[a link](https://example.com/x)"), "{body}");
    assert!(!body.contains("alert"), "{body}");

    // The next fetch sends the ETag and is answered 304: nothing new.
    fetch_all(&app).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].headers.get("if-none-match").unwrap(), "\"v1\"");
    assert_eq!(sources(&app, &ada).await[0]["lastError"], Value::Null);

    // The feed changes: one entry repeated, one already written here, one new.
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            rss(&[
                (
                    "a-2",
                    "Second Post, edited",
                    "https://blog.example.com/second",
                ),
                ("a-3", "Third Post", "https://blog.example.com/third"),
                ("a-4", "Fourth Post", "https://blog.example.com/fourth"),
            ]),
            "application/rss+xml",
        ))
        .mount(&server)
        .await;
    fetch_all(&app).await;
    fetch_all(&app).await;
    let titles: Vec<String> = sources(&app, &ada).await[0]["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Fourth Post", "First Post", "Second Post"]);
    assert_eq!(
        app.count("SELECT count(*) FROM articles").await,
        4,
        "three imported once each, and hers"
    );

    // An entry with neither a GUID nor a link is known again by its title.
    let anonymous = "<rss version=\"2.0\"><channel><title>t</title><item><title>No Id</title><description>x</description></item></channel></rss>";
    Mock::given(method("GET"))
        .and(path("/anonymous.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(anonymous, "application/rss+xml"))
        .mount(&server)
        .await;
    app.ok(
        Some(&ada),
        ADD,
        json!({ "i": { "url": format!("{}/anonymous.xml", server.uri()) } }),
    )
    .await;
    app.drain_jobs().await;
    fetch_all(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM articles WHERE title = 'No Id'")
            .await,
        1
    );

    // The same feed twice is refused; another member may import it too.
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            ADD,
            json!({ "i": { "url": format!("{}/feed.xml", server.uri()) } }),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "url"));
}

#[tokio::test]
async fn published_imports_keep_their_dates_and_go_live() {
    let server = MockServer::start().await;
    let atom = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
        <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Atom Blog</title><id>urn:blog</id>\
        <updated>2026-10-01T09:00:00Z</updated>\
        <entry><id>urn:e1</id><title>From Atom</title><updated>2026-10-01T09:00:00Z</updated>\
        <published>2026-10-01T09:00:00Z</published>\
        <link rel=\"alternate\" href=\"https://atom.example.com/e1\"/>\
        <content type=\"html\">&lt;p&gt;Hello &lt;code&gt;atom&lt;/code&gt;&lt;/p&gt;</content></entry></feed>";
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(atom, "application/atom+xml"))
        .mount(&server)
        .await;
    let app = app().await;
    let ada = app.member("ada").await;
    // A new member's imports wait as drafts.
    let bob = app.member("bob").await;
    app.ok(
        Some(&bob),
        ADD,
        json!({ "i": { "url": format!("{}/atom", server.uri()), "publish": "PUBLISH" } }),
    )
    .await;
    app.drain_jobs().await;
    assert_eq!(
        sources(&app, &bob).await[0]["articles"][0]["status"],
        "DRAFT"
    );
    app.age_member("ada").await;
    app.ok(
        Some(&ada),
        ADD,
        json!({ "i": { "url": format!("{}/atom", server.uri()), "publish": "PUBLISH", "markCanonical": false } }),
    )
    .await;
    app.drain_jobs().await;
    let listed = sources(&app, &ada).await;
    let article = &listed[0]["articles"][0];
    assert_eq!(article["status"], "PUBLISHED", "{listed:?}");
    assert_eq!(article["publishedAt"], "2026-10-01T09:00:00+00:00");
    assert_eq!(article["canonicalUrl"], Value::Null);
    assert!(article["bodyMarkdown"].as_str().unwrap().contains("`atom`"));
    // It is live for readers.
    let latest = app
        .ok(
            None,
            "{ feed(type: LATEST, first: 5) { nodes { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(latest["feed"]["nodes"][0]["title"], "From Atom");
}

#[tokio::test]
async fn hostile_feeds_fail_their_own_fetch_and_harm_nothing() {
    let server = MockServer::start().await;
    let good = rss(&[("g-1", "Good Entry", "https://good.example.com/1")]);
    Mock::given(path("/good"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(good, "application/rss+xml"))
        .mount(&server)
        .await;
    // Larger than the limit (64 KiB here).
    Mock::given(path("/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!("<rss><channel>{}</channel></rss>", "x".repeat(200_000)),
            "application/rss+xml",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/malformed"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<rss><channel><item>", "text/xml"))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(rss(&[]), "application/rss+xml")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    // A billion laughs: nested entities that would expand to gigabytes.
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    laughs.push_str("]><rss version=\"2.0\"><channel><title>&lol9;</title><item><guid>l</guid><title>&lol9;</title><description>&lol9;</description></item></channel></rss>");
    Mock::given(path("/laughs"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(laughs, "application/rss+xml"))
        .mount(&server)
        .await;
    // HTML nested 5,000 elements deep inside an entry.
    let deep = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><guid>d</guid><title>Deep</title><description><![CDATA[{}bottom{}]]></description></item></channel></rss>",
        "<div>".repeat(5_000),
        "</div>".repeat(5_000)
    );
    Mock::given(path("/deep"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(deep, "application/rss+xml"))
        .mount(&server)
        .await;

    let app = app().await;
    let ada = app.member("ada").await;
    for name in [
        "huge",
        "malformed",
        "slow",
        "loop",
        "laughs",
        "deep",
        "good",
    ] {
        app.ok(
            Some(&ada),
            ADD,
            json!({ "i": { "url": format!("{}/{name}", server.uri()) } }),
        )
        .await;
    }
    app.drain_jobs().await;
    let listed = sources(&app, &ada).await;
    let of = |name: &str| {
        listed
            .iter()
            .find(|s| s["url"].as_str().unwrap().ends_with(&format!("/{name}")))
            .unwrap()
            .clone()
    };
    let error = |name: &str| of(name)["lastError"].as_str().unwrap_or("").to_owned();
    assert!(error("huge").contains("larger than"), "{}", error("huge"));
    assert!(
        error("malformed").contains("did not give an RSS"),
        "{}",
        error("malformed")
    );
    assert!(
        error("slow").contains("no answer within"),
        "{}",
        error("slow")
    );
    assert!(error("loop").contains("redirect"), "{}", error("loop"));
    // The laughs are not expanded: an error, or an entry holding the entity unexpanded.
    let laughs = of("laughs");
    let made: usize = laughs["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["bodyMarkdown"].as_str().unwrap().len() + a["title"].as_str().unwrap().len())
        .sum();
    assert!(made < 10_000, "no expansion: {made} bytes");
    assert!(
        laughs["lastError"].is_string() || !laughs["articles"].as_array().unwrap().is_empty(),
        "{laughs}"
    );
    // The deep entry became an article with its text.
    let deep = of("deep");
    assert_eq!(deep["lastError"], Value::Null, "{deep}");
    assert_eq!(deep["articles"][0]["bodyMarkdown"], "bottom");
    // And the good feed, fetched beside them, was imported.
    assert_eq!(of("good")["articles"][0]["title"], "Good Entry");
    assert_eq!(error("good"), "");

    // Private addresses are refused when added (here only loopback is let through).
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            ADD,
            json!({ "i": { "url": "http://10.1.2.3/feed.xml" } }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "url"),
        "{body}"
    );
    // An address too long to keep is refused, not stored (it would not fit the index).
    let (_, body) = app
        .graphql_as(
            Some(&ada),
            ADD,
            json!({ "i": { "url": format!("{}/{}", server.uri(), "x".repeat(3_000)) } }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "url"),
        "{body}"
    );
    // At most ten sources.
    for n in 0..4 {
        let (_, body) = app
            .graphql_as(
                Some(&ada),
                ADD,
                json!({ "i": { "url": format!("{}/more{n}", server.uri()) } }),
            )
            .await;
        if n < 3 {
            assert!(
                body["data"]["addFeedSource"]["userErrors"]
                    .as_array()
                    .unwrap()
                    .is_empty(),
                "{body}"
            );
        } else {
            assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        }
    }
    // Removing a source keeps its articles.
    let good = of("good")["id"].clone();
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { removeFeedSource(input: { id: $id }) { userErrors { field message code } removedFeedSourceId } }",
        json!({ "id": good }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM articles WHERE title = 'Good Entry'")
            .await,
        1
    );
}
