//! Members and the values they are made of. Inputs are parsed into these types at the
//! edge, so an invalid username, email or password cannot exist past it.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{AppError, AppResult, Problem};
use crate::ids::{ApiKeyId, SessionId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Suspended,
    Member,
    Trusted,
    Moderator,
    Admin,
}

crate::text_enum!(Role {
    Suspended = "suspended",
    Member = "member",
    Trusted = "trusted",
    Moderator = "moderator",
    Admin = "admin",
});

impl Role {
    /// A role as an operator types it (any case, spaces around).
    pub fn parse(text: &str) -> Option<Self> {
        Self::from_stored(text.trim().to_ascii_lowercase().as_str())
    }
}

/// A member as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub suspended_reason: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub pending_email: Option<String>,
    pub bio: String,
    pub location: String,
    pub website_url: Option<String>,
    pub github_username: Option<String>,
    pub twitter_username: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Live articles.
    pub articles_count: i32,
    pub followers_count: i32,
    pub following_count: i32,
    /// An uploaded avatar (its 320 px square copy).
    pub avatar_url: Option<String>,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }
}

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: UserId,
    pub role: Role,
    pub email_confirmed: bool,
    pub suspended_reason: Option<String>,
    /// When the account was created: young accounts write at lower rates.
    pub member_since: DateTime<Utc>,
    /// The session the request came with (not set for API keys).
    pub session_id: Option<SessionId>,
    pub api_key_id: Option<ApiKeyId>,
    /// When the credential stops working (sessions expire; API keys do not).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Viewer {
    /// Whether `other` is the same member in the same standing: what an open connection
    /// was authorised with still holds.
    pub fn same_standing(&self, other: &Viewer) -> bool {
        self.user_id == other.user_id
            && self.role == other.role
            && self.suspended_reason == other.suspended_reason
            && self.email_confirmed == other.email_confirmed
    }
}

impl Viewer {
    /// Members who may write: everyone but the suspended.
    pub fn require_writer(&self) -> AppResult<()> {
        if self.role == Role::Suspended {
            let reason = self
                .suspended_reason
                .as_deref()
                .unwrap_or("your account is suspended");
            return Err(AppError::Forbidden(format!(
                "Your account is suspended: {reason}"
            )));
        }
        Ok(())
    }

    /// Members who may publish: writers, with a confirmed email when the instance asks for it.
    pub fn require_publisher(&self, require_confirmed_email: bool) -> AppResult<()> {
        self.require_writer()?;
        if require_confirmed_email && !self.email_confirmed {
            return Err(AppError::Forbidden(
                "Confirm your email address before publishing".to_owned(),
            ));
        }
        Ok(())
    }

    pub fn require_role(&self, role: Role) -> AppResult<()> {
        self.require_writer()?;
        if self.role < role {
            return Err(AppError::Forbidden(format!(
                "This needs the {} role",
                role.as_str()
            )));
        }
        Ok(())
    }
}

