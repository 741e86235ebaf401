//! What `--json` prints: the CLI's own documents, stable for scripts, built from the
//! gRPC messages (enum values as lower-case names, times as RFC 3339, money as exact
//! decimal strings).

use serde::Serialize;
use transcoder::proto as pb;

/// `JOB_STATE_SUCCEEDED` -> `succeeded`: an enum value's name without its type's prefix.
fn name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_ascii_lowercase()
}

pub fn job_state(value: i32) -> String {
    let state = pb::JobState::try_from(value).unwrap_or_default();
    name(state.as_str_name(), "JOB_STATE_")
}

pub fn job_phase(value: i32) -> String {
    let phase = pb::JobPhase::try_from(value).unwrap_or_default();
    name(phase.as_str_name(), "JOB_PHASE_")
}

fn output_state(value: i32) -> String {
    let state = pb::OutputState::try_from(value).unwrap_or_default();
    name(state.as_str_name(), "OUTPUT_STATE_")
}

pub fn time(t: &Option<prost_types::Timestamp>) -> Option<String> {
    let t = t.as_ref()?;
    let time = chrono::DateTime::from_timestamp(t.seconds, t.nanos.try_into().ok()?)?;
    Some(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[derive(Serialize)]
pub struct Job {
    pub id: String,
    pub state: String,
    pub phase: String,
    pub progress_percent: f64,
    pub priority: i32,
    pub origin: String,
    pub attempts: u32,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub outputs: Vec<Output>,
    pub thumbnails: Vec<Thumbnail>,
    pub error: Option<JobError>,
    pub billing: Option<Billing>,
}

#[derive(Serialize)]
pub struct Output {
    pub label: String,
    pub filename: String,
    pub state: String,
    pub profile_id: u64,
    pub profile: String,
    pub kind: String,
    pub percent: f64,
    pub urls: Vec<String>,
    pub duration_seconds: Option<f64>,
    pub size_bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bitrate_bps: Option<u64>,
    pub container: Option<String>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
}

#[derive(Serialize)]
pub struct Thumbnail {
    pub label: String,
    pub state: String,
    pub urls: Vec<String>,
    pub width: u32,
    pub height: u32,
    pub time_seconds: f64,
}

#[derive(Serialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub fields: Vec<FieldViolation>,
}

#[derive(Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn of(field: &str, description: &str) -> Self {
        Self {
            field: field.to_owned(),
            description: description.to_owned(),
        }
    }
}

#[derive(Serialize)]
pub struct Billing {
    pub billable_minutes: f64,
    pub currency: String,
    pub total_cost: String,
    pub price_per_minute: String,
    pub lines: Vec<BillingLine>,
}

#[derive(Serialize)]
pub struct BillingLine {
    pub output_label: String,
    pub profile_id: u64,
    pub duration_seconds: f64,
    pub billable_minutes: u64,
    pub cost: String,
}

impl From<&pb::Job> for Job {
    fn from(j: &pb::Job) -> Self {
        Self {
            id: j.id.clone(),
            state: job_state(j.state),
            phase: job_phase(j.phase),
            progress_percent: j.progress_percent,
            priority: j.priority,
            origin: j
                .order
                .as_ref()
                .map(|o| o.origin.clone())
                .unwrap_or_default(),
            attempts: j.attempts,
            created_at: time(&j.created_at),
            started_at: time(&j.started_at),
            finished_at: time(&j.finished_at),
            outputs: j.outputs.iter().map(Output::from).collect(),
            thumbnails: j
                .thumbnails
                .iter()
                .map(|t| Thumbnail {
                    label: t.label.clone(),
                    state: output_state(t.state),
                    urls: t.urls.clone(),
                    width: t.width,
                    height: t.height,
                    time_seconds: t.time_seconds,
                })
                .collect(),
            error: j.error.as_ref().map(JobError::from),
            billing: j.billing.as_ref().map(|b| Billing {
                billable_minutes: b.billable_minutes,
                currency: b.currency.clone(),
                total_cost: b.total_cost_decimal.clone(),
                price_per_minute: b.price_per_minute.clone(),
                lines: b
                    .lines
                    .iter()
                    .map(|l| BillingLine {
                        output_label: l.output_label.clone(),
                        profile_id: l.profile_id,
                        duration_seconds: l.duration_seconds,
                        billable_minutes: l.billable_minutes,
                        cost: l.cost_decimal.clone(),
                    })
                    .collect(),
            }),
        }
    }
}

