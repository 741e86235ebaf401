//! Companies and their API tokens. Secrets arrive here already hashed.

use super::WriteGate;
use super::entities::{api_token, company};
use crate::domain::company::{ApiToken, Company, CompanyId, Entitlements, RateLimit};
use crate::error::{Error, ErrorCode};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

/// What revoking a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoSuchToken,
}

#[async_trait]
pub trait CompanyRepository: Send + Sync + 'static {
    /// ALREADY_EXISTS when the slug is taken (by a live or a deleted company).
    async fn create_company(
        &self,
        company: &Company,
        application_id_hash: &str,
    ) -> Result<(), Error>;
    /// Live (not deleted) companies only.
    async fn company(&self, id: &CompanyId) -> Result<Option<Company>, Error>;
    async fn companies(&self) -> Result<Vec<Company>, Error>;
    /// Writes name, entitlements, rate limit and the disabled flag of a live company.
    async fn update_company(&self, company: &Company) -> Result<bool, Error>;
    async fn set_application_id_hash(&self, id: &CompanyId, hash: &str) -> Result<bool, Error>;
    /// The live, enabled company whose application id hashes to `hash`.
    async fn company_by_application_id_hash(&self, hash: &str) -> Result<Option<Company>, Error>;
    /// Marks the company deleted and revokes its tokens.
    async fn delete_company(&self, id: &CompanyId) -> Result<bool, Error>;

    async fn create_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), Error>;
    async fn tokens(&self, company: &CompanyId) -> Result<Vec<ApiToken>, Error>;
    async fn revoke_token(&self, id: &str) -> Result<Revoked, Error>;
    /// The unrevoked token hashing to `hash` and its live, enabled company.
    async fn active_token(&self, hash: &str) -> Result<Option<(ApiToken, Company)>, Error>;
    /// Records a use, at most about once per `granularity` per token.
    async fn touch_token(
        &self,
        id: &str,
        now: DateTime<Utc>,
        granularity: chrono::Duration,
    ) -> Result<(), Error>;
}

#[derive(Clone)]
pub struct SeaCompanyRepository {
    db: DatabaseConnection,
    write_gate: WriteGate,
}

impl SeaCompanyRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        let write_gate = WriteGate::for_backend(&db);
        Self { db, write_gate }
    }
}

fn company_from_row(row: company::Model) -> Result<Company, Error> {
    Ok(Company {
        id: CompanyId::parse(&row.id)?,
        name: row.name,
        entitlements: Entitlements {
            priority_transcoding: row.priority_transcoding,
        },
        rate_limit: row.rate_limit_per_second.map(|per_second| RateLimit {
            per_second,
            burst: row.rate_limit_burst.unwrap_or(1).max(1) as u32,
        }),
        disabled: row.disabled,
        created_at: row.created_at,
    })
}

fn token_from_row(row: api_token::Model) -> Result<ApiToken, Error> {
    Ok(ApiToken {
        id: row.id,
        company: CompanyId::parse(&row.company_id)?,
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    })
}

fn live() -> Condition {
    Condition::all().add(company::Column::DeletedAt.is_null())
}