/// Names no member may take: they collide with routes or suggest authority.
pub const RESERVED_USERNAMES: &[&str] = &[
    "admin",
    "administrator",
    "unsubscribe",
    "feeds",
    "api",
    "graphql",
    "graphiql",
    "settings",
    "new",
    "login",
    "logout",
    "signin",
    "signup",
    "register",
    "root",
    "system",
    "support",
    "help",
    "about",
    "moderator",
    "mod",
    "modlog",
    "auth",
    "exports",
    "staff",
    "team",
    "owner",
    "me",
    "null",
    "undefined",
    "uploads",
    "assets",
    "static",
    "search",
    "tags",
    "t",
    "dashboard",
    "notifications",
    "readinglist",
    "vibecoding",
    "health",
    "metrics",
    "security",
    "privacy",
    "terms",
    "feed",
    "rss",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let name = raw.trim().to_ascii_lowercase();
        let field = |m: &str| AppError::bad_input("username", m);
        let length = name.chars().count();
        if !(3..=30).contains(&length) {
            let problem = match length {
                0 => Problem::Blank,
                1..3 => Problem::TooShort,
                _ => Problem::TooLong,
            };
            return Err(AppError::invalid(
                "username",
                problem,
                "username must be 3 to 30 characters long",
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(field(
                "username may only contain letters, digits and underscores",
            ));
        }
        if RESERVED_USERNAMES.contains(&name.as_str()) {
            return Err(AppError::invalid(
                "username",
                Problem::Taken,
                "this username is reserved",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// [`EmailAddress::parse`] for an argument named otherwise than `email`.
    pub fn parse_field(field: &str, raw: &str) -> AppResult<Self> {
        Self::parse(raw)
            .map_err(|_| AppError::bad_input(field, format!("{field} is not a valid address")))
    }

    /// Trims and lower-cases the address; checks its shape (the confirmation email checks
    /// that it exists).
    pub fn parse(raw: &str) -> AppResult<Self> {
        let email = raw.trim().to_lowercase();
        let invalid = || AppError::bad_input("email", "email is not a valid address");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// A new password: 8 to 128 characters, not the username or the email.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn parse(
        field: &str,
        raw: &SecretString,
        username: &str,
        email: Option<&str>,
    ) -> AppResult<Self> {
        let text = raw.expose_secret();
        let length = text.chars().count();
        if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
            return Err(AppError::invalid(
                field,
                if length < MIN_PASSWORD {
                    Problem::TooShort
                } else {
                    Problem::TooLong
                },
                format!("password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long"),
            ));
        }
        let lower = text.to_lowercase();
        if lower == username.to_lowercase() || email.is_some_and(|e| lower == e.to_lowercase()) {
            return Err(AppError::bad_input(
                field,
                "password must not be your username or email",
            ));
        }
        Ok(Self(raw.clone()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A display name: at most 100 characters, no control characters.
pub fn parse_name(raw: &str) -> AppResult<String> {
    bounded_text("name", raw, 100)
}

pub fn bounded_text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(AppError::invalid(
            field,
            Problem::TooLong,
            format!("{field} must be at most {max} characters long"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::bad_input(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(text.to_owned())
}

/// An absolute http(s) URL of at most `max` characters.
pub fn parse_http_url(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let url = raw.trim();
    let invalid =
        || AppError::bad_input(field, format!("{field} must be an http:// or https:// URL"));
    if url.chars().count() > max {
        return Err(AppError::invalid(
            field,
            Problem::TooLong,
            format!("{field} must be at most {max} characters long"),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
    {
        return Err(invalid());
    }
    Ok(url.to_owned())
}

/// A handle on another site: 1 to `max` characters of letters, digits and `allowed`.
pub fn parse_handle(field: &str, raw: &str, max: usize, allowed: char) -> AppResult<String> {
    let handle = raw.trim().trim_start_matches('@');
    if handle.is_empty()
        || handle.chars().count() > max
        || !handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == allowed)
    {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be 1 to {max} letters, digits or '{allowed}'"),
        ));
    }
    Ok(handle.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Ada_99 ").unwrap().as_str(), "ada_99");
        for bad in [
            "ab",
            "a".repeat(31).as_str(),
            "ada lovelace",
            "ada-l",
            "admin",
            "GraphiQL",
            "名前名前",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa..mple.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        let p = |s: &str| SecretString::from(s.to_owned());
        assert!(
            NewPassword::parse("password", &p("correct horse"), "ada", Some("ada@x.io")).is_ok()
        );
        assert!(NewPassword::parse("password", &p("short"), "ada", None).is_err());
        assert!(NewPassword::parse("password", &p(&"x".repeat(129)), "ada", None).is_err());
        assert!(NewPassword::parse("password", &p("Ada_Lovelace"), "ada_lovelace", None).is_err());
        assert!(NewPassword::parse("password", &p("ada@x.io"), "ada", Some("ada@x.io")).is_err());
    }

    #[test]
    fn urls_and_handles() {
        assert!(parse_http_url("websiteUrl", "https://ada.dev/about", 100).is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x.io",
            "https://",
            "http://a b.io",
        ] {
            assert!(parse_http_url("websiteUrl", bad, 100).is_err(), "{bad}");
        }
        assert_eq!(
            parse_handle("githubUsername", "@ada-l", 39, '-').unwrap(),
            "ada-l"
        );
        assert!(parse_handle("twitterUsername", "ada-l", 15, '_').is_err());
    }
}
