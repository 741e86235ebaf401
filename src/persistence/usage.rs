//! Billed outputs ([`UsageLine`]): written with a job's terminal state (see
//! [`JobRepository::finish`](super::JobRepository::finish)), read per company and period.

use super::entities::usage;
use crate::domain::{CompanyId, JobId, ProfileId, UsageLine};
use crate::error::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::str::FromStr;

#[async_trait]
pub trait UsageRepository: Send + Sync + 'static {
    /// The company's billed outputs with `from <= billed_at < to` (an open end when
    /// None), oldest first (then by job and output label), at most `limit`.
    async fn lines(
        &self,
        company: &CompanyId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: u64,
    ) -> Result<Vec<UsageLine>, Error>;
}

#[derive(Clone)]
pub struct SeaUsageRepository {
    db: DatabaseConnection,
}

impl SeaUsageRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Stores `lines` on `conn` (a transaction, in practice); an output already billed
/// stays as it was.
pub(super) async fn insert_lines(
    conn: &impl ConnectionTrait,
    lines: &[UsageLine],
) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let rows = lines.iter().map(|l| usage::ActiveModel {
        job_id: Set(l.job_id.to_string()),
        output_label: Set(l.output_label.clone()),
        company_id: Set(l.company_id.as_str().to_owned()),
        profile_id: Set(l.profile_id.0 as i64),
        billable_minutes: Set(l.billable_minutes.min(i64::MAX as u64) as i64),
        cost: Set(l.cost.to_string()),
        billed_at: Set(l.billed_at),
    });
    usage::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([usage::Column::JobId, usage::Column::OutputLabel])
        .exec(conn)
        .await?;
    Ok(())
}

fn from_row(row: usage::Model) -> Result<UsageLine, Error> {
    Ok(UsageLine {
        job_id: JobId::parse(&row.job_id)?,
        company_id: CompanyId::parse(&row.company_id)?,
        output_label: row.output_label,
        profile_id: ProfileId(row.profile_id.max(0) as u64),
        billable_minutes: row.billable_minutes.max(0) as u64,
        cost: rust_decimal::Decimal::from_str(&row.cost)
            .map_err(|e| Error::internal(format!("decoding usage cost {:?}: {e}", row.cost)))?,
        billed_at: row.billed_at,
    })
}

#[async_trait]
impl UsageRepository for SeaUsageRepository {
    async fn lines(
        &self,
        company: &CompanyId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: u64,
    ) -> Result<Vec<UsageLine>, Error> {
        let mut query = usage::Entity::find().filter(usage::Column::CompanyId.eq(company.as_str()));
        if let Some(from) = from {
            query = query.filter(usage::Column::BilledAt.gte(from));
        }
        if let Some(to) = to {
            query = query.filter(usage::Column::BilledAt.lt(to));
        }
        query
            .order_by_asc(usage::Column::BilledAt)
            .order_by_asc(usage::Column::JobId)
            .order_by_asc(usage::Column::OutputLabel)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }
}
