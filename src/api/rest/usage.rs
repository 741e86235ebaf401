//! `GET /{company_id}/usage?from=&to=`: the company's billed output minutes over a
//! period, money as decimal strings.

use super::RestState;
use super::errors::RestError;
use crate::domain::Caller;
use crate::error::Error;
use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct Period {
    /// Start, included: RFC 3339 (`2026-11-01T00:00:00Z`) or a date (`2026-11-01`).
    pub from: Option<String>,
    /// End, excluded: RFC 3339 or a date.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    pub currency: String,
    pub billable_minutes: u64,
    pub total: String,
    pub outputs: Vec<UsageLineBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageLineBody {
    pub job_id: String,
    pub label: String,
    pub profile_id: u64,
    pub billable_minutes: u64,
    pub cost: String,
    /// RFC 3339: when the job succeeded.
    pub billed_at: String,
}

fn instant(raw: Option<&str>, field: &str) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            Error::invalid_argument(
                field,
                "must be RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01)",
            )
        })
}

#[utoipa::path(
    get,
    path = "/{company_id}/usage",
    params(("company_id" = String, Path, description = "The company's slug"), Period),
    responses(
        (status = 200, description = "Billed outputs in [from, to) and their sums", body = UsageBody),
        (status = 400, description = "A bad date, or a period with too many lines", body = super::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn usage(
    State(state): State<RestState>,
    Path(company_id): Path<String>,
    caller: axum::Extension<Caller>,
    Query(period): Query<Period>,
) -> Result<Json<UsageBody>, RestError> {
    let caller = caller.acting_for(&company_id)?;
    let from = instant(period.from.as_deref(), "from")?;
    let to = instant(period.to.as_deref(), "to")?;
    let usage = state.service.usage(caller, from, to).await?;
    Ok(Json(UsageBody {
        currency: usage.currency,
        billable_minutes: usage.total_minutes,
        total: usage.total_cost.to_string(),
        outputs: usage
            .lines
            .iter()
            .map(|l| UsageLineBody {
                job_id: l.job_id.to_string(),
                label: l.output_label.clone(),
                profile_id: l.profile_id.0,
                billable_minutes: l.billable_minutes,
                cost: l.cost.to_string(),
                billed_at: l
                    .billed_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
            .collect(),
    }))
}
