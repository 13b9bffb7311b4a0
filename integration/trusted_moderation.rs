//! Moderation people can trust: tag moderators and their limits, timed suspensions and
//! comment bans that lift themselves, warnings and private notes, locked discussions, and
//! the public moderation log.

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, message, spawn_app, spawn_app_with};

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id tagList } } }";
const UPDATE: &str = "mutation($i: UpdateArticleInput!) { updateArticle(input: $i) { userErrors { field message code } article { id } } }";
const COMMENT: &str = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }";
const RETAG: &str = "mutation($id: ID!, $t: [String!]!) { moderateArticleTags(input: { id: $id, tags: $t, reason: \"off topic\" }) { userErrors { field message code } article { tagList } } }";
const HIDE: &str = "mutation($id: ID!, $a: CommentModeration!) { moderateComment(input: { id: $id, action: $a, reason: \"rude\" }) { userErrors { field message code } comment { id } } }";
const UPDATE_TAG: &str = "mutation($i: UpdateTagInput!) { updateTag(input: $i) { userErrors { field message code } tag { name rules rulesHtml aliases color moderators { username } } } }";
const APPOINT: &str = "mutation($t: String!, $u: ID!) { appointTagModerator(input: { tag: $t, userId: $u }) { userErrors { field message code } tag { moderators { username } } } }";
const REPORT: &str = "mutation($id: ID!) { report(input: { subjectId: $id, category: SPAM }) { userErrors { field message code } report { id } } }";
const REPORTS: &str = "{ reports { totalCount edges { node { id subjectId snapshotTitle snapshotBody reporter { username } } } } }";
const RESOLVE: &str = "mutation($id: ID!, $a: ModerationAction!) { resolveReport(input: { id: $id, action: $a }) { userErrors { field message code } report { status } } }";
const SUSPEND: &str = "mutation($id: ID!, $u: DateTime) { suspendMember(input: { id: $id, reason: \"cool off\", until: $u }) { userErrors { field message code } user { username } } }";
const BAN: &str = "mutation($id: ID!, $u: DateTime) { banFromCommenting(input: { id: $id, reason: \"flame wars\", until: $u }) { userErrors { field message code } user { username } } }";
const STANDING: &str = "{ viewer { standing { suspended suspendedReason suspendedUntil commentBanned commentBanReason commentBannedUntil } warnings { reason } } }";
const LOCK: &str = "mutation($id: ID!, $r: String!) { lockDiscussion(input: { id: $id, reason: $r }) { userErrors { field message code } article { discussionLockedAt discussionLockReason } } }";
const UNLOCK: &str = "mutation($id: ID!) { unlockDiscussion(input: { id: $id, reason: \"calmer now\" }) { userErrors { field message code } article { discussionLockedAt } } }";
const MODLOG: &str = "{ modlog(first: 50) { totalCount edges { node { action subjectType reason automatic expiresAt moderator { username } } } } }";

