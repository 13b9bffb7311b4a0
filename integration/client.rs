//! What a client builds on: closed sets as enums, the configured reaction categories,
//! absolute URLs.

use serde_json::json;

use crate::helpers::{Options, TestApp, spawn_app_with, spawn_counting_app};

#[tokio::test]
async fn reaction_categories_are_listed_as_configured_with_what_the_viewer_may_use() {
    let app = spawn_app_with(Options::default(), |s| {
        s.reactions[0].label = Some("Heart".to_owned());
    })
    .await;
    let ada = app.member("ada").await;
    let query = "{ reactionCategories { name label public privileged viewerCanUse } }";
    let find = |data: &serde_json::Value, name: &str| {
        data["reactionCategories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {data}"))
    };

    let anonymous = app.ok(None, query, json!({})).await;
    let names: Vec<&str> = anonymous["reactionCategories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &names[..3],
        ["like", "unicorn", "exploding_head"],
        "the configured order"
    );
    assert_eq!(
        find(&anonymous, "like"),
        json!({ "name": "like", "label": "Heart", "public": true, "privileged": false, "viewerCanUse": false })
    );
    assert_eq!(
        find(&anonymous, "exploding_head")["label"],
        "Exploding head"
    );
    assert_eq!(
        find(&anonymous, "readinglist"),
        json!({ "name": "readinglist", "label": "Reading list", "public": false, "privileged": false, "viewerCanUse": false })
    );
    assert_eq!(find(&anonymous, "thumbsup")["privileged"], true);

    let member = app.ok(Some(&ada), query, json!({})).await;
    assert_eq!(find(&member, "like")["viewerCanUse"], true);
    assert_eq!(find(&member, "thumbsup")["viewerCanUse"], false);
    let dan = app.member("dan").await;
    app.set_role("dan", "trusted").await;
    let trusted = app.ok(Some(&dan), query, json!({})).await;
    assert_eq!(find(&trusted, "thumbsup")["viewerCanUse"], true);
}

#[tokio::test]
async fn articles_comments_members_and_tags_carry_absolute_urls_that_open() {
    let app = spawn_app_with(Options::default(), |s| {
        s.app_domain = "community.test".to_owned();
    })
    .await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let data = app
        .ok(
            Some(&ada),
            "mutation { createArticle(input: { title: \"Absolute URLs\", bodyMarkdown: \"Text.\", tags: [\"rust\"], published: true }) { userErrors { field message code } article { id url path author { url path } tags { url path } } } }",
            json!({}),
        )
        .await;
    let article = &data["createArticle"]["article"];
    let path = article["path"].as_str().unwrap();
    assert!(path.starts_with("/ada/absolute-urls"), "{data}");
    assert_eq!(article["url"], format!("http://community.test{path}"));
    assert_eq!(article["author"]["url"], "http://community.test/ada");
    assert_eq!(article["tags"][0]["url"], "http://community.test/t/rust");
    for path in [
        &article["path"],
        &article["author"]["path"],
        &article["tags"][0]["path"],
    ] {
        let response = app.get(path.as_str().unwrap()).await;
        assert_eq!(response.status(), 200, "{path}");
    }

    let data = app
        .ok(
            Some(&bob),
            "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Hi\" }) { userErrors { field message code } comment { id url } } }",
            json!({ "a": article["id"] }),
        )
        .await;
    let comment = &data["createComment"]["comment"];
    let id = comment["id"].as_str().unwrap();
    assert_eq!(
        comment["url"],
        format!("http://community.test{path}#comment-{id}")
    );
    let page = app.get(path).await.text().await.unwrap();
    assert!(
        page.contains(&format!("id=\"comment-{id}\"")),
        "the permalink's anchor is on the page"
    );
}

