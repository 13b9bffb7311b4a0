//! Feeds out: the latest articles of the instance, of a member, of a tag, and a member's
//! FOLLOWING feed behind a private token, each as RSS 2.0 (`feed.xml`), Atom (`feed.atom`)
//! and JSON Feed 1.1 (`feed.json`).
//!
//! Each feed runs one GraphQL operation against the same schema as the API (as an anonymous
//! reader, or as the token's member), so what a feed shows is what the API shows. Full HTML
//! content, authors, tags and canonical links are included. Answers carry a strong `ETag`
//! (a hash of the body) and `Last-Modified` (the newest change among the items), and a
//! repeat with `If-None-Match` or `If-Modified-Since` gets 304. Public feeds may be cached
//! by a CDN for five minutes; the private one only by the reader.

use chrono::{DateTime, FixedOffset, Utc};
use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::domain::accounts::Viewer;
use crate::graphql::api::Api;
use crate::graphql::context::Auth;
use crate::graphql::guard::Transport;
use crate::graphql::loaders::Loaders;
use crate::state::AppState;

/// How many articles a feed lists.
const ITEMS: usize = 20;

const ITEM_FIELDS: &str = "id title url description bodyHtml publishedAt editedAt canonicalUrl coverImageUrl tagList author { name username url }";

/// The three formats, by the file name a feed address ends with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The format a feed address asks for, by its last segment.
    fn of(req: &Request) -> Option<Self> {
        Self::from_file(req.uri().path().rsplit('/').next().unwrap_or(""))
    }

    fn from_file(file: &str) -> Option<Self> {
        match file {
            "feed.xml" => Some(Self::Rss),
            "feed.atom" => Some(Self::Atom),
            "feed.json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn file(self) -> &'static str {
        match self {
            Self::Rss => "feed.xml",
            Self::Atom => "feed.atom",
            Self::Json => "feed.json",
        }
    }

    /// The media type of the format, as `<link rel="alternate" type>` names it.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Rss => "application/rss+xml",
            Self::Atom => "application/atom+xml",
            Self::Json => "application/feed+json",
        }
    }

    /// How the format is named in a link's title.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rss => "RSS",
            Self::Atom => "Atom",
            Self::Json => "JSON Feed",
        }
    }
}

/// What a feed is about: its title, description, page and address.
struct Channel {
    title: String,
    description: String,
    /// The HTML page the feed follows.
    page: String,
    /// The feed's own address.
    address: String,
    /// Whether only its member may read it (no shared caches).
    private: bool,
}

/// The instance's latest articles.
#[handler]
pub async fn site(req: &Request, Data(api): Data<&Api>, Data(state): Data<&AppState>) -> Response {
    let query = format!("{{ articles(first: {ITEMS}) {{ nodes {{ {ITEM_FIELDS} }} }} }}");
    let (format, data) = match fetch(req, api, state, None, &query, json!({})).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let origin = state.settings.public_origin();
    let channel = Channel {
        title: "Vibecoding Community".to_owned(),
        description: "The latest articles of the Vibecoding Community.".to_owned(),
        page: format!("{origin}/"),
        address: format!("{origin}/{}", format.file()),
        private: false,
    };
    answer(req, format, &channel, &data["articles"]["nodes"])
}