impl From<&pb::OutputResult> for Output {
    fn from(o: &pb::OutputResult) -> Self {
        let media = o.media.as_ref();
        let known = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Self {
            label: o.label.clone(),
            filename: o.filename.clone(),
            state: output_state(o.state),
            profile_id: o.profile_id,
            profile: o.profile_description.clone(),
            kind: o.kind.clone(),
            percent: o.percent,
            urls: o.urls.clone(),
            duration_seconds: media.map(|m| m.duration_seconds),
            size_bytes: media.map(|m| m.size_bytes),
            width: media.map(|m| m.width),
            height: media.map(|m| m.height),
            bitrate_bps: media.map(|m| m.bitrate_bps),
            container: media.and_then(|m| known(&m.container)),
            video_codec: media.and_then(|m| known(&m.video_codec)),
            audio_codec: media.and_then(|m| known(&m.audio_codec)),
        }
    }
}

impl From<&pb::JobError> for JobError {
    fn from(e: &pb::JobError) -> Self {
        Self {
            code: e.code.clone(),
            message: e.message.clone(),
            retryable: e.retryable,
            fields: e
                .field_violations
                .iter()
                .map(|v| FieldViolation::of(&v.field, &v.description))
                .collect(),
        }
    }
}

/// One line of a watch's JSON lines.
#[derive(Serialize)]
pub struct Event {
    pub job_id: String,
    pub sequence: u64,
    pub time: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    StateChanged {
        state: String,
        phase: String,
        attempt: u32,
    },
    Progress {
        phase: String,
        percent: f64,
        fps: f64,
        speed: f64,
        eta_seconds: f64,
        outputs: Vec<OutputProgress>,
    },
    OutputFinished {
        output: Option<Output>,
    },
    ThumbnailFinished {
        label: String,
        urls: Vec<String>,
    },
    StoryboardFinished {
        label: String,
        urls: Vec<String>,
    },
    JobFinished {
        state: String,
        error: Option<JobError>,
    },
    Unknown,
}

#[derive(Serialize)]
pub struct OutputProgress {
    pub label: String,
    pub percent: f64,
    pub fps: f64,
}

impl From<&pb::JobEvent> for Event {
    fn from(e: &pb::JobEvent) -> Self {
        use pb::job_event::Kind;
        let kind = match &e.kind {
            Some(Kind::StateChanged(s)) => EventKind::StateChanged {
                state: job_state(s.state),
                phase: job_phase(s.phase),
                attempt: s.attempt,
            },
            Some(Kind::Progress(p)) => EventKind::Progress {
                phase: job_phase(p.phase),
                percent: p.percent,
                fps: p.fps,
                speed: p.speed,
                eta_seconds: p.eta_seconds,
                outputs: p
                    .outputs
                    .iter()
                    .map(|o| OutputProgress {
                        label: o.label.clone(),
                        percent: o.percent,
                        fps: o.fps,
                    })
                    .collect(),
            },
            Some(Kind::OutputFinished(o)) => EventKind::OutputFinished {
                output: o.output.as_ref().map(Output::from),
            },
            Some(Kind::ThumbnailFinished(t)) => {
                let t = t.thumbnail.clone().unwrap_or_default();
                EventKind::ThumbnailFinished {
                    label: t.label,
                    urls: t.urls,
                }
            }
            Some(Kind::StoryboardFinished(s)) => {
                let s = s.storyboard.clone().unwrap_or_default();
                EventKind::StoryboardFinished {
                    label: s.label,
                    urls: s.urls,
                }
            }
            Some(Kind::JobFinished(f)) => EventKind::JobFinished {
                state: job_state(f.state),
                error: f.error.as_ref().map(JobError::from),
            },
            None => EventKind::Unknown,
        };
        Self {
            job_id: e.job_id.clone(),
            sequence: e.sequence,
            time: time(&e.time),
            kind,
        }
    }
}

/// Prints one JSON document (or one line of JSON lines) on stdout.
pub fn print<T: Serialize>(value: &T) -> Result<(), super::error::ClientError> {
    let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}
