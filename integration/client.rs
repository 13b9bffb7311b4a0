//! What a client builds on: closed sets as enums, the configured reaction categories,
//! absolute URLs.

use serde_json::json;

use crate::helpers::{Options, spawn_app_with};

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
            "mutation { createArticle(input: { title: \"Absolute URLs\", bodyMarkdown: \"Text.\", tags: [\"rust\"], published: true }) { id url path author { url path } tags { url path } } }",
            json!({}),
        )
        .await;
    let article = &data["createArticle"];
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
            "mutation($a: ID!) { createComment(articleId: $a, bodyMarkdown: \"Hi\") { id url } }",
            json!({ "a": article["id"] }),
        )
        .await;
    let comment = &data["createComment"];
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
            "mutation { createArticle(input: { title: \"Enums\", bodyMarkdown: \"Text.\", published: true }) { id } }",
            json!({}),
        )
        .await;
    let article = data["createArticle"]["id"].clone();
    let report = app
        .ok(
            Some(&bob),
            "mutation($s: ID!) { report(subjectId: $s, category: PLAGIARISM) { id category status action subjectType } }",
            json!({ "s": article }),
        )
        .await;
    let report = &report["report"];
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
            "mutation($r: ID!) { resolveReport(id: $r, action: DISMISS) { status action } }",
            json!({ "r": report["id"] }),
        )
        .await;
    assert_eq!(
        resolved["resolveReport"],
        json!({ "status": "DISMISSED", "action": "DISMISS" })
    );

    let (status, body) = app
        .upload(
            Some(&ada),
            "mutation($file: Upload!) { uploadImage(file: $file, purpose: AVATAR) { purpose } }",
            json!({ "file": null }),
            "file",
            "a.png",
            crate::uploads::png(400, 400),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["uploadImage"]["purpose"], "AVATAR", "{body}");
}
