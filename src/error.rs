//! One error type for every layer, with a stable code the GraphQL edge exposes as
//! `extensions.code`. Internal causes are kept for logs and Sentry, never shown to clients.

use std::fmt;

/// The stable codes clients can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    RateLimited,
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::BadUserInput,
        Self::RateLimited,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Rules on the input were broken: one entry per field, never empty.
    #[error("{}", invalid_message(.0))]
    BadUserInput(Vec<Invalid>),
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// Anything the client cannot act on. The cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

/// The [`AppError`] behind an error the engine carries, whether the resolver returned it
/// as is or shared it (a loader's `Arc<AppError>`).
pub fn app_error(source: &(dyn std::any::Any + Send + Sync)) -> Option<&AppError> {
    source.downcast_ref::<AppError>().or_else(|| {
        source
            .downcast_ref::<std::sync::Arc<AppError>>()
            .map(|shared| shared.as_ref())
    })
}

/// The message clients see for every internal error.
pub const INTERNAL_MESSAGE: &str = "Internal server error";

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// `field` broke a rule: [`Problem::Invalid`].
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(field, Problem::Invalid, message)
    }

    /// The same error, with input field `from` called `to` (a rule shared by mutations
    /// whose inputs name the field differently).
    pub fn renaming(mut self, from: &str, to: &str) -> Self {
        if let Self::BadUserInput(all) = &mut self {
            for invalid in all.iter_mut().filter(|i| i.field.as_deref() == Some(from)) {
                invalid.field = Some(to.to_owned());
                invalid.message = invalid.message.replacen(from, to, 1);
            }
        }
        self
    }

    /// A rule about the input as a whole (no one field) was broken.
    pub fn input_rule(message: impl Into<String>) -> Self {
        Self::BadUserInput(vec![Invalid {
            field: None,
            problem: Problem::Invalid,
            message: message.into(),
        }])
    }

    /// `field` broke a rule of the kind `problem`.
    pub fn invalid(field: impl Into<String>, problem: Problem, message: impl Into<String>) -> Self {
        Self::BadUserInput(vec![Invalid {
            field: Some(field.into()),
            problem,
            message: message.into(),
        }])
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// What a client may read: the message, or a generic one for internal errors.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        }
    }
}

/// What kind of rule an input broke, for clients that branch on it (a form shows "taken"
/// differently from "too long").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Missing or empty where a value is required.
    Blank,
    /// Shorter than the rule allows.
    TooShort,
    /// Longer (or more of them) than the rule allows.
    TooLong,
    /// Already used by someone or something else.
    Taken,
    /// Any other rule: a format, a state the subject is not in, a reference to nothing.
    Invalid,
}

/// One input field that broke a rule.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// The input field's name as the schema spells it, when the rule is about one.
    pub field: Option<String>,
    pub problem: Problem,
    /// A sentence for the person who filled the field in.
    pub message: String,
}

