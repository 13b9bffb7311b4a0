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
    /// A rule on an input was broken; `field` names the input when there is one.
    #[error("{message}")]
    BadUserInput {
        field: Option<String>,
        message: String,
    },
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// Anything the client cannot act on. The cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
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

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
        }
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
                Self::bad_input(*field, *message)
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Constraints whose violation is the client's doing, each with the input field it is about
/// and what to tell the client: the one place a constraint name becomes an input error.
const CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "users_username_key",
        "username",
        "this username is already taken",
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
        "title",
        "a series of yours was given the same address at the same moment; try again",
    ),
];

impl From<redis::RedisError> for AppError {
    fn from(e: redis::RedisError) -> Self {
        Self::Internal(e.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;
