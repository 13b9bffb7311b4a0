//! Server-rendered reading pages (no JavaScript): the home page, articles with their
//! threads, profiles and tags. Each page runs one GraphQL operation against the same
//! schema, services and loaders as the API, then renders the result with maud, which
//! escapes every value; article and comment bodies were sanitised when written.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ErrorCode;
use crate::graphql::api::Api;
use crate::graphql::context::Auth;
use crate::graphql::guard::Transport;
use crate::graphql::loaders::Loaders;
use crate::http::auth;
use crate::state::AppState;

const ARTICLE_FIELDS: &str = "id title path description readingTimeMinutes publishedAt commentsCount reactionsCount tagList author { username name }";

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// Runs a page's query and takes the one object it shows from `field`: the not-found page
/// when it is absent, the error page when the query fails.
async fn run_one(
    api: &Api,
    state: &AppState,
    req: &Request,
    query: &str,
    variables: Value,
    field: &str,
) -> Result<Value, Response> {
    let mut data = run(api, state, req, query, variables).await?;
    match data.get_mut(field).map(Value::take) {
        Some(found) if !found.is_null() => Ok(found),
        _ => Err(not_found()),
    }
}

/// Runs a query as the member behind the session cookie (anonymous without a valid one).
async fn run(
    api: &Api,
    state: &AppState,
    req: &Request,
    query: &str,
    variables: Value,
) -> Result<Value, Response> {
    let viewer = match auth::cookie_value(req.headers(), &state.settings.auth.cookie_name) {
        Some(token) => auth::authenticate(state, &auth::Credential::Cookie(token))
            .await
            .ok(),
        None => None,
    };
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(Loaders::new(
            &state.db,
            &state.settings,
            viewer.as_ref().map(|v| v.user_id),
        ))
        .data(Auth(viewer))
        .data(Transport::Internal)
        .data(auth::client_info(req, &state.settings));
    let response = api.execute(request).await;
    if !response.errors.is_empty() {
        tracing::warn!(errors = ?response.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), "reading page query failed");
        let code = |e: &async_graphql::ServerError| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    async_graphql::Value::String(code) => Some(code.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let all = |wanted: ErrorCode| response.errors.iter().all(|e| code(e) == wanted.as_str());
        return Err(if all(ErrorCode::BadUserInput) {
            page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "",
                None,
                None,
                html! { h1 { "This page address is not valid." } },
            )
        } else if all(ErrorCode::RateLimited) {
            let retry_after = response
                .errors
                .iter()
                .find_map(|e| match e.extensions.as_ref()?.get("retryAfter")? {
                    async_graphql::Value::Number(n) => n.as_u64(),
                    _ => None,
                })
                .unwrap_or(1);
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Slow down",
                "",
                None,
                None,
                html! { h1 { "Too many requests. Please try again in a moment." } },
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        } else {
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "",
                None,
                None,
                html! { h1 { "Something went wrong. Please try again." } },
            )
        });
    }
    Ok(response.data.into_json().unwrap_or(Value::Null))
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

fn date(value: &Value) -> String {
    value
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.format("%b %-d, %Y").to_string())
        .unwrap_or_default()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48rem;margin:0 auto;padding:1rem;line-height:1.6;color:#1a1a1a}\
header,footer{padding:.5rem 0;border-bottom:1px solid #eee}footer{border-top:1px solid #eee;border-bottom:0;margin-top:2rem;font-size:.9rem;color:#555}\
a{color:#3b49df}article.card{padding:1rem 0;border-bottom:1px solid #eee}.meta{color:#555;font-size:.9rem}.tags a{margin-right:.5rem}\
.comment{border-left:2px solid #eee;padding-left:1rem;margin:.75rem 0}pre{background:#f6f6f6;padding:.75rem;overflow:auto}img{max-width:100%}";

fn page(
    status: StatusCode,
    title: &str,
    description: &str,
    canonical: Option<&str>,
    image: Option<&str>,
    body: Markup,
) -> Response {
    page_with_feeds(status, title, description, canonical, image, None, body)
}

/// [`page`], announcing the feeds under `feeds` (`""` for the instance's, `/ada`,
/// `/t/rust`) to feed readers with `<link rel="alternate">`.
fn page_with_feeds(
    status: StatusCode,
    title: &str,
    description: &str,
    canonical: Option<&str>,
    image: Option<&str>,
    feeds: Option<&str>,
    body: Markup,
) -> Response {
    use crate::http::syndication::Format;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Vibecoding Community" }
                @if !description.is_empty() {
                    meta name="description" content=(description);
                    meta property="og:description" content=(description);
                }
                meta property="og:title" content=(title);
                meta property="og:site_name" content="Vibecoding Community";
                @if let Some(image) = image { meta property="og:image" content=(image); }
                @if let Some(canonical) = canonical { link rel="canonical" href=(canonical); }
                @if let Some(base) = feeds {
                    @for format in Format::ALL {
                        link rel="alternate" type=(format.media_type()) title=(format!("{title} ({})", format.label())) href=(format!("{base}/{}", format.file()));
                    }
                }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { a href="/" { strong { "Vibecoding Community" } } }
                main { (body) }
                footer {
                    a href="/graphiql" { "GraphiQL" } " · health checks: "
                    a href="/api/v1/health_checks/app" { "app" } " · "
                    a href="/api/v1/health_checks/database" { "database" } " · "
                    a href="/api/v1/health_checks/cache" { "cache" }
                }
            }
        }
    };
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(markup.into_string())
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "",
        None,
        None,
        html! { h1 { "This page does not exist." } p { a href="/" { "Back to the latest articles" } } },
    )
}

