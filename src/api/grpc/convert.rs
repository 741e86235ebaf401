//! proto <-> domain conversions.

use super::convert_media::{media, output};
pub use super::convert_profile::{profile, profile_draft};
use super::convert_storyboard::{storyboard, storyboard_requests, storyboard_spec};
use crate::domain::job::ThumbnailResult;
use crate::domain::notification::Notification as Delivery;
use crate::domain::order::{
    DestinationRequest, Notification, NotificationRequest, OutputRequest, ProfileRef,
    ThumbnailRequest,
};
use crate::domain::{Billing, Usage};
use crate::domain::{EventKind, Job, JobEvent, JobState, OrderRequest, Phase};
use crate::error::Error;
use crate::proto as pb;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub fn order_request(order: Option<pb::Order>) -> OrderRequest {
    let Some(order) = order else {
        return OrderRequest::default();
    };
    OrderRequest {
        priority: order.priority,
        origin: order.origin,
        notifications: order
            .notifications
            .into_iter()
            .map(|n| match n.target {
                Some(pb::notification::Target::Email(e)) => NotificationRequest::Email(e),
                Some(pb::notification::Target::WebhookUrl(u)) => NotificationRequest::Webhook(u),
                Some(pb::notification::Target::PostbackUrl(u)) => NotificationRequest::Postback(u),
                None => NotificationRequest::Empty,
            })
            .collect(),
        destinations: order
            .destinations
            .into_iter()
            .map(|d| DestinationRequest {
                uri: d.uri,
                acl: d.acl,
                storage_class: d.storage_class,
            })
            .collect(),
        outputs: order
            .outputs
            .into_iter()
            .map(|o| OutputRequest {
                label: o.label,
                filename: o.filename,
                profile: match o.profile {
                    Some(pb::output_spec::Profile::ProfileId(id)) => ProfileRef::Id(id),
                    Some(pb::output_spec::Profile::Preset(name)) => ProfileRef::Description(name),
                    None => ProfileRef::Missing,
                },
                reference: o.reference,
            })
            .collect(),
        thumbnails: order
            .thumbnails
            .into_iter()
            .map(|t| ThumbnailRequest {
                filename: t.filename,
                label: t.label,
                width: t.width,
                height: t.height,
                time_seconds: t.time_seconds,
                time_percent: t.time_percent,
                allow_upscale: t.allow_upscale,
            })
            .collect(),
        storyboards: storyboard_requests(order.storyboards),
    }
}

pub fn state_from_proto(raw: i32) -> Result<Option<JobState>, Error> {
    match pb::JobState::try_from(raw) {
        Ok(pb::JobState::Unspecified) => Ok(None),
        Ok(pb::JobState::Queued) => Ok(Some(JobState::Queued)),
        Ok(pb::JobState::Running) => Ok(Some(JobState::Running)),
        Ok(pb::JobState::Succeeded) => Ok(Some(JobState::Succeeded)),
        Ok(pb::JobState::Failed) => Ok(Some(JobState::Failed)),
        Ok(pb::JobState::Canceled) => Ok(Some(JobState::Canceled)),
        Err(_) => Err(Error::invalid_argument(
            "state",
            format!("unknown job state {raw}"),
        )),
    }
}

fn state(s: JobState) -> i32 {
    (match s {
        JobState::Queued => pb::JobState::Queued,
        JobState::Running => pb::JobState::Running,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Canceled => pb::JobState::Canceled,
    }) as i32
}

