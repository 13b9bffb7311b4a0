//! Reports, moderator actions with their audit rows, privileged reactions and automatic
//! suspension, blocking, and the spam filter.

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, code, spawn_app, spawn_app_with};

const CREATE: &str = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { id score } } }";
const COMMENT: &str = "mutation($a: ID!, $b: String!) { createComment(input: { articleId: $a, bodyMarkdown: $b }) { userErrors { field message code } comment { id score } } }";
const REPORT: &str = "mutation($id: ID!, $c: ReportCategory!, $m: String) { report(input: { subjectId: $id, category: $c, message: $m }) { userErrors { field message code } report { id status category reporter { username } } } }";
const REPORTS: &str = "query($s: ReportStatus) { reports(status: $s) { edges { node { id subjectType subjectId category message automatic status action resolutionNote reporter { username } resolvedBy { username } } } } }";
const AUDIT: &str = "query($a: AuditAction) { auditLog(action: $a) { edges { node { action reason subjectType subjectId details actor { username } } } } }";

async fn article(app: &TestApp, token: &str, title: &str) -> String {
    app.ok(
        Some(token),
        CREATE,
        json!({ "i": { "title": title, "bodyMarkdown": "Body", "published": true, "tags": ["rust"] } }),
    )
    .await["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(app: &TestApp, token: &str, article: &str, body: &str) -> Value {
    app.ok(Some(token), COMMENT, json!({ "a": article, "b": body }))
        .await["createComment"]["comment"]
        .clone()
}

async fn audit_rows(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    app.ok(Some(admin), AUDIT, json!({ "a": action })).await["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
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

struct Cast {
    app: TestApp,
    admin: String,
    moderator: String,
    author: String,
    reader: String,
}

async fn cast() -> Cast {
    cast_with(spawn_app().await).await
}

async fn cast_with(app: TestApp) -> Cast {
    let admin = app.member("boss").await;
    let moderator = app.member("warden").await;
    let author = app.member("author").await;
    let reader = app.member("reader").await;
    app.set_role("boss", "admin").await;
    app.set_role("warden", "moderator").await;
    Cast {
        app,
        admin,
        moderator,
        author,
        reader,
    }
}

#[tokio::test]
async fn reports_are_listed_for_moderators_and_resolved_with_an_action() {
    let Cast {
        app,
        admin,
        moderator,
        author,
        reader,
    } = cast().await;
    let story = article(&app, &author, "Questionable").await;

    let data = app
        .ok(
            Some(&reader),
            REPORT,
            json!({ "id": story, "c": "SPAM", "m": "Links to a shop" }),
        )
        .await;
    assert_eq!(data["report"]["report"]["status"], "OPEN");
    // Once per member while open; never oneself; only articles, comments and members.
    app.fails(
        Some(&reader),
        REPORT,
        json!({ "id": story, "c": "RUDE" }),
        "BAD_USER_INPUT",
    )
    .await;
    app.fails(
        Some(&author),
        REPORT,
        json!({ "id": story, "c": "SPAM" }),
        "BAD_USER_INPUT",
    )
    .await;
    let tag = app
        .ok(None, "{ tag(name: \"rust\") { id } }", json!({}))
        .await;
    app.fails(
        Some(&reader),
        REPORT,
        json!({ "id": tag["tag"]["id"], "c": "SPAM" }),
        "BAD_USER_INPUT",
    )
    .await;
    let (_, body) = app
        .graphql(REPORT, json!({ "id": story, "c": "SPAM" }))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    // A second member's report on the same article.
    app.ok(
        Some(&moderator),
        REPORT,
        json!({ "id": story, "c": "OTHER" }),
    )
    .await;

    // Members cannot read the queue.
    app.fails(Some(&reader), REPORTS, json!({}), "FORBIDDEN")
        .await;
    let open = app.ok(Some(&moderator), REPORTS, json!({})).await;
    let edges = open["reports"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{open}");
    let first = &edges[1]["node"];
    assert_eq!(first["message"], "Links to a shop");
    assert_eq!(first["reporter"]["username"], "reader");
    assert_eq!(first["subjectId"], story);

    // An action that does not fit the subject is refused and changes nothing.
    let resolve = "mutation($id: ID!, $a: ModerationAction!, $n: String) { resolveReport(input: { id: $id, action: $a, note: $n }) { userErrors { field message code } report { status action resolutionNote resolvedBy { username } } } }";
    app.fails(
        Some(&moderator),
        resolve,
        json!({ "id": first["id"], "a": "HIDE_COMMENT" }),
        "BAD_USER_INPUT",
    )
    .await;
    app.fails(
        Some(&reader),
        resolve,
        json!({ "id": first["id"], "a": "DISMISS" }),
        "FORBIDDEN",
    )
    .await;

    let data = app
        .ok(
            Some(&moderator),
            resolve,
            json!({ "id": first["id"], "a": "UNPUBLISH_ARTICLE", "n": "Commercial spam" }),
        )
        .await;
    assert_eq!(data["resolveReport"]["report"]["status"], "RESOLVED");
    assert_eq!(
        data["resolveReport"]["report"]["action"],
        "UNPUBLISH_ARTICLE"
    );
    assert_eq!(
        data["resolveReport"]["report"]["resolvedBy"]["username"],
        "warden"
    );
    // The article is gone from public view; both reports are closed.
    let data = app
        .ok(
            None,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": story }),
        )
        .await;
    assert!(data["node"].is_null(), "{data}");
    let open = app.ok(Some(&moderator), REPORTS, json!({})).await;
    assert_eq!(open["reports"]["edges"].as_array().unwrap().len(), 0);
    let resolved = app
        .ok(Some(&moderator), REPORTS, json!({ "s": "RESOLVED" }))
        .await;
    assert_eq!(resolved["reports"]["edges"].as_array().unwrap().len(), 2);
    let (_, body) = app
        .graphql_as(
            Some(&moderator),
            resolve,
            json!({ "id": first["id"], "a": "DISMISS" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "already resolved: {body}");

    // The audit log: admins only.
    app.fails(Some(&moderator), AUDIT, json!({}), "FORBIDDEN")
        .await;
    let rows = audit_rows(&app, &admin, "ARTICLE_UNPUBLISH").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["actor"]["username"], "warden");
    assert_eq!(rows[0]["reason"], "Commercial spam");
    assert_eq!(rows[0]["subjectId"], story);
    let rows = audit_rows(&app, &admin, "REPORT_RESOLVED").await;
    assert_eq!(rows[0]["details"]["action"], "unpublish_article");
}

#[tokio::test]
async fn moderator_actions_each_leave_an_audit_row() {
    let Cast {
        app,
        admin,
        moderator,
        author,
        reader,
    } = cast().await;
    let story = article(&app, &author, "Tagged wrongly").await;
    let rude = comment(&app, &reader, &story, "You are all fools").await;
    let worse = comment(&app, &reader, &story, "Something illegal").await;

    let moderate = "mutation($id: ID!, $a: CommentModeration!, $r: String!) { moderateComment(input: { id: $id, action: $a, reason: $r }) { userErrors { field message code } clientMutationId } }";
    app.fails(
        Some(&reader),
        moderate,
        json!({ "id": rude["id"], "a": "HIDE", "r": "x" }),
        "FORBIDDEN",
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&moderator),
            moderate,
            json!({ "id": rude["id"], "a": "HIDE", "r": "  " }),
        )
        .await;
    assert_eq!(
        code(&body),
        "BAD_USER_INPUT",
        "a reason is required: {body}"
    );
    app.ok(
        Some(&moderator),
        moderate,
        json!({ "id": rude["id"], "a": "HIDE", "r": "Insults" }),
    )
    .await;
    app.ok(
        Some(&moderator),
        moderate,
        json!({ "id": worse["id"], "a": "DELETE", "r": "Illegal content" }),
    )
    .await;
    let thread = app
        .ok(
            None,
            "query($id: ID!) { node(id: $id) { ... on Article { commentsCount comments { edges { node { isHidden isDeleted } } } } } }",
            json!({ "id": story }),
        )
        .await;
    let edges = thread["node"]["comments"]["edges"].as_array().unwrap();
    assert_eq!(edges[0]["node"]["isHidden"], true, "{thread}");
    assert_eq!(edges[1]["node"]["isDeleted"], true, "{thread}");
    assert_eq!(thread["node"]["commentsCount"], 1);

    let retag = "mutation($id: ID!, $t: [String!]!, $r: String!) { moderateArticleTags(input: { id: $id, tags: $t, reason: $r }) { userErrors { field message code } article { tags { name } } } }";
    let data = app
        .ok(
            Some(&moderator),
            retag,
            json!({ "id": story, "t": ["discuss", "beginners"], "r": "Not about Rust" }),
        )
        .await;
    assert_eq!(
        data["moderateArticleTags"]["article"]["tags"],
        json!([{ "name": "discuss" }, { "name": "beginners" }])
    );
    let tag = app
        .ok(None, "{ tag(name: \"rust\") { articlesCount } }", json!({}))
        .await;
    assert_eq!(tag["tag"]["articlesCount"], 0);

    let suspend = "mutation($id: ID!, $r: String!) { suspendMember(input: { id: $id, reason: $r }) { userErrors { field message code } clientMutationId } }";
    let unsuspend = "mutation($id: ID!, $r: String!) { unsuspendMember(input: { id: $id, reason: $r }) { userErrors { field message code } clientMutationId } }";
    let reader_id = user_id(&app, "reader").await;
    let admin_id = user_id(&app, "boss").await;
    app.ok(
        Some(&moderator),
        suspend,
        json!({ "id": reader_id, "r": "Repeated insults" }),
    )
    .await;
    let body = app
        .fails(
            Some(&reader),
            COMMENT,
            json!({ "a": story, "b": "let me in" }),
            "FORBIDDEN",
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Repeated insults"),
        "{body}"
    );
    let me = app
        .ok(
            Some(&reader),
            "{ viewer { role suspendedReason } }",
            json!({}),
        )
        .await;
    assert_eq!(me["viewer"]["role"], "SUSPENDED", "{me}");
    assert_eq!(me["viewer"]["suspendedReason"], "Repeated insults");
    // Moderators cannot suspend admins.
    app.fails(
        Some(&moderator),
        suspend,
        json!({ "id": admin_id, "r": "no" }),
        "FORBIDDEN",
    )
    .await;
    app.ok(
        Some(&moderator),
        unsuspend,
        json!({ "id": reader_id, "r": "Apologised" }),
    )
    .await;
    comment(&app, &reader, &story, "Sorry, everyone").await;

    app.ok(
        Some(&moderator),
        "mutation { updateTag(input: { name: \"discuss\", description: \"Open-ended talk\" }) { userErrors { field message code } tag { name } } }",
        json!({}),
    )
    .await;
    let rows = audit_rows(&app, &admin, "TAG_UPDATE").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["subjectType"], "TAG");
    assert_eq!(rows[0]["details"]["description"], "Open-ended talk");

    for (action, reason) in [
        ("COMMENT_HIDE", "Insults"),
        ("COMMENT_DELETE", "Illegal content"),
        ("ARTICLE_RETAG", "Not about Rust"),
        ("MEMBER_SUSPEND", "Repeated insults"),
        ("MEMBER_UNSUSPEND", "Apologised"),
    ] {
        let rows = audit_rows(&app, &admin, action).await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        assert_eq!(rows[0]["reason"], reason);
        assert_eq!(rows[0]["actor"]["username"], "warden");
    }
    let rows = audit_rows(&app, &admin, "ARTICLE_RETAG").await;
    assert_eq!(rows[0]["details"]["before"], json!(["rust"]));
}

#[tokio::test]
async fn privileged_reactions_move_scores_and_vomits_suspend_the_author() {
    let Cast {
        app,
        admin,
        author,
        reader,
        ..
    } = cast().await;
    let mut trusted = Vec::new();
    for name in ["trusty1", "trusty2", "trusty3"] {
        let token = app.member(name).await;
        app.set_role(name, "trusted").await;
        trusted.push(token);
    }
    let one = article(&app, &author, "One").await;
    let two = article(&app, &author, "Two").await;
    let react = "mutation($id: ID!, $c: String!) { toggleReaction(input: { reactableId: $id, category: $c }) { userErrors { field message code } reacted } }";
    let score = |id: String| {
        let app = &app;
        async move {
            app.ok(
                None,
                "query($id: ID!) { node(id: $id) { ... on Article { score reactionCounts { category } } } }",
                json!({ "id": id }),
            )
            .await["node"]
                .clone()
        }
    };

    let (_, body) = app
        .graphql_as(Some(&reader), react, json!({ "id": one, "c": "vomit" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "members cannot: {body}");
    app.ok(
        Some(&trusted[0]),
        react,
        json!({ "id": one, "c": "thumbsup" }),
    )
    .await;
    let node = score(one.clone()).await;
    assert_eq!(node["score"], 5);
    assert_eq!(
        node["reactionCounts"],
        json!([]),
        "privileged reactions are not shown"
    );
    app.ok(
        Some(&trusted[1]),
        react,
        json!({ "id": one, "c": "thumbsdown" }),
    )
    .await;
    assert_eq!(score(one.clone()).await["score"], -5);

    // Two vomits from trusted members: not yet.
    app.ok(Some(&trusted[0]), react, json!({ "id": one, "c": "vomit" }))
        .await;
    app.ok(Some(&trusted[1]), react, json!({ "id": two, "c": "vomit" }))
        .await;
    assert_eq!(score(one.clone()).await["score"], -55);
    let me = app
        .ok(Some(&author), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(me["viewer"]["role"], "MEMBER");
    // The third suspends the author.
    app.ok(Some(&trusted[2]), react, json!({ "id": two, "c": "vomit" }))
        .await;
    let me = app
        .ok(
            Some(&author),
            "{ viewer { role suspendedReason } }",
            json!({}),
        )
        .await;
    assert_eq!(me["viewer"]["role"], "SUSPENDED", "{me}");
    assert!(
        me["viewer"]["suspendedReason"]
            .as_str()
            .unwrap()
            .contains("trusted members")
    );
    app.fails(
        Some(&author),
        CREATE,
        json!({ "i": { "title": "More", "bodyMarkdown": "x" } }),
        "FORBIDDEN",
    )
    .await;
    let rows = audit_rows(&app, &admin, "MEMBER_SUSPEND").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["actor"].is_null(), "done by the system: {rows:?}");
}

#[tokio::test]
async fn blocked_members_vanish_from_comments_and_notifications_and_cannot_comment() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let troll = app.member("troll").await;
    let cyd = app.member("cyd").await;
    let adas = article(&app, &ada, "Ada's article").await;
    let cyds = article(&app, &cyd, "Cyd's article").await;
    let rant = comment(&app, &troll, &cyds, "A rant").await;
    app.ok(
        Some(&cyd),
        "mutation($a: ID!, $p: ID!, $b: String!) { createComment(input: { articleId: $a, parentId: $p, bodyMarkdown: $b }) { userErrors { field message code } comment { id } } }",
        json!({ "a": cyds, "p": rant["id"], "b": "A reply to the rant" }),
    )
    .await;
    comment(&app, &cyd, &cyds, "A fine comment").await;

    let troll_id = user_id(&app, "troll").await;
    app.ok(
        Some(&ada),
        "mutation($id: ID!) { blockUser(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": troll_id }),
    )
    .await;

    let thread = "query($id: ID!) { node(id: $id) { ... on Article { comments { edges { node { author { username } replies { edges { node { id } } } } } } } } }";
    let seen_by = |token: Option<String>| {
        let app = &app;
        let cyds = cyds.clone();
        async move {
            let data = app
                .ok(token.as_deref(), thread, json!({ "id": cyds }))
                .await;
            data["node"]["comments"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["author"]["username"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        seen_by(Some(ada.clone())).await,
        vec!["cyd"],
        "the rant and its replies are gone"
    );
    assert_eq!(seen_by(Some(cyd.clone())).await, vec!["troll", "cyd"]);
    assert_eq!(seen_by(None).await, vec!["troll", "cyd"]);

    // No commenting on the blocker's articles; nothing half-written.
    let before = app.count("SELECT count(*) FROM comments").await;
    app.fails(
        Some(&troll),
        COMMENT,
        json!({ "a": adas, "b": "let me talk" }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM comments").await, before);

    // Their actions notify the blocker of nothing.
    app.drain_jobs().await;
    let ada_id = user_id(&app, "ada").await;
    app.ok(
        Some(&troll),
        "mutation($id: ID!) { follow(input: { id: $id }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": ada_id }),
    )
    .await;
    app.ok(
        Some(&troll),
        "mutation($id: ID!) { toggleReaction(input: { reactableId: $id, category: \"like\" }) { userErrors { field message code } reacted } }",
        json!({ "id": adas }),
    )
    .await;
    app.drain_jobs().await;
    let count = app
        .ok(
            Some(&ada),
            "{ viewer { unreadNotificationsCount } }",
            json!({}),
        )
        .await;
    assert_eq!(count["viewer"]["unreadNotificationsCount"], 0);
}

#[tokio::test]
async fn spam_trigger_terms_report_and_score_down() {
    let app = spawn_app_with(Options::default(), |s| {
        s.moderation.spam_terms = vec!["cheap pills".to_owned()];
    })
    .await;
    let Cast {
        app,
        moderator,
        author,
        reader,
        ..
    } = cast_with(app).await;
    let data = app
        .ok(
            Some(&author),
            CREATE,
            json!({ "i": { "title": "CHEAP PILLS for developers", "bodyMarkdown": "x", "published": true } }),
        )
        .await;
    assert_eq!(data["createArticle"]["article"]["score"], -50, "{data}");
    let clean = article(&app, &reader, "A clean title").await;
    let spam = comment(&app, &author, &clean, "Buy cheap pills at my shop").await;
    assert_eq!(spam["score"], -50);
    let fine = comment(&app, &author, &clean, "Nice article").await;
    assert_eq!(fine["score"], 0);

    let open = app.ok(Some(&moderator), REPORTS, json!({})).await;
    let reports: Vec<&Value> = open["reports"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(reports.len(), 2, "{open}");
    for report in &reports {
        assert_eq!(report["automatic"], true);
        assert_eq!(report["category"], "SPAM");
        assert!(report["reporter"].is_null());
        assert!(report["message"].as_str().unwrap().contains("cheap pills"));
    }
    assert_eq!(reports[0]["subjectType"], "COMMENT");
    assert_eq!(reports[1]["subjectType"], "ARTICLE");
    // LATEST leaves out what is scored below -20.
    let latest = app
        .ok(
            None,
            "{ feed(type: LATEST) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    let titles: Vec<&str> = latest["feed"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["A clean title"]);
}

#[tokio::test]
async fn takedowns_and_moderator_hides_cannot_be_undone_by_authors() {
    let Cast {
        app,
        moderator,
        author,
        reader,
        ..
    } = cast().await;
    // A draft shared by its preview link, then published and taken down.
    let draft = app
        .ok(
            Some(&author),
            "mutation { createArticle(input: { title: \"Shared\", bodyMarkdown: \"x\" }) { userErrors { field message code } article { id previewToken } } }",
            json!({}),
        )
        .await["createArticle"]["article"]
        .clone();
    let id = draft["id"].as_str().unwrap().to_owned();
    let preview = draft["previewToken"].as_str().unwrap().to_owned();
    let by_preview =
        "query($id: ID!, $p: String) { article(id: $id, previewToken: $p) { id status } }";
    let seen = app
        .ok(None, by_preview, json!({ "id": id, "p": preview }))
        .await;
    assert_eq!(seen["article"]["id"], id.as_str());
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { moderateArticle(input: { id: $id, reason: \"doxxing\" }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": id }),
    )
    .await;
    // The old preview link shows nothing now; the author still reads it, with the reason.
    let seen = app
        .ok(None, by_preview, json!({ "id": id, "p": preview }))
        .await;
    assert!(seen["article"].is_null(), "{seen}");
    let own = app
        .ok(
            Some(&author),
            "query($id: ID!) { article(id: $id) { status removalReason previewToken } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(own["article"]["status"], "REMOVED");
    assert_eq!(own["article"]["removalReason"], "doxxing");
    assert_ne!(own["article"]["previewToken"], preview.as_str());
    let rotated = own["article"]["previewToken"].as_str().unwrap().to_owned();
    let seen = app
        .ok(None, by_preview, json!({ "id": id, "p": rotated }))
        .await;
    assert!(
        seen["article"].is_null(),
        "a removed article has no preview: {seen}"
    );
    app.fails(
        Some(&author),
        "mutation($id: ID!) { publishArticle(input: { id: $id }) { userErrors { field message code } article { status } } }",
        json!({ "id": id }),
        "FORBIDDEN",
    )
    .await;

    // A comment a moderator hid stays hidden whatever the article's author toggles.
    let live = article(&app, &author, "Live one").await;
    let c = comment(&app, &reader, &live, "rude words").await;
    let hide = "mutation($id: ID!, $h: Boolean!) { hideComment(input: { id: $id, hidden: $h }) { userErrors { field message code } comment { id isHidden } } }";
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { moderateComment(input: { id: $id, action: HIDE, reason: \"rude\" }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": c["id"] }),
    )
    .await;
    app.fails(
        Some(&author),
        hide,
        json!({ "id": c["id"], "h": false }),
        "FORBIDDEN",
    )
    .await;
    // The author's own hide of another comment is theirs to undo.
    let other = comment(&app, &reader, &live, "fine words").await;
    app.ok(Some(&author), hide, json!({ "id": other["id"], "h": true }))
        .await;
    let shown = app
        .ok(
            Some(&author),
            hide,
            json!({ "id": other["id"], "h": false }),
        )
        .await;
    assert_eq!(shown["hideComment"]["comment"]["isHidden"], false);
    // The moderator can show it again.
    app.ok(
        Some(&moderator),
        "mutation($id: ID!) { moderateComment(input: { id: $id, action: UNHIDE, reason: \"ok\" }) { userErrors { field message code } clientMutationId } }",
        json!({ "id": c["id"] }),
    )
    .await;
    let shown = app
        .ok(Some(&author), hide, json!({ "id": c["id"], "h": false }))
        .await;
    assert_eq!(shown["hideComment"]["comment"]["isHidden"], false);
}