#[async_trait]
impl CompanyRepository for SeaCompanyRepository {
    async fn create_company(&self, c: &Company, application_id_hash: &str) -> Result<(), Error> {
        let row = company::ActiveModel {
            id: Set(c.id.as_str().to_owned()),
            name: Set(c.name.clone()),
            priority_transcoding: Set(c.entitlements.priority_transcoding),
            rate_limit_per_second: Set(c.rate_limit.map(|r| r.per_second)),
            rate_limit_burst: Set(c.rate_limit.map(|r| r.burst as i32)),
            application_id_hash: Set(application_id_hash.to_owned()),
            disabled: Set(c.disabled),
            deleted_at: Set(None),
            created_at: Set(c.created_at),
            updated_at: Set(c.created_at),
        };
        let _turn = self.write_gate.turn().await;
        let inserted = company::Entity::insert(row)
            .on_conflict_do_nothing_on([company::Column::Id])
            .exec_without_returning(&self.db)
            .await?;
        if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
            return Err(Error::new(
                ErrorCode::AlreadyExists,
                format!(
                    "company '{}' already exists (slugs of deleted companies are not reused)",
                    c.id
                ),
            ));
        }
        Ok(())
    }

    async fn company(&self, id: &CompanyId) -> Result<Option<Company>, Error> {
        company::Entity::find_by_id(id.as_str())
            .filter(live())
            .one(&self.db)
            .await?
            .map(company_from_row)
            .transpose()
    }

    async fn companies(&self) -> Result<Vec<Company>, Error> {
        company::Entity::find()
            .filter(live())
            .order_by_asc(company::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(company_from_row)
            .collect()
    }

    async fn update_company(&self, c: &Company) -> Result<bool, Error> {
        let _turn = self.write_gate.turn().await;
        let res = company::Entity::update_many()
            .col_expr(company::Column::Name, Expr::value(c.name.clone()))
            .col_expr(
                company::Column::PriorityTranscoding,
                Expr::value(c.entitlements.priority_transcoding),
            )
            .col_expr(
                company::Column::RateLimitPerSecond,
                Expr::value(c.rate_limit.map(|r| r.per_second)),
            )
            .col_expr(
                company::Column::RateLimitBurst,
                Expr::value(c.rate_limit.map(|r| r.burst as i32)),
            )
            .col_expr(company::Column::Disabled, Expr::value(c.disabled))
            .col_expr(company::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(company::Column::Id.eq(c.id.as_str()))
            .filter(live())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    async fn set_application_id_hash(&self, id: &CompanyId, hash: &str) -> Result<bool, Error> {
        let _turn = self.write_gate.turn().await;
        let res = company::Entity::update_many()
            .col_expr(company::Column::ApplicationIdHash, Expr::value(hash))
            .col_expr(company::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(company::Column::Id.eq(id.as_str()))
            .filter(live())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    async fn company_by_application_id_hash(&self, hash: &str) -> Result<Option<Company>, Error> {
        company::Entity::find()
            .filter(company::Column::ApplicationIdHash.eq(hash))
            .filter(live())
            .filter(company::Column::Disabled.eq(false))
            .one(&self.db)
            .await?
            .map(company_from_row)
            .transpose()
    }

    async fn delete_company(&self, id: &CompanyId) -> Result<bool, Error> {
        use sea_orm::TransactionTrait;
        let now = Utc::now();
        let _turn = self.write_gate.turn().await;
        let txn = self.db.begin().await?;
        let res = company::Entity::update_many()
            .col_expr(company::Column::DeletedAt, Expr::value(now))
            .col_expr(company::Column::Disabled, Expr::value(true))
            .col_expr(company::Column::UpdatedAt, Expr::value(now))
            .filter(company::Column::Id.eq(id.as_str()))
            .filter(live())
            .exec(&txn)
            .await?;
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(now))
            .filter(api_token::Column::CompanyId.eq(id.as_str()))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected == 1)
    }

    async fn create_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), Error> {
        let row = api_token::ActiveModel {
            id: Set(token.id.clone()),
            company_id: Set(token.company.as_str().to_owned()),
            name: Set(token.name.clone()),
            token_hash: Set(token_hash.to_owned()),
            created_at: Set(token.created_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
        };
        let _turn = self.write_gate.turn().await;
        api_token::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn tokens(&self, company: &CompanyId) -> Result<Vec<ApiToken>, Error> {
        api_token::Entity::find()
            .filter(api_token::Column::CompanyId.eq(company.as_str()))
            .order_by_asc(api_token::Column::CreatedAt)
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(token_from_row)
            .collect()
    }

    async fn revoke_token(&self, id: &str) -> Result<Revoked, Error> {
        let _turn = self.write_gate.turn().await;
        let res = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        if res.rows_affected == 1 {
            return Ok(Revoked::Now);
        }
        let exists = api_token::Entity::find_by_id(id).one(&self.db).await?;
        Ok(match exists {
            Some(_) => Revoked::Already,
            None => Revoked::NoSuchToken,
        })
    }

    async fn active_token(&self, hash: &str) -> Result<Option<(ApiToken, Company)>, Error> {
        let Some(token) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(company) = company::Entity::find_by_id(token.company_id.clone())
            .filter(live())
            .filter(company::Column::Disabled.eq(false))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((token_from_row(token)?, company_from_row(company)?)))
    }

    async fn touch_token(
        &self,
        id: &str,
        now: DateTime<Utc>,
        granularity: chrono::Duration,
    ) -> Result<(), Error> {
        let stale = now - granularity;
        let _turn = self.write_gate.turn().await;
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(api_token::Column::LastUsedAt.is_null())
                    .add(api_token::Column::LastUsedAt.lt(stale)),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
