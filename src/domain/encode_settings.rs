//! What an encode really used, reported on each output's result.

use super::media_info::MediaInfo;
use serde::{Deserialize, Serialize};

/// The settings an output (or one rung of a ladder) was encoded with: the profile's,
/// after the source capped them (restrict bitrate, no upscale).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncodeSettings {
    /// Short names: h264, hevc, vp9, av1. Empty without video.
    pub video_codec: String,
    /// The GStreamer element, e.g. "x264enc".
    pub video_encoder: String,
    pub width: u32,
    pub height: u32,
    /// 0 in constant-quality mode.
    pub video_bitrate_kbps: u32,
    /// 0 in bitrate mode.
    pub quality: u32,
    pub bitrate_capped_by_source: bool,
    /// 0 keeps the source's rate.
    pub frame_rate: f64,
    pub keyframe_interval_seconds: f64,
    pub codec_profile: String,
    pub level: String,
    pub speed: String,
    /// aac, opus, mp3. Empty without audio.
    pub audio_codec: String,
    pub audio_encoder: String,
    pub audio_bitrate_kbps: u32,
    pub audio_channels: u32,
    pub audio_sample_rate: u32,
}

/// How an output is laid out at its destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// One file.
    #[default]
    File,
    /// A master playlist, a media playlist per rung, and segments.
    Hls,
    /// An MPD and its segments.
    Dash,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::File => "file",
            OutputKind::Hls => "hls",
            OutputKind::Dash => "dash",
        }
    }
}

/// One rung of a delivered ladder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenditionResult {
    /// e.g. "720p", or "audio".
    pub name: String,
    /// Its media playlist, one URL per destination.
    pub urls: Vec<String>,
    pub media: Option<MediaInfo>,
    pub encoded: EncodeSettings,
    pub segments: u32,
    pub max_segment_seconds: f64,
}
