//! API tokens and application ids: made from 32 random bytes, shown once, stored only
//! as SHA-256. They are high-entropy, so a slow password hash would buy nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "tc_";
pub const APPLICATION_ID_PREFIX: &str = "app_";
/// base64url of 32 bytes, without padding.
const SECRET_CHARS: usize = 43;

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API token: `tc_` and 43 base64url characters.
pub fn new_api_token() -> String {
    random_secret(TOKEN_PREFIX)
}

/// A new application id (the preset dialect's credential): `app_` and 43 characters.
pub fn new_application_id() -> String {
    random_secret(APPLICATION_ID_PREFIX)
}

/// Whether `raw` has the shape of an API token (checked before any lookup).
pub fn looks_like_api_token(raw: &str) -> bool {
    raw.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == SECRET_CHARS
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// How secrets are stored and looked up: lower-case hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognisable_random_and_hashed() {
        let a = new_api_token();
        let b = new_api_token();
        assert_ne!(a, b);
        assert!(looks_like_api_token(&a), "{a}");
        assert_eq!(a.len(), 3 + 43);
        assert!(!looks_like_api_token("tc_short"));
        assert!(!looks_like_api_token(&a.replacen("tc_", "xx_", 1)));
        assert!(!looks_like_api_token(&format!("{a}!")));
        let h = hash_secret(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a));
        assert_eq!(h, hash_secret(&a));
        assert!(new_application_id().starts_with("app_"));
    }
}