fn article_card(node: &Value) -> Markup {
    let author = &node["author"];
    html! {
        article.card {
            h2 { a href=(s(node, "path")) { (s(node, "title")) } }
            p.meta {
                a href={ "/" (s(author, "username")) } { (if s(author, "name").is_empty() { s(author, "username") } else { s(author, "name") }) }
                " · " (date(&node["publishedAt"]))
                " · " (node["readingTimeMinutes"].as_i64().unwrap_or(1)) " min read"
                " · " (node["reactionsCount"].as_i64().unwrap_or(0)) " reactions"
                " · " (node["commentsCount"].as_i64().unwrap_or(0)) " comments"
            }
            p.tags { @for tag in node["tagList"].as_array().into_iter().flatten() { a href={ "/t/" (tag.as_str().unwrap_or("")) } { "#" (tag.as_str().unwrap_or("")) } } }
        }
    }
}

fn article_list(connection: &Value, base: &str) -> Markup {
    let edges = connection["edges"].as_array().cloned().unwrap_or_default();
    html! {
        @if edges.is_empty() { p { "No articles yet." } }
        @for edge in &edges { (article_card(&edge["node"])) }
        @if connection["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false) {
            p { a rel="next" href={ (base) "?after=" (s(&connection["pageInfo"], "endCursor")) } { "Older articles →" } }
        }
    }
}

#[handler]
pub async fn home(
    req: &Request,
    Query(q): Query<PageQuery>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = format!(
        "query($after: String) {{ articles(first: 20, after: $after) {{ edges {{ node {{ {ARTICLE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let data = match run(api, state, req, &query, json!({ "after": q.after })).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    page_with_feeds(
        StatusCode::OK,
        "Latest articles",
        "Vibecoding Community: developers writing, discussing and reacting.",
        Some(&format!("{}/", state.settings.public_origin())),
        None,
        Some(""),
        html! { h1 { "Latest articles" } (article_list(&data["articles"], "/")) },
    )
}

fn thread(edges: &Value) -> Markup {
    html! {
        @for edge in edges.as_array().into_iter().flatten() {
            @let c = &edge["node"];
            div.comment id={ "comment-" (s(c, "id")) } {
                p.meta {
                    @if let Some(username) = c["author"]["username"].as_str() { a href={ "/" (username) } { (username) } } @else { "[deleted]" }
                    " · " (date(&c["createdAt"]))
                }
                div { (PreEscaped(s(c, "bodyHtml"))) }
                @if let Some(replies) = c.get("replies") { (thread(&replies["edges"])) }
            }
        }
    }
}

#[handler]
pub async fn article_page(
    req: &Request,
    Path((username, slug)): Path<(String, String)>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    // The top 50 comments, 10 replies to each and 5 to each of those, read in one
    // statement (the API pages further).
    let mut comments = "id bodyHtml createdAt author { username }".to_owned();
    for first in [5, 10] {
        comments = format!(
            "id bodyHtml createdAt author {{ username }} replies(first: {first}) {{ edges {{ node {{ {comments} }} }} }}"
        );
    }
    let query = format!(
        "query($u: String!, $s: String!) {{ article(username: $u, slug: $s) {{ {ARTICLE_FIELDS} bodyHtml coverImageUrl canonicalUrl
           reactionCounts {{ category count }} comments(first: 50) {{ edges {{ node {{ {comments} }} }} }} }} }}"
    );
    let variables = json!({ "u": username, "s": slug });
    let a = &match run_one(api, state, req, &query, variables, "article").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let own_url = format!("{}{}", state.settings.public_origin(), s(a, "path"));
    let canonical = a["canonicalUrl"].as_str().unwrap_or(&own_url);
    let author = &a["author"];
    page(
        StatusCode::OK,
        s(a, "title"),
        s(a, "description"),
        Some(canonical),
        a["coverImageUrl"].as_str(),
        html! {
            article {
                @if let Some(cover) = a["coverImageUrl"].as_str() { img src=(cover) alt=""; }
                h1 { (s(a, "title")) }
                p.meta {
                    a href={ "/" (s(author, "username")) } { (s(author, "username")) }
                    " · " (date(&a["publishedAt"])) " · " (a["readingTimeMinutes"].as_i64().unwrap_or(1)) " min read"
                }
                p.tags { @for tag in a["tagList"].as_array().into_iter().flatten() { a href={ "/t/" (tag.as_str().unwrap_or("")) } { "#" (tag.as_str().unwrap_or("")) } } }
                div.body { (PreEscaped(s(a, "bodyHtml"))) }
                p.meta { @for r in a["reactionCounts"].as_array().into_iter().flatten() { (s(r, "category")) " " (r["count"].as_i64().unwrap_or(0)) "  " } }
            }
            section {
                h2 { "Comments (" (a["commentsCount"].as_i64().unwrap_or(0)) ")" }
                (thread(&a["comments"]["edges"]))
            }
        },
    )
}

