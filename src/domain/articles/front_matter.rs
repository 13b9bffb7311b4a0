//! Forem's YAML front matter: a `---` block at the top of the Markdown with `title`, `tags`,
//! `published`, `cover_image`, `canonical_url`, `description`, `series` and `date`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{AppError, AppResult};

/// Front matter larger than this is refused rather than parsed.
const MAX_FRONT_MATTER: usize = 16 * 1024;

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

fn parse(yaml: &str) -> AppResult<FrontMatter> {
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
    fn no_front_matter_and_bad_front_matter() {
        assert_eq!(split("# Just markdown").unwrap().0, FrontMatter::default());
        assert!(split("---\npublished: maybe\n---\nx").is_err());
        assert!(split("---\ntitle: [unclosed\n---\nx").is_err());
        assert!(split("---\n- a list\n---\nx").is_err());
    }
}
