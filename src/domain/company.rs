//! Companies (tenants), what they are entitled to, and the authenticated caller.

use crate::error::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

/// A company's slug, its `company_id` on the wire: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CompanyId(String);

impl CompanyId {
    pub const RULE: &'static str = "must be 1..63 characters of lower-case letters, digits and '-', starting with a letter or digit";

    pub fn parse(raw: &str) -> Result<Self, Error> {
        Self::parse_field(raw, "company_id")
    }

    /// As [`CompanyId::parse`], naming `field` in the error.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, Error> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if first_ok && rest_ok && raw.len() <= 63 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Error::invalid_argument(field, Self::RULE))
        }
    }

    /// Slugs a new company may not take: the first path segment of the HTTP routes that
    /// are not a company's (`/{company_id}/...` would be shadowed by them).
    pub const RESERVED: &'static [&'static str] =
        &["ui", "v1", "job", "healthz", "readyz", "metrics"];

    /// As [`CompanyId::parse_field`], and refuses a [reserved](Self::RESERVED) slug: for
    /// creating a company, not for reading one.
    pub fn parse_new(raw: &str, field: &str) -> Result<Self, Error> {
        let id = Self::parse_field(raw, field)?;
        if Self::RESERVED.contains(&id.as_str()) {
            return Err(Error::invalid_argument(
                field,
                format!(
                    "'{id}' is reserved (it is the first segment of a service route: {})",
                    Self::RESERVED.join(", ")
                ),
            ));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CompanyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a company may do beyond the basics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlements {
    /// Orders may ask for a priority above 5.
    pub priority_transcoding: bool,
}

impl Entitlements {
    pub const PRIORITY_TRANSCODING: &'static str = "priority-transcoding";
}

/// Submits per second with a burst (a token bucket). `per_second == 0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    pub fn is_unlimited(&self) -> bool {
        self.per_second <= 0.0
    }

    pub fn validate(&self) -> Result<(), Error> {
        let mut bad = Vec::new();
        if !self.per_second.is_finite() || self.per_second < 0.0 || self.per_second > 1e6 {
            bad.push(crate::error::FieldViolation::new(
                "rate_limit",
                "must be between 0 (no limit) and 1000000 submits per second",
            ));
        }
        if self.burst == 0 || self.burst > 1_000_000 {
            bad.push(crate::error::FieldViolation::new(
                "rate_burst",
                "must be between 1 and 1000000",
            ));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(bad))
        }
    }
}

/// A company as the operator manages it.
#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub entitlements: Entitlements,
    /// None: the server's configured default.
    pub rate_limit: Option<RateLimit>,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An API token as listed: never the token itself, which is shown once at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub company: CompanyId,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who is calling: the company a valid API token belongs to. Only the auth layer makes
/// one, and every service method takes one, so no path can skip authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub company: CompanyId,
    /// The API token used; None for operator and in-process callers.
    pub token_id: Option<String>,
    pub entitlements: Entitlements,
    /// The company's own limit, or None for the server's default.
    pub rate_limit: Option<RateLimit>,
}

impl Caller {
    /// The caller, checked against the `company_id` a request names: empty means the
    /// caller's own; another company's is refused.
    pub fn acting_for(&self, requested: &str) -> Result<&Caller, Error> {
        let requested = requested.trim();
        if requested.is_empty() || requested == self.company.as_str() {
            Ok(self)
        } else {
            Err(Error {
                fields: vec![crate::error::FieldViolation::new(
                    "company_id",
                    "is not the company of the API token",
                )],
                ..Error::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "this API token belongs to company '{}', not '{requested}'",
                        self.company
                    ),
                )
            })
        }
    }

    /// A caller for operator tools and benchmarks that act for a company directly.
    pub fn operator(company: CompanyId, entitlements: Entitlements) -> Self {
        Self {
            company,
            token_id: None,
            entitlements,
            rate_limit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rule() {
        for good in ["acme", "a", "0", "acme-tv-2", &"a".repeat(63)] {
            assert!(CompanyId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-acme",
            "Acme",
            "ac_me",
            "ac.me",
            "ac me",
            &"a".repeat(64),
            "é",
        ] {
            let err = CompanyId::parse(bad).unwrap_err();
            assert_eq!(err.fields[0].field, "company_id", "{bad}");
        }
    }

    #[test]
    fn a_new_company_cannot_take_a_route_segment_as_its_slug() {
        for reserved in CompanyId::RESERVED {
            // Readable (a lookup of whatever exists), but not creatable.
            assert!(CompanyId::parse(reserved).is_ok(), "{reserved}");
            let err = CompanyId::parse_new(reserved, "slug").unwrap_err();
            assert_eq!(err.fields[0].field, "slug", "{reserved}");
            let why = &err.fields[0].description;
            assert!(why.contains("reserved"), "{why}");
        }
        assert!(CompanyId::parse_new("uitv", "slug").is_ok());
    }

    #[test]
    fn a_caller_acts_for_its_own_company_only() {
        let caller = Caller::operator(CompanyId::parse("acme").unwrap(), Entitlements::default());
        assert!(caller.acting_for("").is_ok());
        assert!(caller.acting_for("acme").is_ok());
        let err = caller.acting_for("globex").unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert_eq!(err.fields[0].field, "company_id");
    }
}
