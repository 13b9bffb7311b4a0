//! The second factor: TOTP codes (RFC 6238: 6 digits, 30 seconds, SHA-1, as every
//! authenticator app reads them) and single-use recovery codes.
//!
//! Enrolment stores a pending secret and turns it on only when a first code from it
//! checks out. A code is accepted once: the step it matched is kept, and a code of that
//! step or an earlier one is refused. Recovery codes are random (50 bits), shown once and
//! stored as SHA-256 hashes. A sign-in that needs the second factor gets a challenge, which
//! `max_second_factor_failures` wrong codes lock; every code tried also counts per member
//! until one is right, with the limits of wrong passwords (`auth.max_failed_logins` within
//! `auth.lockout_minutes`, counted apart from them), so signing in again does not buy more
//! guesses. The count is one atomic increment taken before the code is checked, so a
//! burst over many challenges is counted one by one.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::{PgConnection, PgPool};
use totp_rs::{Secret, Totp};

use super::service::{self, ClientInfo, Method, SignedIn};
use super::{repo, tokens};
use crate::cache::Cache;
use crate::config::Settings;
use crate::domain::accounts::Viewer;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;

/// Recovery codes handed out at a time.
pub const RECOVERY_CODES: usize = 10;

/// A sign-in waiting for its second factor.
pub struct Challenge {
    /// Shown once, to finish the sign-in with `completeLogin`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What an authenticator app needs to add the account.
pub struct Enrolment {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://totp/...`, usually shown as a QR code.
    pub uri: String,
}

/// The member's second factor, as their settings show it.
pub struct Status {
    pub enabled_at: Option<DateTime<Utc>>,
    pub recovery_codes_left: i64,
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> AppResult<Totp> {
    // The otpauth URI separates issuer and account with ':'; neither may hold one.
    let clean = |s: &str| s.replace(':', " ");
    totp_rs::Builder::new()
        .with_secret(Secret::from(secret))
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| AppError::internal(anyhow::anyhow!("TOTP: {e:?}")))
}

fn issuer(settings: &Settings) -> String {
    settings.app_domain.clone()
}

/// Starts enrolment (the password confirms it is the member): a new pending secret, whose
/// first code `confirm` must see. Starting again replaces the pending secret.
pub async fn begin(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    password: &SecretString,
) -> AppResult<Enrolment> {
    let user = service::check_password(db, settings, viewer, "password", password).await?;
    if status(db, viewer.user_id).await?.enabled_at.is_some() {
        return Err(AppError::input_rule(
            "two-factor authentication is already on: turn it off first to change the app",
        ));
    }
    let secret = Secret::generate();
    let bytes = secret.as_bytes().to_vec();
    let totp = totp(bytes.clone(), &issuer(settings), &user.username)?;
    sqlx::query("UPDATE users SET totp_pending_secret = $2 WHERE id = $1")
        .bind(viewer.user_id)
        .bind(&bytes)
        .execute(db)
        .await?;
    Ok(Enrolment {
        secret: secret.to_base32(),
        uri: totp
            .to_url()
            .map_err(|e| AppError::internal(anyhow::anyhow!("TOTP URI: {e:?}")))?,
    })
}

/// Turns two-factor authentication on with a first code from the app; answers the
/// recovery codes, which are never shown again.
pub async fn confirm(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    code: &str,
) -> AppResult<Vec<String>> {
    let mut tx = db.begin().await?;
    let (pending, username): (Option<Vec<u8>>, String) = sqlx::query_as(
        "SELECT totp_pending_secret, username::text FROM users
         WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(viewer.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let Some(secret) = pending else {
        return Err(AppError::input_rule(
            "start with beginTwoFactorSetup: there is no secret to confirm",
        ));
    };
    let step = totp(secret.clone(), &issuer(settings), &username)?
        .check_current(code.trim())
        .ok_or_else(|| {
            AppError::bad_input("code", "the code is not correct: check the app's clock")
        })?;
    sqlx::query(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                totp_enabled_at = now(), totp_last_step = $2
         WHERE id = $1",
    )
    .bind(viewer.user_id)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    let codes = replace_recovery_codes(&mut tx, viewer.user_id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %viewer.user_id, "two-factor authentication turned on");
    Ok(codes)
}

/// Turns two-factor authentication off: the password and a code (or a recovery code).
pub async fn disable(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    password: &SecretString,
    code: &str,
) -> AppResult<()> {
    service::check_password(db, settings, viewer, "password", password).await?;
    let mut tx = db.begin().await?;
    require_code(&mut tx, settings, viewer.user_id, code).await?;
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL,
                totp_enabled_at = NULL, totp_last_step = NULL
         WHERE id = $1",
    )
    .bind(viewer.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(viewer.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %viewer.user_id, "two-factor authentication turned off");
    Ok(())
}

/// New recovery codes (the old ones stop working): the password and a code.
pub async fn regenerate_recovery_codes(
    db: &PgPool,
    settings: &Settings,
    viewer: &Viewer,
    password: &SecretString,
    code: &str,
) -> AppResult<Vec<String>> {
    service::check_password(db, settings, viewer, "password", password).await?;
    let mut tx = db.begin().await?;
    require_code(&mut tx, settings, viewer.user_id, code).await?;
    let codes = replace_recovery_codes(&mut tx, viewer.user_id).await?;
    tx.commit().await?;
    Ok(codes)
}

async fn require_code(
    tx: &mut PgConnection,
    settings: &Settings,
    user_id: UserId,
    code: &str,
) -> AppResult<&'static str> {
    match check_code(tx, settings, user_id, code).await? {
        Checked::Accepted(kind) => Ok(kind),
        Checked::Off => Err(AppError::input_rule("two-factor authentication is not on")),
        Checked::Wrong => Err(AppError::bad_input("code", "the code is not correct")),
    }
}

pub async fn status(db: &PgPool, user_id: UserId) -> AppResult<Status> {
    let (enabled_at, recovery_codes_left): (Option<DateTime<Utc>>, i64) = sqlx::query_as(
        "SELECT u.totp_enabled_at,
                (SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL)
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(Status {
        enabled_at,
        recovery_codes_left,
    })
}

/// Ten fresh codes like `k7m2q-xr4tp`; the previous ones are deleted.
async fn replace_recovery_codes(tx: &mut PgConnection, user_id: UserId) -> AppResult<Vec<String>> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 10] = rand::random();
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) h
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    Ok(codes)
}