/// A member's latest articles.
#[handler]
pub async fn member(
    req: &Request,
    Path(username): Path<String>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = format!(
        "query($u: String!) {{ user(username: $u) {{ username name bio url articles(first: {ITEMS}) {{ nodes {{ {ITEM_FIELDS} }} }} }}
           organization(slug: $u) {{ slug name description path articles(first: {ITEMS}) {{ nodes {{ {ITEM_FIELDS} }} }} }} }}"
    );
    let (format, data) = match fetch(req, api, state, None, &query, json!({ "u": username })).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = &data["user"];
    if user.is_null() {
        // An organization's page is at its slug, beside members' pages: so is its feed.
        let org = &data["organization"];
        if org.is_null() {
            return not_found();
        }
        let page = format!("{}{}", state.settings.public_origin(), text(org, "path"));
        let channel = Channel {
            title: format!("{} — Vibecoding Community", text(org, "name")),
            description: match text(org, "description") {
                "" => format!("The latest articles of {}.", text(org, "name")),
                about => about.to_owned(),
            },
            address: format!("{page}/{}", format.file()),
            page,
            private: false,
        };
        return answer(req, format, &channel, &org["articles"]["nodes"]);
    }
    let name = match text(user, "name") {
        "" => text(user, "username"),
        name => name,
    };
    let channel = Channel {
        title: format!("{name} — Vibecoding Community"),
        description: match text(user, "bio") {
            "" => format!("The latest articles by {name}."),
            bio => bio.to_owned(),
        },
        page: text(user, "url").to_owned(),
        address: format!("{}/{}", text(user, "url"), format.file()),
        private: false,
    };
    answer(req, format, &channel, &user["articles"]["nodes"])
}

/// The latest articles with a tag.
#[handler]
pub async fn tag(
    req: &Request,
    Path(name): Path<String>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let query = format!(
        "query($t: String!) {{ tag(name: $t) {{ name description url }} articles(tag: $t, first: {ITEMS}) {{ nodes {{ {ITEM_FIELDS} }} }} }}"
    );
    let (format, data) = match fetch(req, api, state, None, &query, json!({ "t": name })).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let tag = &data["tag"];
    if tag.is_null() {
        return not_found();
    }
    let channel = Channel {
        title: format!("#{} — Vibecoding Community", text(tag, "name")),
        description: match text(tag, "description") {
            "" => format!("The latest articles tagged #{}.", text(tag, "name")),
            description => description.to_owned(),
        },
        page: text(tag, "url").to_owned(),
        address: format!("{}/{}", text(tag, "url"), format.file()),
        private: false,
    };
    answer(req, format, &channel, &data["articles"]["nodes"])
}

/// A member's FOLLOWING feed, behind the private token `createFollowingFeedToken` gave.
#[handler]
pub async fn following(
    req: &Request,
    Path(token): Path<String>,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
) -> Response {
    let reader = match crate::domain::syndication::reader(&state.db, &token).await {
        Ok(Some(reader)) => reader,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e.to_string()),
    };
    let query = format!(
        "{{ viewer {{ user {{ username name }} }} feed(type: FOLLOWING, first: {ITEMS}) {{ nodes {{ {ITEM_FIELDS} }} }} }}"
    );
    let (format, data) = match fetch(req, api, state, Some(reader), &query, json!({})).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = &data["viewer"]["user"];
    let origin = state.settings.public_origin();
    let channel = Channel {
        title: format!("Following — {}", text(user, "username")),
        description: "The latest articles of the members and tags you follow.".to_owned(),
        page: format!("{origin}/"),
        address: format!("{origin}/feeds/following/{token}/{}", format.file()),
        private: true,
    };
    answer(req, format, &channel, &data["feed"]["nodes"])
}

/// The format the address asks for and the `data` of the feed's query, run as `reader`
/// (anonymous when None); or the answer to give instead (404, or an error page).
async fn fetch(
    req: &Request,
    api: &Api,
    state: &AppState,
    reader: Option<Viewer>,
    query: &str,
    variables: Value,
) -> Result<(Format, Value), Response> {
    let format = Format::of(req).ok_or_else(not_found)?;
    Ok((format, run(api, state, reader, query, variables).await?))
}

