//! Logs (pretty in development, JSON in production) and Sentry.

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use sentry_tracing::{BreadcrumbLayer, ErrorLayer};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, Settings};

pub const DEFAULT_FILTER: &str = "info,sqlx=warn,poem=warn";

/// Starts Sentry when `SENTRY_DSN` is set. Must run before the async runtime starts; keep
/// the guard alive for the life of the process (it flushes on drop).
pub fn init_sentry(settings: &Settings) -> Option<sentry::ClientInitGuard> {
    let dsn = settings.sentry_dsn.as_ref()?.expose_secret();
    let dsn = match dsn.parse::<sentry::types::Dsn>() {
        Ok(dsn) => dsn,
        Err(_) => {
            eprintln!("SENTRY_DSN is not a valid DSN; Sentry is off");
            return None;
        }
    };
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = sentry::release_name!();
    options.environment = Some(settings.sentry_environment().into());
    options.send_default_pii = false;
    options.attach_stacktrace = true;
    Some(sentry::init(options))
}

/// Installs the global subscriber: the configured format on stdout (stderr for commands
/// whose stdout is their output), and Sentry layers that turn error events into Sentry
/// events and keep info events as breadcrumbs.
pub fn init_tracing(settings: &Settings, to_stderr: bool) {
    let writer = move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = match settings.log_format() {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter())
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_filter(filter())
            .boxed(),
    };
    let sentry_on = settings.sentry_dsn.is_some();
    tracing_subscriber::registry()
        .with(fmt)
        .with(sentry_on.then(|| ErrorLayer::new().with_filter(LevelFilter::ERROR)))
        .with(sentry_on.then(|| BreadcrumbLayer::new().with_filter(LevelFilter::INFO)))
        .try_init()
        .ok();
}

/// A request's id (`X-Request-Id`): the caller's when it is sane, generated otherwise.
#[derive(Debug, Clone)]
pub struct RequestId(Arc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_header(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| Self(value.into()))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string().into())
    }
}