#[handler]
pub async fn profile_page(
    req: &Request,
    Path(username): Path<String>,
    Query(q): Query<PageQuery>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = format!(
        "query($u: String!, $after: String) {{ user(username: $u) {{ username name bio location websiteUrl articlesCount followersCount path
           articles(first: 20, after: $after) {{ edges {{ node {{ {ARTICLE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}
           organization(slug: $u) {{ slug name description url articlesCount followersCount membersCount path
           articles(first: 20, after: $after) {{ edges {{ node {{ {ARTICLE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let variables = json!({ "u": username, "after": q.after });
    let mut data = match run(api, state, req, &query, variables).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // Members and organizations share the address space: a name is one or the other.
    if data["user"].is_null() {
        return match data.get_mut("organization").map(Value::take) {
            Some(org) if !org.is_null() => organization_page(state, &org),
            _ => not_found(),
        };
    }
    let u = &data["user"];
    let name = if s(u, "name").is_empty() {
        s(u, "username")
    } else {
        s(u, "name")
    };
    page_with_feeds(
        StatusCode::OK,
        name,
        s(u, "bio"),
        Some(&format!(
            "{}{}",
            state.settings.public_origin(),
            s(u, "path")
        )),
        None,
        Some(s(u, "path")),
        html! {
            h1 { (name) } p.meta { "@" (s(u, "username")) @if !s(u, "location").is_empty() { " · " (s(u, "location")) } }
            @if !s(u, "bio").is_empty() { p { (s(u, "bio")) } }
            @if let Some(site) = u["websiteUrl"].as_str() { p { a href=(site) rel="nofollow noopener noreferrer" { (site) } } }
            p.meta { (u["articlesCount"].as_i64().unwrap_or(0)) " articles · " (u["followersCount"].as_i64().unwrap_or(0)) " followers" }
            (article_list(&u["articles"], s(u, "path")))
        },
    )
}

fn organization_page(state: &AppState, o: &Value) -> Response {
    page_with_feeds(
        StatusCode::OK,
        s(o, "name"),
        s(o, "description"),
        Some(&format!(
            "{}{}",
            state.settings.public_origin(),
            s(o, "path")
        )),
        None,
        None,
        html! {
            h1 { (s(o, "name")) } p.meta { "@" (s(o, "slug")) " · organization" }
            @if !s(o, "description").is_empty() { p { (s(o, "description")) } }
            @if let Some(site) = o["url"].as_str() { p { a href=(site) rel="nofollow noopener noreferrer" { (site) } } }
            p.meta {
                (o["articlesCount"].as_i64().unwrap_or(0)) " articles · "
                (o["membersCount"].as_i64().unwrap_or(0)) " members · "
                (o["followersCount"].as_i64().unwrap_or(0)) " followers"
            }
            (article_list(&o["articles"], s(o, "path")))
        },
    )
}

#[handler]
pub async fn tag_page(
    req: &Request,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = format!(
        "query($t: String!, $after: String) {{ tag(name: $t) {{ name description path articlesCount followersCount
           articles(first: 20, after: $after) {{ edges {{ node {{ {ARTICLE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let variables = json!({ "t": name, "after": q.after });
    let query = query.replace("path articlesCount", "path rulesHtml articlesCount");
    let t = &match run_one(api, state, req, &query, variables, "tag").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let title = format!("#{}", s(t, "name"));
    page_with_feeds(
        StatusCode::OK,
        &title,
        s(t, "description"),
        Some(&format!(
            "{}{}",
            state.settings.public_origin(),
            s(t, "path")
        )),
        None,
        Some(s(t, "path")),
        html! {
            h1 { (title) }
            @if !s(t, "description").is_empty() { p { (s(t, "description")) } }
            @if !s(t, "rulesHtml").is_empty() { section.rules { h2 { "Rules" } (PreEscaped(s(t, "rulesHtml"))) } }
            p.meta { (t["articlesCount"].as_i64().unwrap_or(0)) " articles · " (t["followersCount"].as_i64().unwrap_or(0)) " followers" }
            (article_list(&t["articles"], s(t, "path")))
        },
    )
}

/// `GET /modlog`: the public moderation log, newest first, as the `modlog` query shows it.
#[handler]
pub async fn modlog_page(
    req: &Request,
    Query(q): Query<PageQuery>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = "query($after: String) { modlog(first: 50, after: $after) { edges { node {
        action subjectType reason createdAt expiresAt automatic moderator { username }
        subject { ... on User { username path } ... on Article { title path } ... on Tag { name path } } } }
        pageInfo { hasNextPage endCursor } } }";
    let data = match run(api, state, req, query, json!({ "after": q.after })).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let log = &data["modlog"];
    let edges = log["edges"].as_array().cloned().unwrap_or_default();
    page(
        StatusCode::OK,
        "Moderation log",
        "What the moderators did, and why.",
        Some(&format!("{}/modlog", state.settings.public_origin())),
        None,
        html! {
            h1 { "Moderation log" }
            @if edges.is_empty() { p { "Nothing yet." } }
            @for edge in &edges {
                @let e = &edge["node"];
                @let subject = &e["subject"];
                article.card {
                    p.meta {
                        (date(&e["createdAt"])) " · "
                        @if e["automatic"].as_bool().unwrap_or(false) { "automatic" }
                        @else if let Some(name) = e["moderator"]["username"].as_str() { a href={ "/" (name) } { "@" (name) } }
                        @else { "a moderator" }
                    }
                    p {
                        strong { (s(e, "action").to_lowercase().replace('_', " ")) } " · "
                        @if let Some(path) = subject["path"].as_str() {
                            a href=(path) { (subject["title"].as_str().or(subject["username"].as_str()).or(subject["name"].as_str()).unwrap_or("comment")) }
                        } @else { (s(e, "subjectType").to_lowercase()) " (no longer visible)" }
                        @if let Some(until) = e["expiresAt"].as_str() { " · until " (until) }
                    }
                    @if !s(e, "reason").is_empty() { p { (s(e, "reason")) } }
                }
            }
            @if log["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false) {
                p { a rel="next" href={ "/modlog?after=" (s(&log["pageInfo"], "endCursor")) } { "Older entries →" } }
            }
        },
    )
}

/// `GET /unsubscribe/{token}`: what the address in an email stops, and a button that
/// stops it. A GET never unsubscribes (mail scanners follow links); no sign-in is needed.
#[handler]
pub async fn unsubscribe_page(Path(token): Path<String>, Data(state): Data<&AppState>) -> Response {
    use crate::domain::notification_mail;
    let Some((_, scope)) = notification_mail::verify(&state.settings, &token) else {
        return not_found();
    };
    page(
        StatusCode::OK,
        "Unsubscribe",
        "",
        None,
        None,
        html! {
            h1 { "Unsubscribe" }
            p { "Stop " (scope.describe()) " from the Vibecoding Community?" }
            form method="post" action=(format!("/unsubscribe/{token}")) {
                input type="hidden" name="List-Unsubscribe" value="One-Click";
                button type="submit" { "Unsubscribe" }
            }
            p { "Signed in, you can choose each kind of notification with "
                code { "updateNotificationChannel" } " and the digest with "
                code { "updateEmailDigest" } " (see " a href="/graphiql" { "GraphiQL" } ")." }
        },
    )
}

/// `POST /unsubscribe/{token}`: one-click unsubscribe (RFC 8058: mail clients POST
/// `List-Unsubscribe=One-Click`), or the page's button. The token is signed; nothing else
/// is needed.
#[handler]
pub async fn unsubscribe(Path(token): Path<String>, Data(state): Data<&AppState>) -> Response {
    use crate::domain::notification_mail;
    match notification_mail::unsubscribe(&state.db, &state.settings, &token).await {
        Ok(scope) => page(
            StatusCode::OK,
            "Unsubscribed",
            "",
            None,
            None,
            html! {
                h1 { "Unsubscribed" }
                p { "You will no longer receive " (scope.describe()) "." }
            },
        ),
        Err(crate::error::AppError::NotFound(_)) => not_found(),
        Err(e) => {
            tracing::warn!(error = %e.public_message(), "an unsubscribe failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "",
                None,
                None,
                html! { h1 { "That did not work." } p { "Please try again in a moment." } },
            )
        }
    }
}