/// Runs a feed's query as `reader` (anonymous when None): its `data`, or an error page.
async fn run(
    api: &Api,
    state: &AppState,
    reader: Option<Viewer>,
    query: &str,
    variables: Value,
) -> Result<Value, Response> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(Loaders::new(
            &state.db,
            &state.settings,
            reader.as_ref().map(|v| v.user_id),
        ))
        .data(Auth(reader))
        .data(Transport::Internal);
    let response = api.execute(request).await;
    if let Some(error) = response.errors.first() {
        // A name no member or tag can have is simply not there.
        if crate::graphql::extensions::code_of(error) == Some(crate::error::ErrorCode::BadUserInput)
        {
            return Err(not_found());
        }
        return Err(failed(&error.message));
    }
    Ok(response.data.into_json().unwrap_or_default())
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("")
}

fn time(value: &Value, field: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value[field].as_str()?).ok()
}

/// When an item last changed: its edit, or its publication.
fn updated(item: &Value) -> Option<DateTime<FixedOffset>> {
    time(item, "editedAt")
        .into_iter()
        .chain(time(item, "publishedAt"))
        .max()
}

/// The feed in `format`, or 304 when the client's copy is current.
fn answer(req: &Request, format: Format, channel: &Channel, items: &Value) -> Response {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    let last_modified = items.iter().filter_map(updated).max();
    let body = match format {
        Format::Rss => rss(channel, items, last_modified),
        Format::Atom => atom(channel, items, last_modified),
        Format::Json => json_feed(channel, items),
    };
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let last_modified = last_modified.map(|t| t.with_timezone(&Utc));
    let cache = if channel.private {
        "private, max-age=300"
    } else {
        "public, max-age=300, stale-while-revalidate=60"
    };
    let mut builder = Response::builder()
        .header(header::ETAG, etag.as_str())
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding");
    if let Some(t) = last_modified {
        // IMF-fixdate (RFC 9110 5.6.7): a two-digit day, always GMT.
        builder = builder.header(
            header::LAST_MODIFIED,
            t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    }
    if current(req.headers(), &etag, last_modified) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .header(
            header::CONTENT_TYPE,
            format!("{}; charset=utf-8", format.media_type()),
        )
        .body(body)
}

/// Whether the client's copy is the one we would send: `If-None-Match` decides when given
/// (RFC 9110 13.2.2), otherwise `If-Modified-Since`.
fn current(headers: &HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) -> bool {
    if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
        let tags = tags.to_str().unwrap_or("");
        return tags.trim() == "*"
            || tags
                .split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag);
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok());
    matches!((since, last_modified), (Some(since), Some(modified)) if modified.timestamp() <= since.timestamp())
}

