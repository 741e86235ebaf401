//! Authentication for both servers: a Bearer API token becomes a [`Caller`].
//!
//! [`AuthLayer`] is the one tower layer in front of gRPC and HTTP; [`Authenticator`] looks
//! tokens up by hash, caching answers for [`CACHE_TTL`] so that a revoked token stops
//! working within that time on every replica; [`SubmitLimiter`] is the per-company rate
//! limit on submissions.

mod layer;
mod rate_limit;
pub mod secrets;

pub use layer::{AuthLayer, Authenticated, Rejection};
pub use rate_limit::SubmitLimiter;

use crate::domain::company::Caller;
use crate::error::Error;
use crate::persistence::CompanyRepository;
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a token lookup is trusted. Revocation, disabling a company or changing its
/// entitlements reach every replica within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; past it, expired ones are dropped (all of them if need be).
const CACHE_CAPACITY: usize = 10_000;
/// `last_used_at` is written at most this often per token and process.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

pub struct Authenticator {
    companies: Arc<dyn CompanyRepository>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Token hash -> the caller it stood for (None: unknown or revoked), and when.
    lookups: HashMap<String, (Option<Caller>, Instant)>,
    /// Token id -> when this process last wrote its `last_used_at`.
    touched: HashMap<String, Instant>,
}

impl Authenticator {
    pub fn new(companies: Arc<dyn CompanyRepository>) -> Self {
        Self {
            companies,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The caller an `Authorization` header stands for, or UNAUTHENTICATED saying why.
    pub async fn authenticate(&self, header: Option<&HeaderValue>) -> Result<Caller, Error> {
        let token = bearer_token(header)?;
        let hash = secrets::hash_secret(token);
        let cached = {
            let cache = self.cache.lock().expect("auth cache lock");
            cache
                .lookups
                .get(&hash)
                .filter(|(_, at)| at.elapsed() < CACHE_TTL)
                .map(|(caller, _)| caller.clone())
        };
        let caller = match cached {
            Some(caller) => caller,
            None => self.look_up(hash).await?,
        };
        caller.ok_or_else(|| Error::unauthenticated("the API token is unknown or revoked"))
    }

    /// The caller an application id (the preset dialect's credential) stands for.
    pub async fn authenticate_application_id(&self, application_id: &str) -> Result<Caller, Error> {
        let hash = secrets::hash_secret(application_id.trim());
        let company = self
            .companies
            .company_by_application_id_hash(&hash)
            .await?
            .ok_or_else(|| Error::unauthenticated("the application_id is unknown"))?;
        Ok(Caller {
            company: company.id,
            token_id: None,
            entitlements: company.entitlements,
            rate_limit: company.rate_limit,
        })
    }

    async fn look_up(&self, hash: String) -> Result<Option<Caller>, Error> {
        let found = self.companies.active_token(&hash).await?;
        let caller = found.as_ref().map(|(token, company)| Caller {
            company: company.id.clone(),
            token_id: Some(token.id.clone()),
            entitlements: company.entitlements,
            rate_limit: company.rate_limit,
        });
        let touch = {
            let mut cache = self.cache.lock().expect("auth cache lock");
            if cache.lookups.len() >= CACHE_CAPACITY {
                cache.lookups.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if cache.lookups.len() >= CACHE_CAPACITY {
                    cache.lookups.clear();
                }
                cache.touched.retain(|_, at| at.elapsed() < TOUCH_EVERY);
            }
            cache.lookups.insert(hash, (caller.clone(), Instant::now()));
            match &found {
                Some((token, _))
                    if cache
                        .touched
                        .get(&token.id)
                        .is_none_or(|at| at.elapsed() >= TOUCH_EVERY) =>
                {
                    cache.touched.insert(token.id.clone(), Instant::now());
                    Some(token.id.clone())
                }
                _ => None,
            }
        };
        if let Some(id) = touch {
            let granularity = chrono::Duration::from_std(TOUCH_EVERY).unwrap_or_default();
            self.companies
                .touch_token(&id, chrono::Utc::now(), granularity)
                .await?;
        }
        Ok(caller)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(header: Option<&HeaderValue>) -> Result<&str, Error> {
    let Some(header) = header else {
        return Err(Error::unauthenticated(
            "missing credentials: send the header 'Authorization: Bearer <API token>'",
        ));
    };
    let malformed = || {
        Error::unauthenticated(
            "malformed Authorization header: expected 'Bearer tc_...' with an API token",
        )
    };
    let value = header.to_str().map_err(|_| malformed())?.trim();
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !secrets::looks_like_api_token(token) {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        let token = secrets::new_api_token();
        let ok = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        assert_eq!(bearer_token(Some(&ok)).unwrap(), token);
        let lower = HeaderValue::from_str(&format!("bearer  {token}")).unwrap();
        assert_eq!(bearer_token(Some(&lower)).unwrap(), token);
        for bad in [
            format!("Basic {token}"),
            token.clone(),
            "Bearer ".into(),
            "Bearer tc_short".into(),
        ] {
            let header = HeaderValue::from_str(&bad).unwrap();
            let err = bearer_token(Some(&header)).unwrap_err();
            assert!(err.message.contains("malformed"), "{bad}: {err}");
        }
        assert!(bearer_token(None).unwrap_err().message.contains("missing"));
    }
}
