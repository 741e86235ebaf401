//! Operator actions on companies and API tokens, over the database directly (the CLI's
//! `company` and `token` commands, the demo, and tests). Secrets are returned once,
//! here, and stored only hashed.

use crate::auth::secrets;
use crate::domain::company::{ApiToken, Company, CompanyId, Entitlements, RateLimit};
use crate::error::{Error, ErrorCode, Result};
use crate::persistence::{CompanyRepository, Revoked, SeaCompanyRepository};
use std::sync::Arc;

pub const MAX_NAME_CHARS: usize = 200;

#[derive(Clone)]
pub struct Admin {
    companies: Arc<dyn CompanyRepository>,
}

/// A company to create.
#[derive(Debug, Clone, Default)]
pub struct NewCompany {
    pub slug: String,
    /// Defaults to the slug.
    pub name: Option<String>,
    pub priority_transcoding: bool,
    pub rate_limit: Option<RateLimit>,
}

/// Changes to a company; None leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct CompanyChanges {
    pub name: Option<String>,
    pub priority_transcoding: Option<bool>,
    /// Some(None) goes back to the server's default limit.
    pub rate_limit: Option<Option<RateLimit>>,
    pub disabled: Option<bool>,
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.contains(char::is_control) {
        return Err(Error::invalid_argument(
            "name",
            format!("must be 1..{MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

fn no_company(slug: &str) -> Error {
    Error::not_found(format!("no company '{slug}'"))
}

impl Admin {
    pub fn new(companies: Arc<dyn CompanyRepository>) -> Self {
        Self { companies }
    }

    /// Opens the database at `url` (running pending migrations), as `serve` would.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let db = crate::persistence::connect(url, 2, true).await?;
        Ok(Self::new(Arc::new(SeaCompanyRepository::new(db))))
    }

    /// Creates a company and returns it with its application id, shown only now.
    pub async fn create_company(&self, new: NewCompany) -> Result<(Company, String)> {
        let id = CompanyId::parse_new(new.slug.trim(), "slug")?;
        let name = check_name(new.name.as_deref().unwrap_or(id.as_str()))?;
        if let Some(limit) = &new.rate_limit {
            limit.validate()?;
        }
        let company = Company {
            id,
            name,
            entitlements: Entitlements {
                priority_transcoding: new.priority_transcoding,
            },
            rate_limit: new.rate_limit,
            disabled: false,
            created_at: chrono::Utc::now(),
        };
        let application_id = secrets::new_application_id();
        self.companies
            .create_company(&company, &secrets::hash_secret(&application_id))
            .await?;
        Ok((company, application_id))
    }

    pub async fn companies(&self) -> Result<Vec<Company>> {
        self.companies.companies().await
    }

    pub async fn company(&self, slug: &str) -> Result<Company> {
        let id = CompanyId::parse_field(slug, "slug")?;
        self.companies
            .company(&id)
            .await?
            .ok_or_else(|| no_company(slug))
    }

    pub async fn update_company(&self, slug: &str, changes: CompanyChanges) -> Result<Company> {
        let mut company = self.company(slug).await?;
        if let Some(name) = changes.name {
            company.name = check_name(&name)?;
        }
        if let Some(priority) = changes.priority_transcoding {
            company.entitlements.priority_transcoding = priority;
        }
        if let Some(limit) = changes.rate_limit {
            if let Some(limit) = &limit {
                limit.validate()?;
            }
            company.rate_limit = limit;
        }
        if let Some(disabled) = changes.disabled {
            company.disabled = disabled;
        }
        if !self.companies.update_company(&company).await? {
            return Err(no_company(slug));
        }
        Ok(company)
    }

    /// A new application id; the old one stops working at once.
    pub async fn rotate_application_id(&self, slug: &str) -> Result<String> {
        let company = self.company(slug).await?;
        let application_id = secrets::new_application_id();
        if !self
            .companies
            .set_application_id_hash(&company.id, &secrets::hash_secret(&application_id))
            .await?
        {
            return Err(no_company(slug));
        }
        Ok(application_id)
    }

    /// The company whose application id this is (the preset dialect's credential).
    pub async fn company_by_application_id(&self, application_id: &str) -> Result<Company> {
        self.companies
            .company_by_application_id_hash(&secrets::hash_secret(application_id.trim()))
            .await?
            .ok_or_else(|| Error::unauthenticated("unknown application_id"))
    }

    /// Deletes the company: its tokens stop working and its slug is never reused. Its
    /// jobs stay in the database.
    pub async fn delete_company(&self, slug: &str) -> Result<()> {
        let company = self.company(slug).await?;
        if !self.companies.delete_company(&company.id).await? {
            return Err(no_company(slug));
        }
        Ok(())
    }

    /// A new API token for the company; the token is shown only now.
    pub async fn create_token(&self, slug: &str, name: Option<&str>) -> Result<(ApiToken, String)> {
        let company = self.company(slug).await?;
        if company.disabled {
            return Err(Error::new(
                ErrorCode::FailedPrecondition,
                format!("company '{slug}' is disabled; enable it first"),
            ));
        }
        let name = match name {
            Some(name) => check_name(name)?,
            None => "default".to_owned(),
        };
        let token = ApiToken {
            id: format!("tok_{}", uuid::Uuid::now_v7().simple()),
            company: company.id,
            name,
            created_at: chrono::Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        let secret = secrets::new_api_token();
        self.companies
            .create_token(&token, &secrets::hash_secret(&secret))
            .await?;
        Ok((token, secret))
    }

    pub async fn tokens(&self, slug: &str) -> Result<Vec<ApiToken>> {
        let company = self.company(slug).await?;
        self.companies.tokens(&company.id).await
    }

    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        match self.companies.revoke_token(id.trim()).await? {
            Revoked::Now => Ok(()),
            Revoked::Already => Err(Error::new(
                ErrorCode::FailedPrecondition,
                format!("token {id} was already revoked"),
            )),
            Revoked::NoSuchToken => Err(Error::not_found(format!("no token {id}"))),
        }
    }
}
