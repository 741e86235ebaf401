//! Webhooks signed per the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp`,
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use crate::egress::{EgressClient, EgressError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::time::Duration;

const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the scheme asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new secret, `whsec_` + base64 of random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("webhook secret is not base64: {0}")]
    NotBase64(#[source] base64::DecodeError),
    #[error("{0}")]
    KeyLength(hmac::digest::InvalidLength),
}

impl SignError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotBase64(_) => "WEBHOOK_SECRET_NOT_BASE64",
            Self::KeyLength(_) => "WEBHOOK_SECRET_LENGTH",
        }
    }
}

/// The `webhook-signature` value for one message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, SignError> {
    let key = BASE64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .map_err(SignError::NotBase64)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(SignError::KeyLength)?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// What a receiver made of one delivery.
pub enum Answer {
    Accepted(u16),
    /// 410 Gone: the receiver wants no more.
    Gone,
    Rejected(Option<u16>, String),
}

pub async fn send(
    client: &EgressClient,
    url: &str,
    id: &str,
    secret: &str,
    body: &str,
    timeout: Duration,
) -> Answer {
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Answer::Rejected(None, format!("bad URL: {e}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let signature = match sign(secret, id, timestamp, body) {
        Ok(s) => s,
        Err(e) => return Answer::Rejected(None, e.to_string()),
    };
    let request = match client.post(&parsed) {
        Ok(r) => r,
        Err(refused) => return Answer::Rejected(None, refused.to_string()),
    };
    let sent = request
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            match status {
                200..=299 => Answer::Accepted(status),
                410 => Answer::Gone,
                _ => Answer::Rejected(Some(status), format!("answered {}", response.status())),
            }
        }
        Err(e) => Answer::Rejected(None, EgressError::from_reqwest(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The scheme's published test vector.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        let refused = sign("whsec_not*base64", "msg_1", 1614265330, "{}").unwrap_err();
        assert_eq!(refused.code(), "WEBHOOK_SECRET_NOT_BASE64");
        assert!(
            refused
                .to_string()
                .starts_with("webhook secret is not base64: "),
            "{refused}"
        );
    }

    #[test]
    fn new_secrets_are_long_enough_and_distinct() {
        let a = new_secret();
        let decoded = BASE64
            .decode(a.strip_prefix(SECRET_PREFIX).unwrap())
            .unwrap();
        assert!(decoded.len() >= 24);
        assert_ne!(a, new_secret());
    }
}
