//! The SSRF guard for every outbound request a user can aim (origins, webhooks,
//! postbacks): hosts are resolved once by [`GuardedResolver`], forbidden addresses are
//! dropped before connecting, and the client connects to the vetted address only.

mod address;
mod client;

pub use address::refusal_reason;
pub use client::{EgressClient, EgressError};

use ipnet::IpNet;
use std::net::IpAddr;

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
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
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
                return Err(format!(
                    "egress allowlist entry '{entry}' is not a host or CIDR"
                ));
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
