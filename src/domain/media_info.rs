use serde::{Deserialize, Serialize};

/// What a probe found in a media file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub duration_seconds: f64,
    pub size_bytes: u64,
    pub bitrate_bps: u64,
    pub container: String,
    pub mime_type: String,
    pub video: Option<VideoStreamInfo>,
    pub audio: Option<AudioStreamInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoStreamInfo {
    pub codec: String,
    /// Display dimensions, after any rotation tag is applied.
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub bitrate_bps: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioStreamInfo {
    pub codec: String,
    pub channels: u32,
    pub sample_rate: u32,
    pub bitrate_bps: u64,
}