async fn article(app: &TestApp, token: &str, title: &str, tags: &[&str]) -> String {
    app.ok(
        Some(token),
        CREATE,
        json!({ "i": { "title": title, "bodyMarkdown": "Body", "published": true, "tags": tags } }),
    )
    .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(app: &TestApp, token: &str, article: &str) -> String {
    app.ok(
        Some(token),
        COMMENT,
        json!({ "a": article, "b": "a comment" }),
    )
    .await["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn user_id(app: &TestApp, username: &str) -> Value {
    app.ok(
        None,
        "query($u: String!) { user(username: $u) { id } }",
        json!({ "u": username }),
    )
    .await["user"]["id"]
        .clone()
}

fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn actions(log: &Value) -> Vec<String> {
    log["modlog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tag_moderators_act_within_their_tags_and_no_further() {
    let app = spawn_app().await;
    let admin = app.member("boss").await;
    app.set_role("boss", "admin").await;
    let keeper = app.member("keeper").await;
    let author = app.member("author").await;
    let reader = app.member("reader").await;
    let in_rust = article(&app, &author, "Ownership", &["rust", "beginners"]).await;
    let in_python = article(&app, &author, "Decorators", &["python"]).await;
    let rust_comment = comment(&app, &reader, &in_rust).await;
    let python_comment = comment(&app, &reader, &in_python).await;
    let keeper_id = user_id(&app, "keeper").await;

    // Only admins appoint.
    app.fails(
        Some(&keeper),
        APPOINT,
        json!({ "t": "rust", "u": keeper_id }),
        "FORBIDDEN",
    )
    .await;
    let appointed = app
        .ok(
            Some(&admin),
            APPOINT,
            json!({ "t": "rust", "u": keeper_id }),
        )
        .await;
    assert_eq!(
        appointed["appointTagModerator"]["tag"]["moderators"],
        json!([{ "username": "keeper" }])
    );

    // Tags: a tag moderator adds and removes their own tag, on live articles, and no other.
    let retagged = app
        .ok(
            Some(&keeper),
            RETAG,
            json!({ "id": in_python, "t": ["python", "rust"] }),
        )
        .await;
    assert_eq!(
        retagged["moderateArticleTags"]["article"]["tagList"],
        json!(["python", "rust"])
    );
    app.ok(
        Some(&keeper),
        RETAG,
        json!({ "id": in_python, "t": ["python"] }),
    )
    .await;
    for tags in [json!(["rust"]), json!(["rust", "beginners", "go"])] {
        app.fails(
            Some(&keeper),
            RETAG,
            json!({ "id": in_rust, "t": tags }),
            "FORBIDDEN",
        )
        .await;
    }
    let draft = app
        .ok(
            Some(&author),
            CREATE,
            json!({ "i": { "title": "Unfinished", "bodyMarkdown": "secret", "tags": ["rust"] } }),
        )
        .await["createArticle"]["article"]["id"]
        .clone();
    app.fails(
        Some(&keeper),
        RETAG,
        json!({ "id": draft, "t": [] }),
        "NOT_FOUND",
    )
    .await;

    // Comments: hide under the tag, not elsewhere; deleting is the instance's moderators'.
    app.ok(
        Some(&keeper),
        HIDE,
        json!({ "id": rust_comment, "a": "HIDE" }),
    )
    .await;
    app.fails(
        Some(&keeper),
        HIDE,
        json!({ "id": python_comment, "a": "HIDE" }),
        "FORBIDDEN",
    )
    .await;
    app.fails(
        Some(&keeper),
        HIDE,
        json!({ "id": rust_comment, "a": "DELETE" }),
        "FORBIDDEN",
    )
    .await;
    // What the instance's moderators hid, a tag moderator does not show again.
    let second = comment(&app, &author, &in_rust).await;
    app.ok(Some(&admin), HIDE, json!({ "id": second, "a": "HIDE" }))
        .await;
    app.fails(
        Some(&keeper),
        HIDE,
        json!({ "id": second, "a": "UNHIDE" }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&keeper),
        HIDE,
        json!({ "id": rust_comment, "a": "UNHIDE" }),
    )
    .await;
    app.ok(
        Some(&keeper),
        HIDE,
        json!({ "id": rust_comment, "a": "HIDE" }),
    )
    .await;
    // The article's author is not a moderator of anything.
    app.fails(
        Some(&author),
        HIDE,
        json!({ "id": python_comment, "a": "HIDE" }),
        "FORBIDDEN",
    )
    .await;

    // The tag itself: rules, aliases, colour.
    let updated = app
        .ok(
            Some(&keeper),
            UPDATE_TAG,
            json!({ "i": { "name": "rust", "rules": "Be **kind**.", "aliases": ["rustlang", "#RS"], "color": "#dea584" } }),
        )
        .await;
    let tag = &updated["updateTag"]["tag"];
    assert_eq!(tag["aliases"], json!(["rustlang", "rs"]));
    assert!(
        tag["rulesHtml"]
            .as_str()
            .unwrap()
            .contains("<strong>kind</strong>"),
        "{tag}"
    );
    app.fails(
        Some(&keeper),
        UPDATE_TAG,
        json!({ "i": { "name": "python", "description": "mine now" } }),
        "FORBIDDEN",
    )
    .await;
    // An alias cannot be another tag's name.
    app.fails_on(
        Some(&keeper),
        UPDATE_TAG,
        json!({ "i": { "name": "rust", "aliases": ["python"] } }),
        ("BAD_USER_INPUT", "aliases"),
    )
    .await;
    // Writing with an alias files the article under the tag.
    let aliased = app
        .ok(
            Some(&author),
            CREATE,
            json!({ "i": { "title": "Lifetimes", "bodyMarkdown": "x", "tags": ["rustlang", "rust"] } }),
        )
        .await;
    assert_eq!(
        aliased["createArticle"]["article"]["tagList"],
        json!(["rust"])
    );
    // The tag page shows the rules.
    let page = app.get("/t/rust").await.text().await.unwrap();
    assert!(page.contains("<strong>kind</strong>"), "{page}");

    // Reports: a tag moderator sees and handles those in their tags only, with a snapshot
    // of what was reported.
    let on_rust = app
        .ok(Some(&reader), REPORT, json!({ "id": in_rust }))
        .await["report"]["report"]["id"]
        .clone();
    app.ok(Some(&author), REPORT, json!({ "id": python_comment }))
        .await;
    // A report on the tag moderator's own comment, in their tag, is not theirs to handle.
    let own = comment(&app, &keeper, &in_rust).await;
    let on_own =
        app.ok(Some(&author), REPORT, json!({ "id": own })).await["report"]["report"]["id"].clone();
    app.ok(
        Some(&author),
        UPDATE,
        json!({ "i": { "id": in_rust, "title": "Ownership, edited", "bodyMarkdown": "Nothing to see" } }),
    )
    .await;
    let seen = app.ok(Some(&keeper), REPORTS, json!({})).await;
    assert_eq!(seen["reports"]["totalCount"], 1, "{seen}");
    let report = &seen["reports"]["edges"][0]["node"];
    assert_eq!(report["id"], on_rust);
    assert_eq!(report["snapshotTitle"], "Ownership");
    assert_eq!(report["snapshotBody"], "Body");
    // Who reported is for the instance's moderators.
    assert!(report["reporter"].is_null(), "{report}");
    let all = app.ok(Some(&admin), REPORTS, json!({})).await;
    assert_eq!(all["reports"]["totalCount"], 3, "{all}");
    app.fails(
        Some(&keeper),
        RESOLVE,
        json!({ "id": on_own, "a": "DISMISS" }),
        "NOT_FOUND",
    )
    .await;
    let python_report = all["reports"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["id"] != on_rust && e["node"]["id"] != on_own)
        .unwrap()["node"]["id"]
        .clone();
    app.fails(
        Some(&keeper),
        RESOLVE,
        json!({ "id": python_report, "a": "DISMISS" }),
        "NOT_FOUND",
    )
    .await;
    app.fails(
        Some(&keeper),
        RESOLVE,
        json!({ "id": on_rust, "a": "UNPUBLISH_ARTICLE" }),
        "FORBIDDEN",
    )
    .await;
    let resolved = app
        .ok(
            Some(&keeper),
            RESOLVE,
            json!({ "id": on_rust, "a": "DISMISS" }),
        )
        .await;
    assert_eq!(resolved["resolveReport"]["report"]["status"], "DISMISSED");
    // A member who moderates nothing sees no reports at all.
    app.fails(Some(&reader), REPORTS, json!({}), "FORBIDDEN")
        .await;

    // Dismissed, the moderator has no power left.
    app.ok(
        Some(&admin),
        "mutation($t: String!, $u: ID!) { dismissTagModerator(input: { tag: $t, userId: $u }) { userErrors { message } tag { moderators { username } } } }",
        json!({ "t": "rust", "u": keeper_id }),
    )
    .await;
    app.fails(
        Some(&keeper),
        RETAG,
        json!({ "id": in_rust, "t": ["beginners"] }),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn timed_suspensions_and_comment_bans_lift_themselves() {
    let app = spawn_app().await;
    let moderator = app.member("warden").await;
    app.set_role("warden", "moderator").await;
    let author = app.member("author").await;
    let reader = app.member("reader").await;
    let post = article(&app, &author, "Hello", &["rust"]).await;
    let author_id = user_id(&app, "author").await;
    let reader_id = user_id(&app, "reader").await;

    app.fails_on(
        Some(&moderator),
        SUSPEND,
        json!({ "id": author_id, "u": in_seconds(-60) }),
        ("BAD_USER_INPUT", "until"),
    )
    .await;
    app.ok(
        Some(&moderator),
        SUSPEND,
        json!({ "id": author_id, "u": in_seconds(2) }),
    )
    .await;
    let standing = app.ok(Some(&author), STANDING, json!({})).await;
    let s = &standing["viewer"]["standing"];
    assert_eq!(s["suspended"], true);
    assert_eq!(s["suspendedReason"], "cool off");
    assert!(s["suspendedUntil"].is_string(), "{s}");
    let body = app
        .fails(
            Some(&author),
            COMMENT,
            json!({ "a": post, "b": "let me in" }),
            "FORBIDDEN",
        )
        .await;
    assert!(message(&body).contains("cool off"), "{body}");

    app.ok(
        Some(&moderator),
        BAN,
        json!({ "id": reader_id, "u": in_seconds(2) }),
    )
    .await;
    let body = app
        .fails(
            Some(&reader),
            COMMENT,
            json!({ "a": post, "b": "again" }),
            "FORBIDDEN",
        )
        .await;
    assert!(message(&body).contains("flame wars"), "{body}");
    assert!(message(&body).contains("until"), "{body}");
    // A comment ban is no more than that: articles still go.
    app.ok(
        Some(&reader),
        CREATE,
        json!({ "i": { "title": "Still writing", "bodyMarkdown": "x" } }),
    )
    .await;
    let standing = app.ok(Some(&reader), STANDING, json!({})).await;
    assert_eq!(standing["viewer"]["standing"]["commentBanned"], true);
    assert_eq!(
        standing["viewer"]["standing"]["commentBanReason"],
        "flame wars"
    );

    // The ends pass; the queued jobs lift both, with no moderator and no restart.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    app.drain_jobs().await;
    comment(&app, &author, &post).await;
    comment(&app, &reader, &post).await;
    let standing = app.ok(Some(&author), STANDING, json!({})).await;
    assert_eq!(standing["viewer"]["standing"]["suspended"], false);
    assert!(standing["viewer"]["standing"]["suspendedUntil"].is_null());
    let log = app.ok(None, MODLOG, json!({})).await;
    let entries = log["modlog"]["edges"].as_array().unwrap();
    let lifted: Vec<&Value> = entries
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["automatic"] == true)
        .collect();
    assert_eq!(lifted.len(), 2, "{log}");
    assert!(
        lifted
            .iter()
            .any(|n| n["action"] == "MEMBER_UNSUSPEND" && n["reason"] == "The suspension ended")
    );
    assert!(lifted.iter().any(|n| n["action"] == "COMMENT_UNBAN"));
    let suspension = entries
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["action"] == "MEMBER_SUSPEND")
        .unwrap();
    assert!(suspension["expiresAt"].is_string(), "{suspension}");
    // A job running again changes nothing.
    app.drain_jobs().await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE actor_id IS NULL")
            .await,
        2
    );
}

#[tokio::test]
async fn warnings_and_notes_stay_between_the_member_and_the_moderators() {
    let app = spawn_app().await;
    let moderator = app.member("warden").await;
    app.set_role("warden", "moderator").await;
    let reader = app.member("reader").await;
    let other = app.member("other").await;
    let reader_id = user_id(&app, "reader").await;
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { warnMember(input: { id: $id, reason: \"mind the tone\" }) { userErrors { message } warning { reason } } }",
        json!({ "id": reader_id }),
    )
    .await;
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { addModeratorNote(input: { id: $id, body: \"second time this week\" }) { userErrors { message } note { body } } }",
        json!({ "id": reader_id }),
    )
    .await;
    let own = app.ok(Some(&reader), STANDING, json!({})).await;
    assert_eq!(
        own["viewer"]["warnings"],
        json!([{ "reason": "mind the tone" }])
    );
    const KNOWN: &str = "query($id: ID!) { memberModeration(id: $id) { user { username } warnings { reason } notes { body author { username } } standing { suspended } } }";
    let known = app
        .ok(Some(&moderator), KNOWN, json!({ "id": reader_id }))
        .await;
    assert_eq!(
        known["memberModeration"]["notes"],
        json!([{ "body": "second time this week", "author": { "username": "warden" } }])
    );
    app.fails(
        Some(&reader),
        KNOWN,
        json!({ "id": reader_id }),
        "FORBIDDEN",
    )
    .await;
    app.fails(Some(&other), KNOWN, json!({ "id": reader_id }), "FORBIDDEN")
        .await;
    app.fails(
        Some(&other),
        "mutation($id: ID!) { warnMember(input: { id: $id, reason: \"x\" }) { warning { reason } } }",
        json!({ "id": reader_id }),
        "FORBIDDEN",
    )
    .await;
    // Neither is public.
    let log = app.ok(None, MODLOG, json!({})).await;
    assert_eq!(log["modlog"]["totalCount"], 0, "{log}");
}

#[tokio::test]
async fn locked_discussions_take_no_comments_and_the_modlog_shows_what_it_may() {
    let app = spawn_app_with(Options::default(), |s| {
        s.moderation.modlog_names_moderators = false;
    })
    .await;
    let moderator = app.member("warden").await;
    app.set_role("warden", "moderator").await;
    let author = app.member("author").await;
    let reader = app.member("reader").await;
    let post = article(&app, &author, "Tabs or spaces", &["style"]).await;
    let other = article(&app, &reader, "Elsewhere", &["style"]).await;

    // The author locks their own discussion; others may not lock it.
    app.fails(
        Some(&reader),
        LOCK,
        json!({ "id": post, "r": "mine" }),
        "FORBIDDEN",
    )
    .await;
    let locked = app
        .ok(
            Some(&author),
            LOCK,
            json!({ "id": post, "r": "This got heated" }),
        )
        .await;
    assert_eq!(
        locked["lockDiscussion"]["article"]["discussionLockReason"],
        "This got heated"
    );
    let body = app
        .fails(
            Some(&reader),
            COMMENT,
            json!({ "a": post, "b": "but" }),
            "FORBIDDEN",
        )
        .await;
    assert!(message(&body).contains("This got heated"), "{body}");
    app.fails_on(
        Some(&author),
        LOCK,
        json!({ "id": post, "r": "again" }),
        ("BAD_USER_INPUT", "id"),
    )
    .await;
    app.ok(Some(&author), UNLOCK, json!({ "id": post })).await;
    comment(&app, &reader, &post).await;
    // A moderator locks anyone's, and its author does not open it again.
    app.ok(
        Some(&moderator),
        LOCK,
        json!({ "id": other, "r": "Off topic" }),
    )
    .await;
    app.fails(Some(&reader), UNLOCK, json!({ "id": other }), "FORBIDDEN")
        .await;

    // A warning and a report outcome stay private; the rest is public.
    let reader_id = user_id(&app, "reader").await;
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { warnMember(input: { id: $id, reason: \"private\" }) { warning { reason } } }",
        json!({ "id": reader_id }),
    )
    .await;
    let report =
        app.ok(Some(&reader), REPORT, json!({ "id": post })).await["report"]["report"]["id"]
            .clone();
    app.ok(
        Some(&moderator),
        RESOLVE,
        json!({ "id": report, "a": "DISMISS" }),
    )
    .await;
    app.ok(
        Some(&moderator),
        SUSPEND,
        json!({ "id": reader_id, "u": null }),
    )
    .await;

    let public = app.ok(None, MODLOG, json!({})).await;
    assert_eq!(
        actions(&public),
        [
            "MEMBER_SUSPEND",
            "DISCUSSION_LOCK",
            "DISCUSSION_UNLOCK",
            "DISCUSSION_LOCK"
        ]
    );
    let nodes: Vec<&Value> = public["modlog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    // This instance keeps moderators' names from the public, not from moderators.
    assert!(nodes.iter().all(|n| n["moderator"].is_null()), "{public}");
    let seen = app.ok(Some(&moderator), MODLOG, json!({})).await;
    assert_eq!(
        seen["modlog"]["edges"][0]["node"]["moderator"]["username"],
        "warden"
    );
    assert_eq!(
        seen["modlog"]["edges"][3]["node"]["moderator"]["username"],
        "author"
    );
    assert!(nodes[0]["expiresAt"].is_null());
    let page = app.get("/modlog").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("This got heated") && page.contains("Off topic"),
        "{page}"
    );
    assert!(
        !page.contains("private") && !page.contains("warden"),
        "{page}"
    );
}
