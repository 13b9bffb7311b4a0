//! argon2id hashing, off the async threads.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult};

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
    tokio::task::spawn_blocking(move || {
        argon2
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
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
    let matches = tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(AppError::internal)?;
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
