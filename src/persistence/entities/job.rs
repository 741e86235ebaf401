use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub company_id: String,
    pub state: String,
    pub phase: Option<String>,
    pub priority: i32,
    pub progress_percent: f64,
    #[sea_orm(column_type = "Text")]
    pub order_json: String,
    #[sea_orm(column_type = "Text")]
    pub outputs_json: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub source_json: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_json: Option<String>,
    /// The bill of a succeeded job (`domain::Billing`).
    #[sea_orm(column_type = "Text", nullable)]
    pub billing_json: Option<String>,
    /// The job's thumbnail results (`Vec<domain::ThumbnailResult>`); null before
    /// thumbnails existed.
    #[sea_orm(column_type = "Text", nullable)]
    pub thumbnails_json: Option<String>,
    /// The job's storyboard results (`Vec<domain::StoryboardResult>`); null without any.
    #[sea_orm(column_type = "Text", nullable)]
    pub storyboards_json: Option<String>,
    pub attempts: i32,
    pub idempotency_key: Option<String>,
    /// Highest event sequence written so far.
    pub last_sequence: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// A retried job is not claimed before this (backoff).
    pub run_after: Option<DateTimeUtc>,
    /// Set by CancelJob on a running job; its worker ends it CANCELED.
    pub cancel_requested_at: Option<DateTimeUtc>,
    /// Per-output percents of the running attempt (`Vec<f64>`, by output index).
    #[sea_orm(column_type = "Text", nullable)]
    pub progress_json: Option<String>,
    /// SHA-256 (hex) of the validated order of a job submitted with an idempotency key.
    pub idempotency_fingerprint: Option<String>,
    /// The submitter's W3C `traceparent` (`domain::Job::trace_context`).
    #[sea_orm(column_type = "Text", nullable)]
    pub trace_context: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