/// A recovery code as typed: case, spaces and dashes do not matter.
fn recovery_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    tokens::hash(&normal)
}

enum Checked {
    Accepted(&'static str),
    Wrong,
    Off,
}

/// Checks a TOTP code (6 digits) or a recovery code, using it up. The member's row is
/// locked while it runs, so a code raced twice is accepted once.
async fn check_code(
    tx: &mut PgConnection,
    settings: &Settings,
    user_id: UserId,
    code: &str,
) -> AppResult<Checked> {
    let row: Option<(Option<Vec<u8>>, Option<i64>, String)> = sqlx::query_as(
        "SELECT totp_secret, totp_last_step, username::text FROM users
         WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((Some(secret), last_step, username)) = row else {
        return Ok(Checked::Off);
    };
    let code = code.trim();
    if code.len() > 64 {
        return Ok(Checked::Wrong);
    }
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let step = totp(secret, &issuer(settings), &username)?
            .check_current(&digits)
            .and_then(|s| i64::try_from(s).ok());
        return Ok(match step {
            Some(step) if last_step.is_none_or(|last| step > last) => {
                sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(step)
                    .execute(&mut *tx)
                    .await?;
                Checked::Accepted("totp")
            }
            _ => Checked::Wrong,
        });
    }
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = now()
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(recovery_hash(code))
    .execute(&mut *tx)
    .await?;
    Ok(if used.rows_affected() == 1 {
        Checked::Accepted("recovery_code")
    } else {
        Checked::Wrong
    })
}

/// A challenge for a member whose first factor (`method`) passed.
pub(super) async fn challenge(
    tx: &mut PgConnection,
    settings: &Settings,
    user_id: UserId,
    method: &str,
    client: &ClientInfo,
) -> AppResult<Challenge> {
    sqlx::query("DELETE FROM login_challenges WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    let token = tokens::issue();
    let expires_at = Utc::now() + chrono::Duration::minutes(settings.auth.challenge_minutes.max(1));
    sqlx::query(
        "INSERT INTO login_challenges (token_hash, user_id, method, ip, user_agent, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.hash)
    .bind(user_id)
    .bind(method)
    .bind(client.ip.as_deref())
    .bind(client.user_agent.as_deref())
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(Challenge {
        token: token.raw,
        expires_at,
    })
}

/// Counts one attempt of `key`'s member; seconds until they may try again once they tried
/// `auth.max_failed_logins` times within `auth.lockout_minutes`. Without Redis nothing is
/// counted (only each challenge's own limit holds), as with the other limits.
async fn attempt(cache: &Cache, settings: &Settings, key: &str) -> Option<u64> {
    let window = std::time::Duration::from_secs(
        u64::try_from(settings.auth.lockout_minutes.max(1)).unwrap_or(10) * 60,
    );
    match cache.incr_window(key, window).await {
        Ok((attempts, ttl))
            if attempts > u64::try_from(settings.auth.max_failed_logins).unwrap_or(10) =>
        {
            Some(ttl.max(1))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "second-factor attempts could not be counted");
            None
        }
    }
}

/// A challenge waiting for its code.
#[derive(sqlx::FromRow)]
struct Pending {
    user_id: UserId,
    method: String,
    failures: i32,
    ip: Option<String>,
    user_agent: Option<String>,
}

const EXPIRED: &str = "This sign-in has expired or was locked: sign in again";

/// Finishes a sign-in with its second factor: a session, opened the way the challenge
/// began, marked with the factor used.
pub async fn complete(
    db: &PgPool,
    cache: &Cache,
    settings: &Settings,
    challenge: &str,
    code: &str,
) -> AppResult<SignedIn> {
    let token_hash = tokens::hash(challenge);
    // The challenge's member, read without a lock: rows are locked member first, then
    // challenge, the order a password reset or an account deletion takes them in.
    let owner: Option<UserId> = sqlx::query_scalar(
        "SELECT user_id FROM login_challenges WHERE token_hash = $1 AND expires_at > now()",
    )
    .bind(&token_hash)
    .fetch_optional(db)
    .await?;
    let Some(owner) = owner else {
        return Err(AppError::Unauthenticated(EXPIRED.to_owned()));
    };
    // Every attempt is counted before it is checked (one atomic increment), so a burst
    // over many challenges is counted one by one while nothing is held; a right code
    // clears the count.
    let key = format!("second_factor_attempts:{owner}");
    if let Some(retry_after) = attempt(cache, settings, &key).await {
        return Err(AppError::RateLimited {
            message: format!(
                "Too many codes tried for this account: try again in {} minutes",
                retry_after.div_ceil(60)
            ),
            retry_after,
        });
    }
    let mut tx = db.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query_as::<_, Pending>(
        "SELECT user_id, method, failures, ip, user_agent FROM login_challenges
         WHERE token_hash = $1 AND user_id = $2 AND expires_at > now() FOR UPDATE",
    )
    .bind(&token_hash)
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(Pending {
        user_id,
        method,
        failures,
        ip,
        user_agent,
    }) = row
    else {
        return Err(AppError::Unauthenticated(EXPIRED.to_owned()));
    };
    let kind = match check_code(&mut tx, settings, user_id, code).await? {
        Checked::Accepted(kind) => kind,
        Checked::Off => return Err(AppError::Unauthenticated(EXPIRED.to_owned())),
        Checked::Wrong => {
            let left = settings.auth.max_second_factor_failures - failures - 1;
            if left <= 0 {
                sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
                    .bind(&token_hash)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Err(AppError::Unauthenticated(
                    "Too many wrong codes: this sign-in is locked, sign in again".to_owned(),
                ));
            }
            sqlx::query(
                "UPDATE login_challenges SET failures = failures + 1 WHERE token_hash = $1",
            )
            .bind(&token_hash)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(AppError::bad_input(
                "code",
                format!("the code is not correct ({left} tries left)"),
            ));
        }
    };
    sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
        .bind(&token_hash)
        .execute(&mut *tx)
        .await?;
    let user = repo::find_by_id(&mut *tx, user_id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated(EXPIRED.to_owned()))?;
    let client = ClientInfo { ip, user_agent };
    let session = service::open_session(
        &mut tx,
        settings,
        user,
        &client,
        Method {
            first: &method,
            second: Some(kind),
        },
    )
    .await?;
    tx.commit().await?;
    if let Err(e) = cache.delete(&key).await {
        tracing::warn!(error = %e, "second-factor attempts could not be cleared");
    }
    Ok(session)
}
