//! The SSRF guard for every outbound request a user can aim (origins, webhooks,
//! postbacks): hosts are resolved once by [`GuardedResolver`], forbidden addresses are
//! dropped before connecting, and the client connects to the vetted address only.

mod address;
mod client;

pub use address::refusal_reason;
pub use client::{EgressClient, EgressError, Refused, vet_url};

use ipnet::IpNet;
use std::net::IpAddr;

/// An `egress.allow` entry that is neither a host name, an address nor a CIDR.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    #[error("egress allowlist entry '{0}' is not a host or CIDR")]
    Entry(String),
}

impl AllowlistError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Entry(_) => "EGRESS_ALLOWLIST_ENTRY_INVALID",
        }
    }
}

/// Operator-approved exceptions. A host entry admits that host name whatever it resolves
/// to; an address or CIDR entry admits URLs whose host is a literal address in it (a
/// name that merely resolves into the range is not admitted, so DNS cannot be used to
/// reach it).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// Parses entries such as `127.0.0.1`, `10.0.0.0/8`, `[::1]`, `media.internal`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        let mut list = Self::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let bare = entry.trim_start_matches('[').trim_end_matches(']');
            if let Ok(net) = bare.parse::<IpNet>() {
                list.nets.push(net);
            } else if let Ok(ip) = bare.parse::<IpAddr>() {
                list.nets.push(IpNet::from(ip));
            } else if entry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                list.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(AllowlistError::Entry(entry.to_owned()));
            }
        }
        Ok(list)
    }

    pub fn admits_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    pub fn admits_literal(&self, ip: IpAddr) -> bool {
        let ip = address::canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn vet(allow: &Allowlist, raw: &str) -> bool {
        client::vet_url(allow, &Url::parse(raw).unwrap()).is_ok()
    }

    #[test]
    fn literal_hosts_are_vetted_before_connecting() {
        let allow = Allowlist::parse(&["127.0.0.1", "10.1.0.0/16", "media.internal"]).unwrap();
        assert!(vet(&allow, "http://127.0.0.1:8080/a.mp4"));
        assert!(vet(&allow, "http://10.1.2.3/a.mp4"));
        assert!(vet(&allow, "https://8.8.8.8/a.mp4"));
        assert!(!vet(&allow, "http://127.0.0.2/a.mp4"));
        assert!(!vet(&allow, "http://10.2.0.1/a.mp4"));
        assert!(!vet(&allow, "http://[::1]/a.mp4"));
        assert!(!vet(&allow, "http://[::ffff:127.0.0.3]/a.mp4"));
        assert!(!vet(&allow, "http://169.254.169.254/latest/meta-data/"));
        assert!(!vet(&allow, "ftp://8.8.8.8/a.mp4"));
        // Names are vetted when resolved.
        assert!(vet(&allow, "http://localhost/a.mp4"));
    }

    #[test]
    fn host_entries_admit_names_and_cidr_entries_admit_literals() {
        let allow = Allowlist::parse(&["Media.Internal", "127.0.0.0/8", "[::1]"]).unwrap();
        assert!(allow.admits_host("media.internal"));
        assert!(allow.admits_host("media.internal."));
        assert!(!allow.admits_host("localhost"));
        assert!(allow.admits_literal("127.9.9.9".parse().unwrap()));
        assert!(allow.admits_literal("::ffff:127.0.0.1".parse().unwrap()));
        assert!(allow.admits_literal("::1".parse().unwrap()));
        let refused = Allowlist::parse(&["not a host!"]).unwrap_err();
        assert_eq!(refused.code(), "EGRESS_ALLOWLIST_ENTRY_INVALID");
        assert_eq!(
            refused.to_string(),
            "egress allowlist entry 'not a host!' is not a host or CIDR"
        );
    }
}
