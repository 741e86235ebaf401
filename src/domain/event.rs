//! Job events: every transition and progress tick, with a gapless per-job sequence.

use super::job::{JobId, JobState, OutputResult, Phase, StoryboardResult, ThumbnailResult};
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
    /// A storyboard (its sprite sheet and WebVTT file) was written to every destination.
    StoryboardFinished(Box<StoryboardResult>),
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
    /// While transcoding: each output's own progress, in order. A ladder counts as one
    /// output, as far as its slowest rung.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputProgress {
    /// The order's label for the output.
    pub label: String,
    /// 0..=100 of this output's encode.
    pub percent: f64,
    /// Frames (audio buffers, for audio-only outputs) encoded per wall second.
    pub fps: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_stored_without_outputs_still_decode_and_empty_ones_are_not_written() {
        let stored = r#"{"phase":"TRANSCODING","percent":40.0,"output_label":"",
            "fps":30.0,"speed":1.5,"eta_seconds":3.0}"#;
        let tick: ProgressTick = serde_json::from_str(stored).unwrap();
        assert!(tick.outputs.is_empty());
        let written = serde_json::to_value(&tick).unwrap();
        assert!(written.get("outputs").is_none(), "{written}");

        let with_outputs = ProgressTick {
            outputs: vec![OutputProgress {
                label: "sd".into(),
                percent: 55.0,
                fps: 90.0,
            }],
            ..tick
        };
        let round_trip: ProgressTick =
            serde_json::from_value(serde_json::to_value(&with_outputs).unwrap()).unwrap();
        assert_eq!(round_trip, with_outputs);
    }
}