fn invalid_message(all: &[Invalid]) -> String {
    all.iter()
        .map(|i| i.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks several inputs and reports every one that is invalid, not just the first: a tuple
/// of results becomes a result of the tuple. Input errors are gathered; any other error
/// (internal, forbidden) wins at once, as it would alone.
///
/// ```ignore
/// let (email, username) = (EmailAddress::parse(e), Username::parse(u)).all_valid()?;
/// ```
pub trait AllValid {
    type Valid;
    fn all_valid(self) -> AppResult<Self::Valid>;
}

/// Keeps `result`'s value, or adds its input errors to `invalid`; any other error is returned.
fn gather<T>(result: AppResult<T>, invalid: &mut Vec<Invalid>) -> AppResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(AppError::BadUserInput(mut found)) => {
            invalid.append(&mut found);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

macro_rules! all_valid_tuple {
    ($($t:ident $v:ident $i:tt),+) => {
        impl<$($t),+> AllValid for ($(AppResult<$t>,)+) {
            type Valid = ($($t,)+);
            fn all_valid(self) -> AppResult<Self::Valid> {
                let mut invalid = Vec::new();
                $(let $v = gather(self.$i, &mut invalid)?;)+
                match ($($v,)+) {
                    ($(Some($v),)+) => Ok(($($v,)+)),
                    _ => Err(AppError::BadUserInput(invalid)),
                }
            }
        }
    };
}

all_valid_tuple!(A a 0, B b 1);
all_valid_tuple!(A a 0, B b 1, C c 2);
all_valid_tuple!(A a 0, B b 1, C c 2, D d 3);
all_valid_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4);
all_valid_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
all_valid_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
all_valid_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);

/// Postgres' code for a statement cancelled by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound("Not found".to_owned()),
            // Every connection is busy: the client may try again in a moment. Not a bug,
            // and not a reason to queue without end.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection became free in time");
                Self::RateLimited {
                    message: "The server is busy; try again in a moment".to_owned(),
                    retry_after: 1,
                }
            }
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
                tracing::warn!(error = %db, "a statement ran past statement_timeout");
                Self::RateLimited {
                    message: "The request took too long; try again later or ask for less"
                        .to_owned(),
                    retry_after: 5,
                }
            }
            sqlx::Error::Database(db)
                if let Some((_, field, message)) = CONSTRAINTS
                    .iter()
                    .find(|(name, _, _)| db.constraint() == Some(*name)) =>
            {
                Self::invalid(*field, Problem::Taken, *message)
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Constraints whose violation is the client's doing, each with the input field it is about
/// and what to tell the client: the one place a constraint name becomes an input error.
const CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "identities_user_provider_key",
        "provider",
        "another account at this provider is already linked: unlink it first",
    ),
    (
        "identities_subject_key",
        "provider",
        "this account at the provider already signs in another member",
    ),
    (
        "users_username_key",
        "username",
        "this username is already taken",
    ),
    (
        "profile_name_taken",
        "username",
        "this name is already taken by a member or an organization",
    ),
    (
        "organizations_slug_key",
        "slug",
        "this name is already taken by a member or an organization",
    ),
    (
        "users_email_key",
        "email",
        "this email is already registered",
    ),
    (
        "articles_canonical_url_key",
        "canonicalUrl",
        "another published article already uses this canonical URL",
    ),
    (
        "comments_no_duplicates",
        "bodyMarkdown",
        "you already posted this comment here",
    ),
    (
        "reports_once",
        "subjectId",
        "you already reported this; moderators will look at it",
    ),
    (
        "series_user_title_key",
        "title",
        "you already have a series with this title",
    ),
    (
        "series_user_slug_key",
        "series",
        "a series of yours was given the same address at the same moment; try again",
    ),
];

impl From<redis::RedisError> for AppError {
    fn from(e: redis::RedisError) -> Self {
        Self::Internal(e.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &str, ok: bool) -> AppResult<&str> {
        if ok {
            Ok(field)
        } else {
            Err(AppError::invalid(
                field,
                Problem::TooLong,
                format!("{field} is too long"),
            ))
        }
    }

    #[test]
    fn every_invalid_field_is_reported_and_other_errors_win() {
        let Err(AppError::BadUserInput(all)) = (
            check("title", false),
            check("tags", true),
            check("body", false),
        )
            .all_valid()
        else {
            panic!("two fields are invalid");
        };
        let fields: Vec<_> = all.iter().map(|i| i.field.as_deref().unwrap()).collect();
        assert_eq!(fields, ["title", "body"]);
        assert_eq!(
            AppError::BadUserInput(all).to_string(),
            "title is too long; body is too long"
        );
        assert!(matches!(
            (check("a", true), check("b", true)).all_valid(),
            Ok(("a", "b"))
        ));
        let forbidden: AppResult<()> = Err(AppError::Forbidden("no".into()));
        assert!(matches!(
            (check("a", false), forbidden).all_valid(),
            Err(AppError::Forbidden(_))
        ));
    }
}
