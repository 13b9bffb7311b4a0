//! argon2id hashing, off the async threads, at most one hash per core at a time: each
//! takes 19 MiB and tens of milliseconds, so a burst of sign-ins must wait its turn rather
//! than fill the blocking pool and the memory. A request that waits longer than
//! [`MAX_WAIT`] is told the server is busy.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult};

/// The longest a password check waits for its turn.
const MAX_WAIT: Duration = Duration::from_secs(5);

fn permits() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static PERMITS: OnceLock<std::sync::Arc<tokio::sync::Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
    })
}

/// Runs `work` on a blocking thread once a hashing slot is free. The slot goes with the
/// work: a caller that gives up (its client went away) does not free it while the hash
/// still runs.
async fn with_permit<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let permit = tokio::time::timeout(MAX_WAIT, permits().clone().acquire_owned())
        .await
        .map_err(|_| AppError::RateLimited {
            message: "The server is busy checking passwords; try again in a moment".to_owned(),
            retry_after: 2,
        })?
        .map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let result = work();
        drop(permit);
        result
    })
    .await
    .map_err(AppError::internal)
}

fn hasher(settings: &AuthSettings) -> AppResult<Argon2<'static>> {
    let params = Params::new(
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        1,
        None,
    )
    .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash(password: &SecretString, settings: &AuthSettings) -> AppResult<String> {
    let argon2 = hasher(settings)?;
    let password = password.clone();
    with_permit(move || {
        argon2
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await?
}

/// Whether `password` matches `stored`. With no stored hash (unknown member), a dummy
/// hash is checked, so both cases take about the same time.
pub async fn verify(
    password: &SecretString,
    stored: Option<String>,
    settings: &AuthSettings,
) -> AppResult<bool> {
    let known = stored.is_some();
    let stored = match stored {
        Some(s) => s,
        None => dummy_hash(settings).await?,
    };
    let password = password.clone();
    let matches = with_permit(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await?;
    Ok(known && matches)
}

async fn dummy_hash(settings: &AuthSettings) -> AppResult<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| async {
            hash(
                &SecretString::from("not a real password, only a timing twin"),
                settings,
            )
            .await
        })
        .await
        .cloned()
}
