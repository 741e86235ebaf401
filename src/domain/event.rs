//! Job events: every transition and progress tick, with a gapless per-job sequence.

use super::job::{JobId, JobState, OutputResult, Phase, ThumbnailResult};
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job_id: JobId,
    /// Starts at 1 and has no gaps.
    pub sequence: u64,
    pub time: DateTime<Utc>,
    pub kind: EventKind,
}

impl JobEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, EventKind::JobFinished { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    StateChanged {
        state: JobState,
        phase: Option<Phase>,
        attempt: u32,
    },
    Progress(ProgressTick),
    // Boxed: an output's result (its exiftool metadata included) dwarfs the other kinds.
    OutputFinished(Box<OutputResult>),
    /// A thumbnail was written to every destination.
    ThumbnailFinished(Box<ThumbnailResult>),
    JobFinished {
        state: JobState,
        error: Option<Error>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressTick {
    pub phase: Phase,
    /// Overall job percent; never goes down within an attempt.
    pub percent: f64,
    /// Empty when the tick is for the whole job.
    pub output_label: String,
    pub fps: f64,
    /// Media seconds processed per wall second.
    pub speed: f64,
    pub eta_seconds: f64,
}
