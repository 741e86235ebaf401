//! Notification deliveries and per-company webhook secrets.

use super::entities::{company_secret, notification};
use crate::domain::JobId;
use crate::domain::notification::{Attempt, DeliveryState, Notification};
use crate::error::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

#[async_trait]
pub trait NotificationRepository: Send + Sync + 'static {
    /// Takes up to `limit` pending deliveries due by `now`, pushing their due time to
    /// `lease_until` so that no other dispatcher takes them meanwhile.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Notification>, Error>;

    /// Records an attempt and the state (and next due time) that follow it.
    async fn record_attempt(
        &self,
        notification: &Notification,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), Error>;

    async fn for_job(&self, job_id: JobId) -> Result<Vec<Notification>, Error>;

    async fn webhook_secret(&self, company_id: &str) -> Result<Option<String>, Error>;

    /// Stores `secret` unless the company has one; returns the one in force.
    async fn ensure_webhook_secret(&self, company_id: &str, secret: &str) -> Result<String, Error>;

    /// Replaces the company's secret.
    async fn replace_webhook_secret(&self, company_id: &str, secret: &str) -> Result<(), Error>;
}

#[derive(Clone)]
pub struct SeaNotificationRepository {
    db: DatabaseConnection,
}

impl SeaNotificationRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn json_err(e: serde_json::Error) -> Error {
    Error::internal(format!("notification row: {e}"))
}

fn from_row(row: notification::Model) -> Result<Notification, Error> {
    Ok(Notification {
        id: row.id,
        job_id: JobId::parse(&row.job_id)?,
        company_id: row.company_id,
        channel: serde_json::from_str(&row.channel_json).map_err(json_err)?,
        payload: row.payload,
        state: DeliveryState::parse(&row.state)
            .ok_or_else(|| Error::internal(format!("unknown delivery state {}", row.state)))?,
        attempts: serde_json::from_str::<Vec<Attempt>>(&row.attempts_json).map_err(json_err)?,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
    })
}

#[async_trait]
impl NotificationRepository for SeaNotificationRepository {
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Notification>, Error> {
        let due = notification::Entity::find()
            .filter(notification::Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(notification::Column::NextAttemptAt.lte(now))
            .order_by_asc(notification::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut claimed = Vec::new();
        for row in due {
            // Conditional on the due time we read: a dispatcher that got there first
            // has moved it, and this update then changes nothing.
            let taken = notification::Entity::update_many()
                .col_expr(
                    notification::Column::NextAttemptAt,
                    Expr::value(lease_until),
                )
                .filter(notification::Column::Id.eq(row.id.clone()))
                .filter(notification::Column::State.eq(DeliveryState::Pending.as_str()))
                .filter(notification::Column::NextAttemptAt.eq(row.next_attempt_at))
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 1 {
                claimed.push(from_row(row)?);
            }
        }
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        n: &Notification,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        notification::Entity::update_many()
            .col_expr(notification::Column::State, Expr::value(state.as_str()))
            .col_expr(
                notification::Column::AttemptsJson,
                Expr::value(serde_json::to_string(&n.attempts).map_err(json_err)?),
            )
            .col_expr(
                notification::Column::NextAttemptAt,
                Expr::value(next_attempt_at),
            )
            .col_expr(notification::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(notification::Column::Id.eq(n.id.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn for_job(&self, job_id: JobId) -> Result<Vec<Notification>, Error> {
        notification::Entity::find()
            .filter(notification::Column::JobId.eq(job_id.to_string()))
            .order_by_asc(notification::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    async fn webhook_secret(&self, company_id: &str) -> Result<Option<String>, Error> {
        Ok(company_secret::Entity::find_by_id(company_id.to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.webhook_secret))
    }

    async fn ensure_webhook_secret(&self, company_id: &str, secret: &str) -> Result<String, Error> {
        company_secret::Entity::insert(company_secret::ActiveModel {
            company_id: Set(company_id.to_owned()),
            webhook_secret: Set(secret.to_owned()),
            created_at: Set(Utc::now()),
        })
        .on_conflict_do_nothing_on([company_secret::Column::CompanyId])
        .exec(&self.db)
        .await?;
        self.webhook_secret(company_id)
            .await?
            .ok_or_else(|| Error::internal("webhook secret vanished"))
    }

    async fn replace_webhook_secret(&self, company_id: &str, secret: &str) -> Result<(), Error> {
        company_secret::Entity::insert(company_secret::ActiveModel {
            company_id: Set(company_id.to_owned()),
            webhook_secret: Set(secret.to_owned()),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(company_secret::Column::CompanyId)
                .update_columns([
                    company_secret::Column::WebhookSecret,
                    company_secret::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }
}