#[tokio::test]
async fn reports_and_images_answer_closed_sets_as_enums() {
    let app = spawn_app_with(Options::default(), |_| {}).await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cleo = app.member("cleo").await;
    app.set_role("cleo", "moderator").await;
    let data = app
        .ok(
            Some(&ada),
            "mutation { createArticle(input: { title: \"Enums\", bodyMarkdown: \"Text.\", published: true }) { userErrors { field message code } article { id } } }",
            json!({}),
        )
        .await;
    let article = data["createArticle"]["article"]["id"].clone();
    let report = app
        .ok(
            Some(&bob),
            "mutation($s: ID!) { report(input: { subjectId: $s, category: PLAGIARISM }) { userErrors { field message code } report { id category status action subjectType } } }",
            json!({ "s": article }),
        )
        .await;
    let report = &report["report"]["report"];
    assert_eq!(
        (
            &report["category"],
            &report["status"],
            &report["action"],
            &report["subjectType"]
        ),
        (
            &json!("PLAGIARISM"),
            &json!("OPEN"),
            &json!(null),
            &json!("ARTICLE")
        )
    );
    let resolved = app
        .ok(
            Some(&cleo),
            "mutation($r: ID!) { resolveReport(input: { id: $r, action: DISMISS }) { userErrors { field message code } report { status action } } }",
            json!({ "r": report["id"] }),
        )
        .await;
    assert_eq!(
        resolved["resolveReport"]["report"],
        json!({ "status": "DISMISSED", "action": "DISMISS" })
    );

    let (status, body) = app
        .upload(
            Some(&ada),
            "mutation($file: Upload!) { uploadImage(input: { file: $file, purpose: AVATAR }) { userErrors { field message code } image { purpose } } }",
            json!({ "file": null }),
            "file",
            "a.png",
            crate::uploads::png(400, 400),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["uploadImage"]["image"]["purpose"], "AVATAR",
        "{body}"
    );
}

/// Runs `query` (a connection at `pointer`, paged by `$first`) with room for every item,
/// then one item at a time: `totalCount` is the whole list's length both times.
async fn check_total(app: &TestApp, token: Option<&str>, query: &str, pointer: &str) -> i64 {
    let all = app.ok(token, query, json!({ "first": 100 })).await;
    let connection = all
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer}: {all}"));
    let rows = connection["edges"].as_array().unwrap().len();
    assert_eq!(connection["totalCount"], rows, "{query}: {all}");
    let one = app.ok(token, query, json!({ "first": 1 })).await;
    assert_eq!(
        one.pointer(pointer).unwrap()["totalCount"],
        rows,
        "{query}: {one}"
    );
    i64::try_from(rows).unwrap()
}

