//! Markdown to safe HTML, once, at write time: comrak (GitHub-flavoured: tables,
//! strikethrough, autolinks, task lists, footnotes, heading anchors), then ammonia.
//!
//! Rendering is bounded whatever the input: the HTML sanitiser's work grows with the
//! square of the document's nesting (200 KB of `>` is 200,000 nested quotes and a minute
//! of CPU), and some constructs multiply in size (a heading anchor per line). So the
//! parsed document may nest at most [`MAX_DEPTH`] levels, the HTML may grow to at most
//! [`MAX_HTML_BYTES`] before sanitising, and the parse gives up after [`MAX_PARSE`].

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use comrak::arena_tree::NodeEdge;
use comrak::{Arena, Options};

/// How deep blocks and inlines may nest (a list item in a quote in a list counts three).
pub const MAX_DEPTH: usize = 48;
/// The largest HTML a document may render to, before sanitising.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;
/// The longest a parse may take, whatever slips past the bounds above.
const MAX_PARSE: Duration = Duration::from_secs(2);

/// Why a document was not rendered; the caller names its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    TooDeep,
    TooLarge,
    TooComplex,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooDeep => write!(f, "the Markdown nests more than {MAX_DEPTH} levels deep"),
            Self::TooLarge => write!(
                f,
                "the Markdown renders to more than {} MB of HTML",
                MAX_HTML_BYTES / (1024 * 1024)
            ),
            Self::TooComplex => f.write_str("the Markdown is too complex to render"),
        }
    }
}

static OPTIONS: LazyLock<Options<'static>> = LazyLock::new(|| {
    let mut options = Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.header_id_prefix = Some(String::new());
    // Raw HTML in the source is escaped, not passed through (ammonia would strip it anyway).
    options.render.r#unsafe = false;
    options
});

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow noopener noreferrer"))
        .add_tags(["input", "section"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes(
            "a",
            [
                "id",
                "class",
                "aria-label",
                "data-footnote-ref",
                "data-footnote-backref",
            ],
        )
        .add_tag_attributes("section", ["class", "data-footnotes"])
        .add_tag_attributes("li", ["id"])
        .add_tag_attributes("sup", ["class"])
        .add_tag_attributes("ol", ["class"]);
    for heading in ["h1", "h2", "h3", "h4", "h5", "h6"] {
        builder.add_tag_attributes(heading, ["id"]);
    }
    builder.attribute_filter(|element, attribute, value| match (element, attribute) {
        // Code blocks keep their language class only.
        ("code", "class") => value
            .split_whitespace()
            .find(|c| {
                c.strip_prefix("language-").is_some_and(|lang| {
                    !lang.is_empty()
                        && lang
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "+#-_.".contains(ch))
                })
            })
            .map(|c| c.to_owned().into()),
        ("input", "type") => (value == "checkbox").then(|| value.into()),
        ("a", "class") => (value == "anchor").then(|| value.into()),
        _ => Some(value.into()),
    });
    builder
});

/// A `fmt::Write` that refuses to grow past a limit.
struct Bounded {
    out: String,
    limit: usize,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.out.len() + s.len() > self.limit {
            return Err(fmt::Error);
        }
        self.out.push_str(s);
        Ok(())
    }
}

/// Renders and sanitises Markdown. CPU-bound (tens of milliseconds for the largest
/// articles): call it from a blocking thread.
pub fn render(markdown: &str) -> Result<String, Refused> {
    let arena = Arena::new();
    let deadline = Instant::now() + MAX_PARSE;
    let past_deadline = || Instant::now() >= deadline;
    let root = comrak::try_parse_document(&arena, markdown, &OPTIONS, &past_deadline)
        .map_err(|_| Refused::TooComplex)?;
    let (mut depth, mut deepest) = (0usize, 0usize);
    for edge in root.traverse() {
        match edge {
            NodeEdge::Start(_) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            NodeEdge::End(_) => depth -= 1,
        }
    }
    // The document node itself is the first level.
    if deepest > MAX_DEPTH + 1 {
        return Err(Refused::TooDeep);
    }
    let mut html = Bounded {
        out: String::with_capacity(markdown.len() * 2),
        limit: MAX_HTML_BYTES,
    };
    comrak::format_html(root, &OPTIONS, &mut html).map_err(|_| Refused::TooLarge)?;
    let mut clean = String::with_capacity(html.out.len());
    write!(clean, "{}", SANITIZER.clean(&html.out)).map_err(|_| Refused::TooLarge)?;
    Ok(clean)
}

/// The text of rendered HTML, for descriptions and word counts.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Minutes to read: words / 275, rounded up, at least 1.
pub fn reading_time(text: &str) -> i32 {
    let words = text.split_whitespace().count();
    i32::try_from(words.div_ceil(275))
        .unwrap_or(i32::MAX)
        .max(1)
}

/// The distinct `@username` mentions in Markdown, outside code.
pub fn mentions(markdown: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut in_code = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                in_code = !in_code;
            } else if c == '@'
                && !in_code
                && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
            {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || **ch == '_')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if name.len() >= 3 && !found.contains(&name) {
                    found.push(name.clone());
                }
                i += name.len();
            }
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfm_renders_and_dangerous_html_does_not_survive() {
        let html = render(
            "# Hello World\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ https://example.com\n\n- [x] done\n\nNote[^1]\n\n[^1]: A footnote.\n\n```rust\nfn main() {}\n```\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        )
        .unwrap();
        assert!(html.contains("<h1 id=\"hello-world\">"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<del>old</del>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://example.com\" rel=\"nofollow noopener noreferrer\">"),
            "{html}"
        );
        assert!(html.contains("type=\"checkbox\""), "{html}");
        assert!(html.contains("<code class=\"language-rust\">"), "{html}");
        assert!(html.contains("footnote"), "{html}");
        assert!(
            !html.contains("<script") && !html.contains("javascript:") && !html.contains("onerror"),
            "{html}"
        );
    }

    #[test]
    fn inline_html_is_dropped() {
        assert_eq!(render("Great <b>post</b>").unwrap(), "<p>Great post</p>\n");
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        // 200 KB of quote markers is 200,000 nested quotes: refused after the parse,
        // before the sanitiser would spend minutes on it.
        let quotes = ">".repeat(200_000) + " x";
        assert_eq!(render(&quotes), Err(Refused::TooDeep));
        // A heading anchor per line multiplies the size; past the cap it is refused.
        let headings = "# a\n".repeat(200_000);
        assert_eq!(render(&headings), Err(Refused::TooLarge));
        // Ordinary nesting renders.
        let nested = "> - a\n>   - b\n>     > *c **d***\n";
        assert!(render(nested).unwrap().contains("<strong>"));
    }

    #[test]
    fn text_reading_time_and_mentions() {
        assert_eq!(plain_text("<p>Hi &amp; <b>bye</b></p>"), "Hi & bye");
        assert_eq!(reading_time("word "), 1);
        assert_eq!(reading_time(&"word ".repeat(276)), 2);
        assert_eq!(
            mentions("hi @Ada and @bob_1, not a@b.c or `@code`\n```\n@fenced\n```\n@ada again"),
            vec!["ada", "bob_1"]
        );
    }
}
