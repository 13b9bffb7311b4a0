//! Opaque secrets: 256-bit random values handed out once and stored only as SHA-256
//! hashes, so a database leak reveals no usable token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Prefix of personal API keys, so they are recognisable (and scannable) when leaked.
pub const API_KEY_PREFIX: &str = "vck_";

pub struct Issued {
    /// Shown to the member once.
    pub raw: String,
    /// What the database keeps.
    pub hash: Vec<u8>,
}

pub fn issue() -> Issued {
    let bytes: [u8; 32] = rand::random();
    let raw = URL_SAFE_NO_PAD.encode(bytes);
    Issued {
        hash: hash(&raw),
        raw,
    }
}

pub fn issue_api_key() -> Issued {
    let token = issue();
    let raw = format!("{API_KEY_PREFIX}{}", token.raw);
    Issued {
        hash: hash(&raw),
        raw,
    }
}

pub fn hash(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.trim().as_bytes()).to_vec()
}

/// `message` signed with the server's key (`SECRET_KEY_BASE`): the first `bytes` bytes of
/// its HMAC-SHA256, in hex, for links that carry their own proof (unsubscribe, downloads).
pub fn sign(settings: &crate::config::Settings, message: &str, bytes: usize) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&settings.signing_key())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..bytes.min(digest.len())])
}

/// Compares secrets without leaking, through timing, where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = issue();
        let b = issue();
        assert_ne!(a.raw, b.raw);
        assert_eq!(a.raw.len(), 43);
        assert_eq!(hash(&a.raw), a.hash);
        assert!(issue_api_key().raw.starts_with(API_KEY_PREFIX));
        assert!(constant_time_eq(b"x", b"x") && !constant_time_eq(b"x", b"y"));
    }
}
