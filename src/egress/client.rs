//! An HTTP client that can only reach addresses the guard admits.

use super::{Allowlist, address};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Redirect hops followed at most.
pub const MAX_REDIRECTS: usize = 5;

/// A request the guard refused, with the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target} is not allowed: {reason}")]
pub struct Refused {
    pub target: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("{0}")]
    Request(String),
    #[error("timed out: {0}")]
    Timeout(String),
}

impl EgressError {
    /// Classifies a reqwest error, finding a guard refusal anywhere in its causes.
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        let mut deepest = err.to_string();
        while let Some(e) = source {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                return Self::Refused(refused.clone());
            }
            deepest = e.to_string();
            source = e.source();
        }
        if err.is_timeout() {
            Self::Timeout(deepest)
        } else {
            Self::Request(deepest)
        }
    }
}

/// Vets a URL before any connection: the scheme, and a literal address in the host.
/// Names are vetted when they are resolved.
pub fn vet_url(allow: &Allowlist, url: &Url) -> Result<(), Refused> {
    let refuse = |reason: String| Refused {
        target: url.to_string(),
        reason,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse(format!("scheme '{}' is not http(s)", url.scheme())));
    }
    let ip: IpAddr = match url.host() {
        Some(Host::Ipv4(v4)) => v4.into(),
        Some(Host::Ipv6(v6)) => v6.into(),
        Some(Host::Domain(_)) => return Ok(()),
        None => return Err(refuse("it names no host".into())),
    };
    if allow.admits_literal(ip) {
        return Ok(());
    }
    match address::refusal_reason(ip) {
        Some(reason) => Err(refuse(format!("{ip} is {reason}"))),
        None => Ok(()),
    }
}

/// Resolves once and hands reqwest only the admitted addresses, so the connection goes
/// to exactly the address that was checked (no second lookup for DNS rebinding to race).
struct GuardedResolver {
    allow: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if allow.admits_host(&host) {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let mut refusal = None;
            let admitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match address::refusal_reason(addr.ip()) {
                    Some(reason) => {
                        refusal
                            .get_or_insert(format!("{host} resolves to {}, {reason}", addr.ip()));
                        false
                    }
                    None => true,
                })
                .collect();
            if admitted.is_empty() {
                let reason = refusal.unwrap_or_else(|| format!("{host} does not resolve"));
                return Err(Box::new(Refused {
                    target: host,
                    reason,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(admitted.into_iter()) as Addrs)
        })
    }
}

/// The guarded client, cheap to clone.
#[derive(Clone)]
pub struct EgressClient {
    client: reqwest::Client,
    allow: Arc<Allowlist>,
}

impl EgressClient {
    pub fn new(allow: Allowlist, connect_timeout: Duration, read_timeout: Duration) -> Self {
        let allow = Arc::new(allow);
        let policy_allow = allow.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                let reason = format!("more than {MAX_REDIRECTS} redirects");
                return attempt.error(EgressError::Request(reason));
            }
            match vet_url(&policy_allow, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: allow.clone(),
            }))
            .redirect(policy)
            .no_proxy()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .user_agent(concat!("transcoder/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Self { client, allow }
    }

    pub fn get(&self, url: &Url) -> Result<reqwest::RequestBuilder, Refused> {
        vet_url(&self.allow, url)?;
        Ok(self.client.get(url.clone()))
    }

    pub fn post(&self, url: &Url) -> Result<reqwest::RequestBuilder, Refused> {
        vet_url(&self.allow, url)?;
        Ok(self.client.post(url.clone()))
    }
}
