//! Jobs and their lifecycle: QUEUED -> RUNNING(phases) -> SUCCEEDED | FAILED | CANCELED.

use super::billing::Billing;
use super::encode_settings::{EncodeSettings, OutputKind, RenditionResult};
use super::media_format::Container;
use super::media_info::MediaInfo;
use super::order::{CompanyId, ValidOrder};
use super::profile::ProfileId;
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A job id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(pub Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Uuid::from_str(raw.trim())
            .map(Self)
            .map_err(|_| Error::invalid_argument("job_id", "is not a valid job id (a UUID)"))
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    Downloading,
    Probing,
    Transcoding,
    Uploading,
    Notifying,
}

impl Phase {
    /// The slice of overall job progress each phase covers, so that job percent only
    /// ever grows as phases advance.
    pub fn percent_range(self) -> (f64, f64) {
        match self {
            Phase::Downloading => (0.0, 5.0),
            Phase::Probing => (5.0, 6.0),
            Phase::Transcoding => (6.0, 92.0),
            Phase::Uploading => (92.0, 99.0),
            Phase::Notifying => (99.0, 100.0),
        }
    }

    /// Overall job percent for `fraction` (0..=1) of this phase done.
    pub fn overall_percent(self, fraction: f64) -> f64 {
        let (lo, hi) = self.percent_range();
        lo + (hi - lo) * fraction.clamp(0.0, 1.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutputState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputResult {
    pub label: String,
    pub filename: String,
    pub state: OutputState,
    pub profile_id: ProfileId,
    pub urls: Vec<String>,
    pub media: Option<MediaInfo>,
    /// The client's own name for the output (`OutputSpec::reference`); empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// exiftool's keys and values for the written file (`media::exiftool`), read when the
    /// order asks for a postback; empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub file_metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub kind: OutputKind,
    /// The settings really used; None until the output is encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded: Option<EncodeSettings>,
    /// A ladder's rungs (HLS, DASH); empty for a file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<RenditionResult>,
    /// This output's encode progress, 0..100.
    #[serde(default)]
    pub percent: f64,
}

/// One thumbnail of a job: a still frame written as its own file to every destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailResult {
    pub label: String,
    pub filename: String,
    pub state: OutputState,
    pub urls: Vec<String>,
    /// The written image's size; 0 until it is written.
    pub width: u32,
    pub height: u32,
    /// The frame's time, once written: a percent resolved, a late time clamped.
    #[serde(default)]
    pub time_seconds: f64,
    /// The asked time was at or past the end, so the last frame was taken.
    #[serde(default)]
    pub past_end: bool,
}

impl ThumbnailResult {
    /// The image's format, which its file name chose.
    pub fn format(&self) -> Option<super::order::ImageFormat> {
        super::order::ImageFormat::from_filename(&self.filename)
    }
}

/// One storyboard of a job: a sprite sheet and the WebVTT file that maps times to its
/// tiles, both written to every destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryboardResult {
    pub label: String,
    /// The WebVTT file's name; the sprite's is `StoryboardSpec::sprite_filename`.
    pub filename: String,
    pub state: OutputState,
    /// The WebVTT file's URL per destination.
    pub urls: Vec<String>,
    /// The sprite sheet's URL per destination.
    pub sprite_urls: Vec<String>,
    /// The sheet's layout and tile size once written (0 until then).
    pub tiles: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// The interval really used: the asked one, or wider when the source is so long the
    /// sheet would hold more than `media::storyboard::MAX_TILES` tiles.
    pub interval_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub company_id: CompanyId,
    pub state: JobState,
    pub phase: Option<Phase>,
    pub progress_percent: f64,
    pub order: ValidOrder,
    pub outputs: Vec<OutputResult>,
    /// One per `order.thumbnails`, in order.
    #[serde(default)]
    pub thumbnails: Vec<ThumbnailResult>,
    /// One per `order.storyboards`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storyboards: Vec<StoryboardResult>,
    pub source: Option<MediaInfo>,
    pub error: Option<Error>,
    /// Set when the job succeeds, from its outputs' measured durations; failed and
    /// canceled jobs are not billed.
    #[serde(default)]
    pub billing: Option<Billing>,
    pub attempts: u32,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the validated order, set with `idempotency_key`: a later
    /// submission with the key is the same order only if its fingerprint matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_fingerprint: Option<String>,
    /// The submitter's W3C `traceparent`, so the attempts' spans join the trace of the
    /// SubmitJob that queued the job. Stored with the job, never on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// A new QUEUED job for a validated order.
    pub fn new(company_id: CompanyId, order: ValidOrder, idempotency_key: Option<String>) -> Self {
        let now = Utc::now();
        let outputs = order
            .outputs
            .iter()
            .map(|o| OutputResult {
                label: o.label.clone(),
                filename: o.filename.clone(),
                state: OutputState::Pending,
                profile_id: o.profile.id,
                urls: Vec::new(),
                media: None,
                reference: o.reference.clone(),
                file_metadata: BTreeMap::new(),
                kind: match o.profile.container {
                    Container::Hls => OutputKind::Hls,
                    Container::Dash => OutputKind::Dash,
                    _ => OutputKind::File,
                },
                encoded: None,
                renditions: Vec::new(),
                percent: 0.0,
            })
            .collect();
        let thumbnails = order
            .thumbnails
            .iter()
            .map(|t| ThumbnailResult {
                label: t.label.clone(),
                filename: t.filename.clone(),
                state: OutputState::Pending,
                urls: Vec::new(),
                width: 0,
                height: 0,
                time_seconds: 0.0,
                past_end: false,
            })
            .collect();
        let storyboards = order
            .storyboards
            .iter()
            .map(|s| StoryboardResult {
                label: s.label.clone(),
                filename: s.filename.clone(),
                state: OutputState::Pending,
                urls: Vec::new(),
                sprite_urls: Vec::new(),
                tiles: 0,
                columns: 0,
                rows: 0,
                tile_width: 0,
                tile_height: 0,
                interval_seconds: s.interval_seconds,
            })
            .collect();
        Self {
            id: JobId::new(),
            company_id,
            state: JobState::Queued,
            phase: None,
            progress_percent: 0.0,
            order,
            outputs,
            thumbnails,
            storyboards,
            source: None,
            error: None,
            billing: None,
            attempts: 0,
            idempotency_key,
            idempotency_fingerprint: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
        }
    }
}
