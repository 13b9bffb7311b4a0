//! What every job handler is given and may answer: the contract between the queue and the
//! handlers (in `worker` and the domain's mailing).

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Settings;
use crate::error::AppError;
use crate::mail::Mailer;
use crate::pubsub::PubSub;

/// What handlers need.
#[derive(Clone)]
pub struct JobContext {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub mailer: Arc<Mailer>,
    pub pubsub: PubSub,
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another try later (a timeout, a 5xx, a 429).
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Will never succeed (a 4xx, a payload we cannot read).
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

/// A message the mailer could not send now is tried again; one it never will is not.
impl From<crate::mail::MailError> for JobError {
    fn from(e: crate::mail::MailError) -> Self {
        match e {
            crate::mail::MailError::Transient(m) => Self::Retry(anyhow::anyhow!(m)),
            crate::mail::MailError::Permanent(m) => Self::Permanent(anyhow::anyhow!(m)),
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        Self::Retry(e.into())
    }
}

/// A domain error is worth another try; its causes stay attached for the job's record.
impl From<AppError> for JobError {
    fn from(e: AppError) -> Self {
        match e {
            // Its own chain, once (the error's message repeats its cause).
            AppError::Internal(cause) => Self::Retry(cause),
            other => Self::Retry(anyhow::Error::new(other)),
        }
    }
}
