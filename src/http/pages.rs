//! HTML pages: the landing page and the GraphiQL playground, whose scripts and styles this
//! server serves itself (installed from the npm registry into `web/node_modules`), so the
//! playground works without internet access.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Path as UrlPath};
use poem::{Response, handler};

/// The files GraphiQL needs: the name served under `/graphiql/assets/`, the file in the
/// assets directory, and its content type.
pub const GRAPHIQL_ASSETS: &[(&str, &str, &str)] = &[
    (
        "react.js",
        "react/umd/react.production.min.js",
        "text/javascript",
    ),
    (
        "react-dom.js",
        "react-dom/umd/react-dom.production.min.js",
        "text/javascript",
    ),
    ("graphiql.js", "graphiql/graphiql.min.js", "text/javascript"),
    ("graphiql.css", "graphiql/graphiql.min.css", "text/css"),
    (
        "graphql-ws.js",
        "graphql-ws/umd/graphql-ws.min.js",
        "text/javascript",
    ),
];

const INIT_SCRIPT: &str = include_str!("graphiql-init.js");

#[derive(Default)]
pub struct Assets {
    files: HashMap<&'static str, (&'static str, Vec<u8>)>,
    missing: Vec<&'static str>,
}

impl Assets {
    /// Reads the playground's files once, at start-up.
    pub fn load(dir: &Path) -> Self {
        let mut assets = Self::default();
        for (name, file, content_type) in GRAPHIQL_ASSETS {
            match std::fs::read(dir.join(file)) {
                Ok(bytes) => {
                    assets.files.insert(name, (content_type, bytes));
                }
                Err(_) => assets.missing.push(file),
            }
        }
        if !assets.missing.is_empty() {
            tracing::warn!(
                dir = %dir.display(),
                missing = ?assets.missing,
                "GraphiQL assets not found; run `make assets`"
            );
        }
        assets
    }

    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

fn html(body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
}

/// No icon yet: an empty answer browsers cache, instead of a 404 on every page.
#[handler]
pub async fn favicon() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .finish()
}

#[handler]
pub async fn graphiql(Data(assets): Data<&SharedAssets>) -> Response {
    let notice = if assets.complete() {
        String::new()
    } else {
        "<p style=\"font-family:sans-serif;padding:1rem\">The GraphiQL files are not installed on this server: run <code>make assets</code> and restart.</p>".to_owned()
    };
    html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Vibecoding Community</title>
<link rel="stylesheet" href="/graphiql/assets/graphiql.css">
<style>html,body,#graphiql{{height:100%;margin:0;overflow:hidden}}</style>
</head>
<body>
{notice}<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/assets/react.js"></script>
<script src="/graphiql/assets/react-dom.js"></script>
<script src="/graphiql/assets/graphql-ws.js"></script>
<script src="/graphiql/assets/graphiql.js"></script>
<script src="/graphiql/assets/init.js"></script>
</body>
</html>
"#
    ))
}

#[handler]
pub async fn graphiql_asset(
    UrlPath(name): UrlPath<String>,
    Data(assets): Data<&SharedAssets>,
) -> Response {
    let immutable = "public, max-age=86400";
    if name == "init.js" {
        return Response::builder()
            .content_type("text/javascript; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(INIT_SCRIPT);
    }
    match assets.files.get(name.as_str()) {
        Some((content_type, bytes)) => Response::builder()
            .content_type(format!("{content_type}; charset=utf-8"))
            .header(header::CACHE_CONTROL, immutable)
            .body(bytes.clone()),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}

pub type SharedAssets = Arc<Assets>;
