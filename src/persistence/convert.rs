//! Rows <-> domain values.

use super::entities::{job, job_event};
use crate::domain::{CompanyId, Job, JobEvent, JobId, JobState, Phase};
use crate::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn to_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("encoding row: {e}")))
}

fn from_json<T: DeserializeOwned>(raw: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(raw).map_err(|e| Error::internal(format!("decoding {what}: {e}")))
}

pub fn phase_str(phase: Option<Phase>) -> Option<String> {
    phase.map(|p| {
        serde_json::to_value(p)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    })
}

pub struct JobColumns {
    pub order_json: String,
    pub outputs_json: String,
    pub source_json: Option<String>,
    pub error_json: Option<String>,
    pub billing_json: Option<String>,
    pub thumbnails_json: Option<String>,
    pub storyboards_json: Option<String>,
}

pub fn job_columns(job: &Job) -> Result<JobColumns, Error> {
    Ok(JobColumns {
        order_json: to_json(&job.order)?,
        outputs_json: to_json(&job.outputs)?,
        source_json: job.source.as_ref().map(to_json).transpose()?,
        error_json: job.error.as_ref().map(to_json).transpose()?,
        billing_json: job.billing.as_ref().map(to_json).transpose()?,
        // NULL reads back as none, and keeps new-job batches small.
        thumbnails_json: (!job.thumbnails.is_empty())
            .then(|| to_json(&job.thumbnails))
            .transpose()?,
        storyboards_json: (!job.storyboards.is_empty())
            .then(|| to_json(&job.storyboards))
            .transpose()?,
    })
}

pub fn job_from_row(row: job::Model) -> Result<Job, Error> {
    let phase = row
        .phase
        .as_deref()
        .map(|p| from_json::<Phase>(&format!("\"{p}\""), "phase"))
        .transpose()?;
    Ok(Job {
        id: JobId::parse(&row.id)?,
        company_id: CompanyId::parse(&row.company_id)?,
        state: JobState::parse(&row.state)
            .ok_or_else(|| Error::internal(format!("unknown job state {}", row.state)))?,
        phase,
        progress_percent: row.progress_percent,
        order: from_json(&row.order_json, "order")?,
        outputs: from_json(&row.outputs_json, "outputs")?,
        source: row
            .source_json
            .as_deref()
            .map(|s| from_json(s, "source"))
            .transpose()?,
        error: row
            .error_json
            .as_deref()
            .map(|s| from_json(s, "error"))
            .transpose()?,
        billing: row
            .billing_json
            .as_deref()
            .map(|s| from_json(s, "billing"))
            .transpose()?,
        thumbnails: row
            .thumbnails_json
            .as_deref()
            .map(|s| from_json(s, "thumbnails"))
            .transpose()?
            .unwrap_or_default(),
        storyboards: row
            .storyboards_json
            .as_deref()
            .map(|s| from_json(s, "storyboards"))
            .transpose()?
            .unwrap_or_default(),
        attempts: row.attempts as u32,
        idempotency_key: row.idempotency_key,
        idempotency_fingerprint: row.idempotency_fingerprint,
        trace_context: row.trace_context,
        created_at: row.created_at,
        updated_at: row.updated_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

pub fn event_payload(event: &crate::domain::EventKind) -> Result<String, Error> {
    to_json(event)
}

pub fn event_from_row(row: job_event::Model) -> Result<JobEvent, Error> {
    Ok(JobEvent {
        job_id: JobId::parse(&row.job_id)?,
        sequence: row.sequence as u64,
        time: row.time,
        kind: from_json(&row.payload_json, "event")?,
    })
}
