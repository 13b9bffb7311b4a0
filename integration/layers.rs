//! The module graph is a DAG: each module uses only modules of the layers below its own.
//! Read from the `crate::` paths of the sources (test modules aside), like
//! `shared/tools/layers.py`, for the crate's top-level modules and for the domain's areas.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The crate's top-level modules, top layer first. A module may use modules of any later
/// layer, never one of its own layer or above.
const TOP: &[&[&str]] = &[
    &["cli"],
    &["startup"],
    &["http"],
    &["graphql", "worker"],
    &["state"],
    &["domain"],
    &["jobs", "events", "limits", "storage"],
    &["mail", "pubsub", "images", "health", "db", "outbound"],
    &["cache", "metrics", "telemetry"],
    &["config", "error", "ids", "text"],
];

/// The domain's areas, top layer first.
const DOMAIN: &[&[&str]] = &[
    &["webhooks", "imports", "notification_mail", "portability"],
    &["erasure", "reactions", "standing"],
    &["moderation", "search", "feeds"],
    &["comments"],
    &["articles"],
    &[
        "tags",
        "media",
        "follows",
        "blocks",
        "notifications",
        "syndication",
        "revisions",
        "organizations",
    ],
    &["accounts", "spam"],
    &["outbox", "audit", "ranking", "markdown", "page"],
];

/// The modules a source file names, from `prefix` paths (`crate::x`, `crate::{x, y::z}`).
fn named(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let after = &rest[at + prefix.len()..];
        rest = after;
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    c if c.is_whitespace() => {}
                    _ => item_start = false,
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The part of a file that shapes the architecture: test modules dropped.
fn without_tests(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// Every edge `from -> to` between the modules of `dir` that breaks the order of `layers`,
/// and every module of `dir` that has no layer. `prefixes(depth)` are the path prefixes
/// that name a sibling module from a file `depth` folders below a module's own root.
fn violations(
    dir: &Path,
    layers: &[&[&str]],
    prefixes: &dyn Fn(usize) -> Vec<String>,
) -> Vec<String> {
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    collect(dir, &mut files);
    for path in files {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let parts: Vec<_> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let module = parts[0].trim_end_matches(".rs").to_owned();
        if matches!(module.as_str(), "lib" | "main" | "mod") {
            continue;
        }
        let Some(&from) = rank.get(module.as_str()) else {
            problems.push(format!("{module} has no layer"));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let text = without_tests(&text);
        let depth = parts.len() - 1;
        for prefix in prefixes(depth) {
            for target in named(text, &prefix) {
                if target == module {
                    continue;
                }
                if let Some(&to) = rank.get(target.as_str())
                    && to <= from
                {
                    problems.push(format!("{module} -> {target} ({})", rel.display()));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top_prefixes(_depth: usize) -> Vec<String> {
    vec!["crate::".to_owned()]
}

fn domain_prefixes(depth: usize) -> Vec<String> {
    // From `domain/x.rs`, `super::` names a sibling; from `domain/x/y.rs`, `super::super::`.
    vec![
        "crate::domain::".to_owned(),
        format!("{}::", vec!["super"; depth + 1].join("::")),
    ]
}

#[test]
fn top_level_modules_only_use_the_layers_below() {
    let problems = violations(&src(), TOP, &top_prefixes);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn domain_areas_only_use_the_areas_below() {
    let problems = violations(&src().join("domain"), DOMAIN, &domain_prefixes);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The checker finds what it is for: each back-edge the layers were untangled from.
#[test]
fn the_checker_sees_back_edges() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "state.rs",
        "use crate::http::pages::Assets;\nuse crate::{config, graphql::loaders::EventLoaders};",
    );
    write("graphql/api.rs", "use crate::http::request_id::RequestId;");
    write(
        "mail/mod.rs",
        "fn f() { crate::http::pages::escape(\"\"); }",
    );
    write("metrics.rs", "use crate::state::AppState;");
    write(
        "health.rs",
        "use crate::state::AppState;\n#[cfg(test)]\nmod tests { use crate::cli; }",
    );
    write("storage.rs", "use crate::domain::media::inspect::Cleaned;");
    write("jobs/queue.rs", "use crate::domain::articles;");
    write("config.rs", "// no edges\nfn local_crate::x() {}");
    let problems = violations(&dir, TOP, &top_prefixes);
    assert_eq!(
        problems,
        [
            "graphql -> http (graphql/api.rs)",
            "health -> state (health.rs)",
            "jobs -> domain (jobs/queue.rs)",
            "mail -> http (mail/mod.rs)",
            "metrics -> state (metrics.rs)",
            "state -> graphql (state.rs)",
            "state -> http (state.rs)",
            "storage -> domain (storage.rs)",
        ]
    );

    write(
        "domain/moderation.rs",
        "use crate::domain::comments;\nuse super::articles;",
    );
    write(
        "domain/accounts/service.rs",
        "use super::super::moderation::audit;\nuse super::repo;",
    );
    write(
        "domain/comments.rs",
        "use crate::domain::moderation::{self, Subject};",
    );
    write(
        "domain/articles/service.rs",
        "crate::domain::feeds::refresh_one();",
    );
    let problems = violations(&dir.join("domain"), DOMAIN, &domain_prefixes);
    assert_eq!(
        problems,
        [
            "accounts -> moderation (accounts/service.rs)",
            "articles -> feeds (articles/service.rs)",
            "comments -> moderation (comments.rs)",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
