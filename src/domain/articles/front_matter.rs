//! Forem's YAML front matter: a `---` block at the top of the Markdown with `title`, `tags`,
//! `published`, `cover_image`, `canonical_url`, `description`, `series` and `date`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{AppError, AppResult};

/// Front matter larger than this is refused rather than parsed.
const MAX_FRONT_MATTER: usize = 16 * 1024;
/// Most values (scalars, lists, maps) in the front matter.
const MAX_NODES: usize = 500;
/// How deep lists and maps may nest in it.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    pub published: Option<bool>,
    pub cover_image: Option<String>,
    pub canonical_url: Option<String>,
    pub description: Option<String>,
    pub series: Option<String>,
    pub date: Option<DateTime<Utc>>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::bad_input("bodyMarkdown", format!("front matter: {}", message.into()))
}

/// Splits the front matter from the Markdown that follows it.
pub fn split(markdown: &str) -> AppResult<(FrontMatter, &str)> {
    let trimmed = markdown.trim_start_matches('\u{feff}');
    let Some(rest) = trimmed
        .strip_prefix("---\n")
        .or_else(|| trimmed.strip_prefix("---\r\n"))
    else {
        return Ok((FrontMatter::default(), markdown));
    };
    let Some(end) = rest
        .find("\n---\n")
        .map(|i| (i, i + 5))
        .or_else(|| rest.find("\r\n---\r\n").map(|i| (i, i + 7)))
        .or_else(|| rest.strip_suffix("\n---").map(|r| (r.len(), rest.len())))
    else {
        return Ok((FrontMatter::default(), markdown));
    };
    let (yaml, body) = (&rest[..end.0], &rest[end.1..]);
    if yaml.len() > MAX_FRONT_MATTER {
        return Err(invalid("too long"));
    }
    Ok((parse(yaml)?, body))
}

fn text(value: &Yaml, key: &str) -> AppResult<Option<String>> {
    match value {
        Yaml::BadValue | Yaml::Null => Ok(None),
        Yaml::String(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Yaml::Integer(i) => Ok(Some(i.to_string())),
        Yaml::Real(r) => Ok(Some(r.clone())),
        _ => Err(invalid(format!("{key} must be text"))),
    }
}

/// Reads the YAML's events before anything is built from them. An alias makes the loader
/// deep-copy what its anchor names, so a few hundred bytes of nested aliases would expand
/// to gigabytes: anchors and aliases are refused, as are too many values, too deep a
/// nesting and control characters in any value.
#[derive(Default)]
struct Check {
    nodes: usize,
    depth: usize,
    problem: Option<String>,
}

impl Check {
    fn refuse(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    fn node(&mut self, anchor: usize) {
        self.nodes += 1;
        if self.nodes == MAX_NODES + 1 {
            self.refuse(format!("at most {MAX_NODES} values are allowed"));
        }
        if anchor != 0 {
            self.refuse("anchors (&) are not allowed".to_owned());
        }
    }
}

impl MarkedEventReceiver for Check {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Alias(_) => self.refuse("aliases (*) are not allowed".to_owned()),
            Event::Scalar(value, _, anchor, _) => {
                self.node(anchor);
                if let Some(c) = crate::text::forbidden_char(&value) {
                    self.refuse(format!(
                        "a value contains the control character {}",
                        crate::text::describe(c)
                    ));
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.node(anchor);
                self.depth += 1;
                if self.depth == MAX_DEPTH + 1 {
                    self.refuse(format!("lists and maps may nest at most {MAX_DEPTH} deep"));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }
}

fn parse(yaml: &str) -> AppResult<FrontMatter> {
    let mut check = Check::default();
    Parser::new_from_str(yaml)
        .load(&mut check, true)
        .map_err(|e| invalid(e.to_string()))?;
    if let Some(problem) = check.problem {
        return Err(invalid(problem));
    }
    let documents = YamlLoader::load_from_str(yaml).map_err(|e| invalid(e.to_string()))?;
    let Some(doc) = documents.into_iter().next() else {
        return Ok(FrontMatter::default());
    };
    if !matches!(doc, Yaml::Hash(_)) {
        return Err(invalid("expected `key: value` lines"));
    }
    let tags = match &doc["tags"] {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::String(s) => Some(
            s.split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
        ),
        Yaml::Array(items) => Some(
            items
                .iter()
                .map(|item| text(item, "tags").map(Option::unwrap_or_default))
                .collect::<AppResult<Vec<_>>>()?,
        ),
        _ => return Err(invalid("tags must be a list or comma-separated text")),
    };
    let published = match &doc["published"] {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::Boolean(b) => Some(*b),
        _ => return Err(invalid("published must be true or false")),
    };
    let date = text(&doc["date"], "date")?
        .map(|d| parse_date(&d).ok_or_else(|| invalid(format!("date {d:?} is not a date"))))
        .transpose()?;
    Ok(FrontMatter {
        title: text(&doc["title"], "title")?,
        tags,
        published,
        cover_image: text(&doc["cover_image"], "cover_image")?,
        canonical_url: text(&doc["canonical_url"], "canonical_url")?,
        description: text(&doc["description"], "description")?,
        series: text(&doc["series"], "series")?,
        date,
    })
}

/// RFC 3339, `YYYY-MM-DD HH:MM[:SS] [UTC]`, or a bare date (midnight UTC).
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    let naive = text.trim_end_matches("UTC").trim_end_matches('Z').trim();
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_forem_front_matter() {
        let (fm, body) = split(
            "---\ntitle: Hello, World!\npublished: true\ntags: rust, webdev\ncover_image: https://x.io/c.png\ncanonical_url: https://blog.example/hello\ndescription: A greeting\nseries: Greetings\ndate: 2026-12-01 10:00 UTC\n---\n\n# Body\n",
        )
        .unwrap();
        assert_eq!(fm.title.as_deref(), Some("Hello, World!"));
        assert_eq!(fm.published, Some(true));
        assert_eq!(fm.tags, Some(vec!["rust".to_owned(), "webdev".to_owned()]));
        assert_eq!(fm.series.as_deref(), Some("Greetings"));
        assert_eq!(fm.date.unwrap().to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert_eq!(body, "\n# Body\n");
        let (fm, _) = split("---\ntags: [a, b]\n---\nx").unwrap();
        assert_eq!(fm.tags, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn aliases_and_bombs_are_refused_before_they_expand() {
        // Six levels of ten aliases: a million strings once expanded.
        let mut yaml = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            yaml.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let error = split(&format!("---\n{yaml}title: t\n---\nbody")).unwrap_err();
        assert!(error.to_string().contains("front matter"), "{error}");
        assert!(split("---\ntitle: &t x\n---\n").is_err());
        let many = (0..600)
            .map(|i| format!("k{i}: v"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            split(&format!("---\n{many}\n---\n"))
                .unwrap_err()
                .to_string()
                .contains("500")
        );
        let deep = format!("x: {}1{}", "[".repeat(9), "]".repeat(9));
        assert!(
            split(&format!("---\n{deep}\n---\n"))
                .unwrap_err()
                .to_string()
                .contains("nest")
        );
        let nul = split("---\ntitle: \"a\\0b\"\n---\n").unwrap_err();
        assert!(nul.to_string().contains("U+0000"), "{nul}");
    }

    #[test]
    fn no_front_matter_and_bad_front_matter() {
        assert_eq!(split("# Just markdown").unwrap().0, FrontMatter::default());
        assert!(split("---\npublished: maybe\n---\nx").is_err());
        assert!(split("---\ntitle: [unclosed\n---\nx").is_err());
        assert!(split("---\n- a list\n---\nx").is_err());
    }
}