fn rss(channel: &Channel, items: &[Value], last_modified: Option<DateTime<FixedOffset>>) -> String {
    let items = items
        .iter()
        .map(|item| {
            let mut dublin = rss::extension::dublincore::DublinCoreExtension::default();
            dublin.set_creators(vec![author_name(item).to_owned()]);
            rss::Item {
                title: Some(text(item, "title").to_owned()),
                link: Some(text(item, "url").to_owned()),
                description: Some(text(item, "description").to_owned()),
                content: Some(text(item, "bodyHtml").to_owned()),
                guid: Some(rss::Guid {
                    value: text(item, "url").to_owned(),
                    permalink: true,
                }),
                pub_date: time(item, "publishedAt").map(|t| t.to_rfc2822()),
                categories: tags(item)
                    .map(|name| rss::Category {
                        name: name.to_owned(),
                        domain: None,
                    })
                    .collect(),
                dublin_core_ext: Some(dublin),
                ..Default::default()
            }
        })
        .collect();
    let mut atom = rss::extension::atom::AtomExtension::default();
    atom.set_links(vec![atom_syndication::Link {
        href: channel.address.clone(),
        rel: "self".to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Default::default()
    }]);
    let feed = rss::Channel {
        title: channel.title.clone(),
        link: channel.page.clone(),
        description: channel.description.clone(),
        language: Some("en".to_owned()),
        last_build_date: last_modified.map(|t| t.to_rfc2822()),
        generator: Some("Vibecoding Community".to_owned()),
        ttl: Some("5".to_owned()),
        items,
        atom_ext: Some(atom),
        namespaces: [
            ("dc", rss::extension::dublincore::NAMESPACE),
            ("content", "http://purl.org/rss/1.0/modules/content/"),
            ("atom", rss::extension::atom::NAMESPACE),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..Default::default()
    };
    feed.to_string()
}

fn atom(
    channel: &Channel,
    items: &[Value],
    last_modified: Option<DateTime<FixedOffset>>,
) -> String {
    use atom_syndication::{Category, Content, Entry, Feed, Link, Person, Text};
    let link = |href: &str, rel: &str, mime: Option<&str>| Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime.map(str::to_owned),
        ..Default::default()
    };
    let entries = items
        .iter()
        .map(|item| {
            let mut links = vec![link(text(item, "url"), "alternate", Some("text/html"))];
            if let Some(canonical) = item["canonicalUrl"].as_str() {
                links.push(link(canonical, "related", Some("text/html")));
            }
            Entry {
                id: text(item, "url").to_owned(),
                title: Text::plain(text(item, "title")),
                updated: updated(item).unwrap_or_default(),
                published: time(item, "publishedAt"),
                authors: vec![Person {
                    name: author_name(item).to_owned(),
                    uri: item["author"]["url"].as_str().map(str::to_owned),
                    ..Default::default()
                }],
                categories: tags(item)
                    .map(|term| Category {
                        term: term.to_owned(),
                        ..Default::default()
                    })
                    .collect(),
                summary: Some(Text::plain(text(item, "description"))),
                content: Some(Content {
                    value: Some(text(item, "bodyHtml").to_owned()),
                    content_type: Some("html".to_owned()),
                    ..Default::default()
                }),
                links,
                ..Default::default()
            }
        })
        .collect();
    let feed = Feed {
        id: channel.address.clone(),
        title: Text::plain(channel.title.as_str()),
        subtitle: Some(Text::plain(channel.description.as_str())),
        updated: last_modified.unwrap_or_else(|| Utc::now().fixed_offset()),
        links: vec![
            link(&channel.address, "self", Some(Format::Atom.media_type())),
            link(&channel.page, "alternate", Some("text/html")),
        ],
        entries,
        ..Default::default()
    };
    feed.to_string()
}

fn json_feed(channel: &Channel, items: &[Value]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|item| {
            json!({
                "id": text(item, "url"),
                "url": text(item, "url"),
                "external_url": item["canonicalUrl"],
                "title": text(item, "title"),
                "content_html": text(item, "bodyHtml"),
                "summary": text(item, "description"),
                "image": item["coverImageUrl"],
                "date_published": item["publishedAt"],
                "date_modified": updated(item).map(|t| t.to_rfc3339()),
                "authors": [{ "name": author_name(item), "url": item["author"]["url"] }],
                "tags": item["tagList"],
            })
        })
        .map(without_nulls)
        .collect();
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "home_page_url": channel.page,
        "feed_url": channel.address,
        "description": channel.description,
        "language": "en",
        "items": items,
    })
    .to_string()
}

/// JSON Feed leaves out what is unknown rather than writing null.
fn without_nulls(mut item: Value) -> Value {
    if let Some(object) = item.as_object_mut() {
        object.retain(|_, v| !v.is_null());
        for author in object
            .get_mut("authors")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(author) = author.as_object_mut() {
                author.retain(|_, v| !v.is_null());
            }
        }
    }
    item
}

fn author_name(item: &Value) -> &str {
    match (
        item["author"]["name"].as_str(),
        item["author"]["username"].as_str(),
    ) {
        (Some(name), _) if !name.is_empty() => name,
        (_, Some(username)) => username,
        _ => "[deleted]",
    }
}

fn tags(item: &Value) -> impl Iterator<Item = &str> {
    item["tagList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body("No such feed.")
}

fn failed(why: &str) -> Response {
    tracing::warn!(error = why, "a feed could not be built");
    let mut response = Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body("The feed is unavailable; try again in a moment.");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