fn phase(p: Option<Phase>) -> i32 {
    (match p {
        None => pb::JobPhase::Unspecified,
        Some(Phase::Downloading) => pb::JobPhase::Downloading,
        Some(Phase::Probing) => pb::JobPhase::Probing,
        Some(Phase::Transcoding) => pb::JobPhase::Transcoding,
        Some(Phase::Uploading) => pb::JobPhase::Uploading,
        Some(Phase::Notifying) => pb::JobPhase::Notifying,
    }) as i32
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn error(e: &Error) -> pb::JobError {
    pb::JobError {
        code: e.code.as_str().to_owned(),
        message: e.message.clone(),
        retryable: e.retryable,
        field_violations: e
            .fields
            .iter()
            .map(|f| pb::FieldViolation {
                field: f.field.clone(),
                description: f.description.clone(),
            })
            .collect(),
    }
}

pub(super) fn output_state(s: crate::domain::OutputState) -> i32 {
    use crate::domain::OutputState as S;
    (match s {
        S::Pending => pb::OutputState::Pending,
        S::Running => pb::OutputState::Running,
        S::Succeeded => pb::OutputState::Succeeded,
        S::Failed => pb::OutputState::Failed,
    }) as i32
}

fn thumbnail(t: &ThumbnailResult) -> pb::ThumbnailResult {
    pb::ThumbnailResult {
        label: t.label.clone(),
        filename: t.filename.clone(),
        state: output_state(t.state),
        urls: t.urls.clone(),
        width: t.width,
        height: t.height,
        time_seconds: t.time_seconds,
        past_end: t.past_end,
        format: t.format().map_or("", |f| f.as_str()).to_owned(),
    }
}

fn order(job: &Job) -> pb::Order {
    let o = &job.order;
    pb::Order {
        priority: Some(o.priority.get()),
        origin: o.origin.clone(),
        notifications: o
            .notifications
            .iter()
            .map(|n| pb::Notification {
                target: Some(match n {
                    Notification::Email(e) => pb::notification::Target::Email(e.clone()),
                    Notification::Webhook(u) => pb::notification::Target::WebhookUrl(u.clone()),
                    Notification::Postback(u) => pb::notification::Target::PostbackUrl(u.clone()),
                }),
            })
            .collect(),
        destinations: o
            .destinations
            .iter()
            .map(|d| pb::Destination {
                uri: d.uri.clone(),
                acl: d.acl.clone(),
                storage_class: d.storage_class.clone(),
            })
            .collect(),
        outputs: o
            .outputs
            .iter()
            .map(|out| pb::OutputSpec {
                label: out.label.clone(),
                filename: out.filename.clone(),
                profile: Some(match &out.requested_preset {
                    Some(name) => pb::output_spec::Profile::Preset(name.clone()),
                    None => pb::output_spec::Profile::ProfileId(out.profile.id.0),
                }),
                reference: out.reference.clone(),
            })
            .collect(),
        thumbnails: o
            .thumbnails
            .iter()
            .map(|t| pb::ThumbnailSpec {
                filename: t.filename.clone(),
                label: t.label.clone(),
                width: t.width,
                height: t.height,
                time_seconds: t.time_seconds,
                time_percent: t.time_percent,
                allow_upscale: t.allow_upscale,
            })
            .collect(),
        storyboards: o.storyboards.iter().map(storyboard_spec).collect(),
    }
}

pub fn job(j: &Job) -> pb::Job {
    pb::Job {
        id: j.id.to_string(),
        company_id: j.company_id.as_str().to_owned(),
        state: state(j.state),
        phase: phase(j.phase),
        progress_percent: j.progress_percent,
        priority: j.order.priority.get(),
        order: Some(order(j)),
        outputs: j
            .outputs
            .iter()
            .map(|o| {
                let snapshot = j.order.outputs.iter().find(|spec| spec.label == o.label);
                output(
                    o,
                    snapshot.map_or("", |spec| spec.profile.description.as_str()),
                )
            })
            .collect(),
        thumbnails: j.thumbnails.iter().map(thumbnail).collect(),
        storyboards: j.storyboards.iter().map(storyboard).collect(),
        error: j.error.as_ref().map(error),
        billing: j.billing.as_ref().map(billing),
        attempts: j.attempts,
        created_at: Some(timestamp(j.created_at)),
        started_at: j.started_at.map(timestamp),
        finished_at: j.finished_at.map(timestamp),
        updated_at: Some(timestamp(j.updated_at)),
        source: j.source.as_ref().map(media),
        notifications: Vec::new(),
    }
}

// The doubles are for older clients; the strings carry the exact amounts.
fn money(d: &Decimal) -> f64 {
    d.to_f64().unwrap_or_default()
}

fn billing(b: &Billing) -> pb::Billing {
    pb::Billing {
        billable_minutes: b.total_minutes as f64,
        cost: money(&b.total_cost),
        currency: b.currency.clone(),
        total_cost_decimal: b.total_cost.to_string(),
        price_per_minute: b.price_per_minute.to_string(),
        lines: b
            .lines
            .iter()
            .map(|l| pb::BillingLine {
                output_label: l.output_label.clone(),
                profile_id: l.profile_id.0,
                duration_seconds: l.duration_seconds,
                billable_minutes: l.billable_minutes,
                cost_decimal: l.cost.to_string(),
            })
            .collect(),
    }
}

pub fn usage(u: &Usage) -> pb::GetUsageResponse {
    pb::GetUsageResponse {
        outputs: u
            .lines
            .iter()
            .map(|l| pb::OutputUsage {
                job_id: l.job_id.to_string(),
                output_label: l.output_label.clone(),
                profile_id: l.profile_id.0,
                billable_minutes: l.billable_minutes as f64,
                cost: money(&l.cost),
                cost_decimal: l.cost.to_string(),
                billed_at: Some(timestamp(l.billed_at)),
            })
            .collect(),
        total_billable_minutes: u.total_minutes as f64,
        total_cost: money(&u.total_cost),
        currency: u.currency.clone(),
        total_cost_decimal: u.total_cost.to_string(),
    }
}

/// An optional proto timestamp as a time; `field` names it when it is out of range.
pub fn time_from_proto(
    t: Option<prost_types::Timestamp>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, Error> {
    t.map(|t| {
        u32::try_from(t.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
            .ok_or_else(|| Error::invalid_argument(field, "is not a valid timestamp"))
    })
    .transpose()
}

pub fn notification(n: &Delivery) -> pb::NotificationStatus {
    pb::NotificationStatus {
        kind: n.channel.kind().into(),
        target: n.channel.target().into(),
        state: n.state.as_str().into(),
        attempts: n
            .attempts
            .iter()
            .map(|a| pb::DeliveryAttempt {
                time: Some(timestamp(a.time)),
                status: a.status.unwrap_or(0) as u32,
                error: a.error.clone().unwrap_or_default(),
            })
            .collect(),
        next_attempt_at: n.next_attempt_at.map(timestamp),
    }
}

pub fn event(e: &JobEvent) -> pb::JobEvent {
    use pb::job_event::Kind;
    let kind = match &e.kind {
        EventKind::StateChanged {
            state: s,
            phase: p,
            attempt,
        } => Kind::StateChanged(pb::StateChanged {
            state: state(*s),
            phase: phase(*p),
            attempt: *attempt,
        }),
        EventKind::Progress(t) => Kind::Progress(pb::Progress {
            phase: phase(Some(t.phase)),
            percent: t.percent,
            output_label: t.output_label.clone(),
            fps: t.fps,
            speed: t.speed,
            eta_seconds: t.eta_seconds,
            outputs: t
                .outputs
                .iter()
                .map(|o| pb::OutputProgress {
                    label: o.label.clone(),
                    percent: o.percent,
                    fps: o.fps,
                })
                .collect(),
        }),
        EventKind::OutputFinished(o) => Kind::OutputFinished(pb::OutputFinished {
            output: Some(output(o, "")),
        }),
        EventKind::ThumbnailFinished(t) => Kind::ThumbnailFinished(pb::ThumbnailFinished {
            thumbnail: Some(thumbnail(t)),
        }),
        EventKind::StoryboardFinished(s) => Kind::StoryboardFinished(pb::StoryboardFinished {
            storyboard: Some(storyboard(s)),
        }),
        EventKind::JobFinished {
            state: s,
            error: err,
        } => Kind::JobFinished(pb::JobFinished {
            state: state(*s),
            error: err.as_ref().map(error),
        }),
    };
    pb::JobEvent {
        job_id: e.job_id.to_string(),
        sequence: e.sequence,
        time: Some(timestamp(e.time)),
        kind: Some(kind),
    }
}