#[tokio::test]
async fn every_counted_connection_answers_the_length_of_its_whole_list() {
    let app = spawn_counting_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cleo = app.member("cleo").await;
    app.set_role("cleo", "admin").await;
    for name in ["ada", "bob"] {
        app.age_member(name).await;
    }
    let create = "mutation($t: String!, $p: Boolean!) { createArticle(input: { title: $t, bodyMarkdown: \"Text.\", tags: [\"rust\"], published: $p }) { userErrors { field message code } article { id } } }";
    let mut articles = Vec::new();
    for (title, published) in [
        ("One", true),
        ("Two", true),
        ("Three", true),
        ("Draft", false),
    ] {
        let data = app
            .ok(Some(&ada), create, json!({ "t": title, "p": published }))
            .await;
        articles.push(
            data["createArticle"]["article"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { unpublishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": articles[2] }),
    )
    .await;
    let ada_id = app
        .ok(None, "{ user(username: \"ada\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    let rust = app
        .ok(None, "{ tag(name: \"rust\") { id } }", json!({}))
        .await["tag"]["id"]
        .clone();
    for (token, target) in [(&bob, &ada_id), (&cleo, &ada_id), (&bob, &rust)] {
        app.ok(
            Some(token),
            "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
            json!({ "id": target }),
        )
        .await;
    }
    let comment = "mutation($a: ID!, $p: ID, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
    let root = app
        .ok(
            Some(&bob),
            comment,
            json!({ "a": articles[0], "b": "First" }),
        )
        .await["createComment"]["comment"]["id"]
        .clone();
    app.ok(
        Some(&bob),
        comment,
        json!({ "a": articles[0], "b": "Second" }),
    )
    .await;
    app.ok(
        Some(&cleo),
        comment,
        json!({ "a": articles[0], "p": root, "b": "Reply" }),
    )
    .await;
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"readinglist\" }) { userErrors { field message code } reacted } }",
        json!({ "id": articles[1] }),
    )
    .await;
    app.ok(
        Some(&bob),
        "mutation($s: ID!) { report(input: { subjectId: $s, category: SPAM }) { userErrors { field message code } report { id } } }",
        json!({ "s": articles[0] }),
    )
    .await;
    app.drain_jobs().await;

    let page = "first: $first) { totalCount edges { cursor } }";
    let first_article = &articles[0];
    let cases: Vec<(Option<&str>, String, &str, Option<i64>)> = vec![
        (
            None,
            format!("query($first: Int) {{ user(username: \"ada\") {{ articles({page} }} }}"),
            "/user/articles",
            Some(2),
        ),
        (
            None,
            format!("query($first: Int) {{ user(username: \"ada\") {{ followers({page} }} }}"),
            "/user/followers",
            Some(2),
        ),
        (
            None,
            format!("query($first: Int) {{ user(username: \"bob\") {{ following({page} }} }}"),
            "/user/following",
            Some(1),
        ),
        (
            None,
            format!("query($first: Int) {{ user(username: \"bob\") {{ followedTags({page} }} }}"),
            "/user/followedTags",
            Some(1),
        ),
        (
            None,
            format!("query($first: Int) {{ tag(name: \"rust\") {{ articles({page} }} }}"),
            "/tag/articles",
            Some(2),
        ),
        (
            None,
            format!("query($first: Int) {{ articles({page} }}"),
            "/articles",
            Some(2),
        ),
        (
            None,
            format!("query($first: Int) {{ tags({page} }}"),
            "/tags",
            None,
        ),
        (
            None,
            format!("query($first: Int) {{ feed(type: LATEST, {page} }}"),
            "/feed",
            Some(2),
        ),
        (
            Some(bob.as_str()),
            format!("query($first: Int) {{ feed(type: FOLLOWING, {page} }}"),
            "/feed",
            Some(2),
        ),
        (
            None,
            format!(
                "query($first: Int) {{ node(id: \"{first_article}\") {{ ... on Article {{ comments({page} }} }} }}"
            ),
            "/node/comments",
            Some(2),
        ),
        (
            None,
            format!(
                "query($first: Int) {{ node(id: \"{root}\") {{ ... on Comment {{ replies({page} }} }} }}",
                root = root.as_str().unwrap()
            ),
            "/node/replies",
            Some(1),
        ),
        (
            Some(bob.as_str()),
            format!("query($first: Int) {{ viewer {{ readingList({page} }} }}"),
            "/viewer/readingList",
            Some(1),
        ),
        (
            Some(ada.as_str()),
            format!("query($first: Int) {{ viewer {{ articles({page} }} }}"),
            "/viewer/articles",
            Some(4),
        ),
        (
            Some(ada.as_str()),
            format!("query($first: Int) {{ viewer {{ notifications({page} }} }}"),
            "/viewer/notifications",
            None,
        ),
        (
            Some(cleo.as_str()),
            format!("query($first: Int) {{ reports({page} }}"),
            "/reports",
            Some(1),
        ),
        (
            Some(cleo.as_str()),
            format!("query($first: Int) {{ auditLog({page} }}"),
            "/auditLog",
            None,
        ),
    ];
    for (token, query, pointer, expected) in &cases {
        let rows = check_total(&app, *token, query, pointer).await;
        if let Some(expected) = expected {
            assert_eq!(rows, *expected, "{query}");
        }
    }

    // Counting is paid for only when asked, and nested lists are counted together.
    let thread = format!(
        "{{ node(id: \"{first_article}\") {{ ... on Article {{ comments {{ edges {{ node {{ replies {{ edges {{ cursor }} TOTAL }} }} }} }} }} }} }}"
    );
    let statements = |query: String| {
        let app = &app;
        async move {
            let before = app.statements();
            app.ok(None, &query, json!({})).await;
            app.statements() - before
        }
    };
    let without = statements(thread.replace("TOTAL", "")).await;
    let with = statements(thread.replace("TOTAL", "totalCount")).await;
    assert_eq!(
        with,
        without + 1,
        "one statement counts the replies of every comment"
    );
    let list = "{ articles(first: 5) { edges { cursor } TOTAL } }";
    let without = statements(list.replace("TOTAL", "")).await;
    let with = statements(list.replace("TOTAL", "a: totalCount b: totalCount")).await;
    assert_eq!(
        with,
        without + 1,
        "a count runs once, and only when selected"
    );
}

#[tokio::test]
async fn private_lists_hang_under_viewer() {
    let app = spawn_app_with(Options::default(), |_| {}).await;
    let ada = app.member("ada").await;
    app.member("bob").await;
    app.member("cleo").await;
    app.age_member("ada").await;

    for name in ["first.png", "second.png"] {
        let (status, body) = app
            .upload(
                Some(&ada),
                "mutation($file: Upload!) { uploadImage(input: { file: $file }) { userErrors { field message code } image { id } } }",
                json!({ "file": null }),
                "file",
                name,
                crate::uploads::png(8, 8),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let images = app
        .ok(
            Some(&ada),
            "{ viewer { images { totalCount edges { node { id createdAt } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(images["viewer"]["images"]["totalCount"], 2, "{images}");
    let edges = images["viewer"]["images"]["edges"].as_array().unwrap();
    assert!(edges[0]["node"]["createdAt"].as_str() >= edges[1]["node"]["createdAt"].as_str());

    for name in ["bob", "cleo"] {
        let id = app
            .ok(
                None,
                "query($u: String!) { user(username: $u) { id } }",
                json!({ "u": name }),
            )
            .await["user"]["id"]
            .clone();
        app.ok(
            Some(&ada),
            "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
            json!({ "id": id }),
        )
        .await;
    }
    let blocked = "{ viewer { blockedMembers { totalCount edges { node { username } } } } }";
    let data = app.ok(Some(&ada), blocked, json!({})).await;
    assert_eq!(
        data["viewer"]["blockedMembers"],
        json!({ "totalCount": 2, "edges": [
            { "node": { "username": "cleo" } },
            { "node": { "username": "bob" } },
        ] })
    );

    let create = "mutation($t: String!, $p: Boolean!) { createArticle(input: { title: $t, bodyMarkdown: \"Text.\", published: $p }) { userErrors { field message code } article { id } } }";
    app.ok(Some(&ada), create, json!({ "t": "Kept back", "p": false }))
        .await;
    app.ok(Some(&ada), create, json!({ "t": "Out there", "p": true }))
        .await;
    let mine = "query($s: ArticleStatus) { viewer { articles(status: $s) { totalCount edges { node { title status } } } } }";
    for (status, title) in [("DRAFT", "Kept back"), ("PUBLISHED", "Out there")] {
        let data = app.ok(Some(&ada), mine, json!({ "s": status })).await;
        assert_eq!(
            data["viewer"]["articles"],
            json!({ "totalCount": 1, "edges": [{ "node": { "title": title, "status": status } }] })
        );
    }
    let all = app.ok(Some(&ada), mine, json!({})).await;
    assert_eq!(all["viewer"]["articles"]["totalCount"], 2);

    let data = app
        .ok(
            Some(&ada),
            "{ viewer { unreadNotificationsCount mutedNotifications notifications { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"],
        json!({ "unreadNotificationsCount": 0, "mutedNotifications": [], "notifications": { "totalCount": 0 } })
    );
}

#[tokio::test]
async fn capabilities_tell_a_client_which_controls_to_show() {
    let app = spawn_counting_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    let cleo = app.member("cleo").await;
    let eve = app.member("eve").await;
    let dan = app.member("dan").await;
    app.set_role("cleo", "moderator").await;
    app.set_role("dan", "suspended").await;
    let create = "mutation($t: String!, $p: Boolean!) { createArticle(input: { title: $t, bodyMarkdown: \"Text.\", published: $p }) { userErrors { field message code } article { id } } }";
    let article = app
        .ok(Some(&ada), create, json!({ "t": "Capable", "p": true }))
        .await["createArticle"]["article"]["id"]
        .clone();
    let draft = app
        .ok(Some(&ada), create, json!({ "t": "Not yet", "p": false }))
        .await["createArticle"]["article"]["id"]
        .clone();
    app.ok(
        Some(&bob),
        "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"Hi\" }) { userErrors { field message code } comment { id } } }",
        json!({ "a": article }),
    )
    .await;
    app.ok(
        Some(&bob),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"readinglist\" }) { userErrors { field message code } reacted } }",
        json!({ "id": article }),
    )
    .await;
    let eve_id = app
        .ok(None, "{ user(username: \"eve\") { id } }", json!({}))
        .await["user"]["id"]
        .clone();
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": eve_id }),
    )
    .await;

    let query = "query($id: ID!) { node(id: $id) { ... on Article { viewerCanUpdate viewerCanDelete viewerCanComment viewerCanReact viewerHasBookmarked comments { edges { node { viewerCanUpdate viewerCanDelete viewerCanComment viewerCanReact } } } } } }";
    let seen = |token: Option<String>| {
        let (app, article) = (&app, article.clone());
        async move {
            let data = app
                .ok(token.as_deref(), query, json!({ "id": article }))
                .await;
            let a = &data["node"];
            let c = &a["comments"]["edges"][0]["node"];
            let flags = |v: &serde_json::Value, names: &[&str]| -> Vec<bool> {
                names.iter().map(|n| v[*n].as_bool().unwrap()).collect()
            };
            (
                flags(
                    a,
                    &[
                        "viewerCanUpdate",
                        "viewerCanDelete",
                        "viewerCanComment",
                        "viewerCanReact",
                        "viewerHasBookmarked",
                    ],
                ),
                flags(
                    c,
                    &[
                        "viewerCanUpdate",
                        "viewerCanDelete",
                        "viewerCanComment",
                        "viewerCanReact",
                    ],
                ),
            )
        }
    };
    // (article: update, delete, comment, react, bookmarked), (comment: update, delete, reply, react)
    let expected = [
        (
            "nobody",
            None,
            [false, false, false, false, false],
            [false, false, false, false],
        ),
        (
            "the author",
            Some(ada.clone()),
            [true, true, true, true, false],
            [false, false, true, true],
        ),
        (
            "the commenter",
            Some(bob.clone()),
            [false, false, true, true, true],
            [true, true, true, true],
        ),
        (
            "a moderator",
            Some(cleo.clone()),
            [false, false, true, true, false],
            [false, true, true, true],
        ),
        (
            "a member the author blocked",
            Some(eve.clone()),
            [false, false, false, true, false],
            [false, false, false, true],
        ),
        (
            "a suspended member",
            Some(dan.clone()),
            [false, false, false, false, false],
            [false, false, false, false],
        ),
    ];
    for (who, token, article_flags, comment_flags) in expected {
        assert_eq!(
            seen(token).await,
            (article_flags.to_vec(), comment_flags.to_vec()),
            "{who}"
        );
    }
    let data = app
        .ok(
            Some(&ada),
            "query($id: ID!) { node(id: $id) { ... on Article { viewerCanUpdate viewerCanComment viewerCanReact } } }",
            json!({ "id": draft }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({ "viewerCanUpdate": true, "viewerCanComment": false, "viewerCanReact": false }),
        "a draft is edited, not answered"
    );
    let blocked = "{ user(username: \"eve\") { viewerHasBlocked } }";
    assert_eq!(
        app.ok(Some(&ada), blocked, json!({})).await["user"]["viewerHasBlocked"],
        true
    );
    assert_eq!(
        app.ok(Some(&bob), blocked, json!({})).await["user"]["viewerHasBlocked"],
        false
    );

    // Every capability of a page comes from what the request loads anyway, plus one
    // statement for the blocks between the viewer and the authors.
    let bare = "query($id: ID!) { node(id: $id) { ... on Article { title comments { edges { node { id } } } } } }";
    let counted = |query: &'static str| {
        let (app, bob, article) = (&app, bob.clone(), article.clone());
        async move {
            let before = app.statements();
            app.ok(Some(&bob), query, json!({ "id": article })).await;
            app.statements() - before
        }
    };
    let without = counted(bare).await;
    let with = counted(query).await;
    assert_eq!(
        with,
        without + 2,
        "the blocks and the viewer's reactions, once each"
    );
}

#[tokio::test]
async fn series_are_nodes_with_a_slug_a_description_and_their_articles_in_order() {
    let app = spawn_app_with(Options::default(), |_| {}).await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;
    app.age_member("ada").await;
    let create = "mutation($t: String!, $s: String!, $p: Boolean!) { createArticle(input: { title: $t, bodyMarkdown: \"Text.\", series: $s, published: $p }) { userErrors { field message code } article { id } } }";
    for (title, published) in [
        ("Part one", true),
        ("Part two", true),
        ("Part three", false),
    ] {
        app.ok(
            Some(&ada),
            create,
            json!({ "t": title, "s": "Rust Notes", "p": published }),
        )
        .await;
    }
    app.ok(
        Some(&ada),
        create,
        json!({ "t": "Elsewhere", "s": "Go Notes", "p": true }),
    )
    .await;
    app.ok(
        Some(&ada),
        create,
        json!({ "t": "Plans", "s": "Secret Plans", "p": false }),
    )
    .await;
    // A series named only by drafts is its author's to see.
    let own = app
        .ok(
            Some(&ada),
            "{ viewer { user { series { totalCount edges { node { id title } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(own["viewer"]["user"]["series"]["totalCount"], 3, "{own}");
    let secret = own["viewer"]["user"]["series"]["edges"][0]["node"].clone();
    assert_eq!(secret["title"], "Secret Plans", "newest first");
    let peek = app
        .ok(
            Some(&bob),
            "query($id: ID!) { node(id: $id) { id } series(id: $id) { id } }",
            json!({ "id": secret["id"] }),
        )
        .await;
    assert_eq!(peek, json!({ "node": null, "series": null }));

    let mine = "{ user(username: \"ada\") { series { totalCount edges { node { id slug title description author { username } articles { title } } } } } }";
    let data = app.ok(None, mine, json!({})).await;
    let list = &data["user"]["series"];
    assert_eq!(list["totalCount"], 2, "{data}");
    let rust = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["title"] == "Rust Notes")
        .unwrap()
        .clone();
    assert!(
        rust["slug"].as_str().unwrap().starts_with("rust-notes-"),
        "{rust}"
    );
    assert_eq!(rust["author"]["username"], "ada");
    assert_eq!(
        rust["articles"],
        json!([{ "title": "Part one" }, { "title": "Part two" }]),
        "live parts, in publication order"
    );
    let id = rust["id"].clone();
    let refetched = app
        .ok(
            None,
            "query($id: ID!) { node(id: $id) { __typename ... on Series { title } } series(id: $id) { title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        refetched,
        json!({ "node": { "__typename": "Series", "title": "Rust Notes" }, "series": { "title": "Rust Notes" } })
    );

    let update = "mutation($id: ID!, $t: String, $d: String) { updateSeries(input: { id: $id, title: $t, description: $d }) { userErrors { field message code } series { title slug description } } }";
    let data = app
        .ok(
            Some(&ada),
            update,
            json!({ "id": id, "t": "Rust Field Notes", "d": "What I learn." }),
        )
        .await;
    assert_eq!(
        data["updateSeries"]["series"],
        json!({ "title": "Rust Field Notes", "slug": rust["slug"], "description": "What I learn." }),
        "the slug stays"
    );
    app.fails(
        Some(&bob),
        update,
        json!({ "id": id, "d": "Mine now" }),
        "NOT_FOUND",
    )
    .await;
    let go = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["title"] == "Go Notes")
        .unwrap()["node"]["id"]
        .clone();
    app.fails_on(
        Some(&ada),
        update,
        json!({ "id": go, "t": "Rust Field Notes" }),
        ("BAD_USER_INPUT", "title"),
    )
    .await;
}
