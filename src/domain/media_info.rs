use serde::{Deserialize, Serialize};

/// What a probe found in a media file. Fields added after the first release carry
/// `serde(default)` so that stored jobs still decode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub duration_seconds: f64,
    pub size_bytes: u64,
    pub bitrate_bps: u64,
    /// Short name: mp4, webm, mkv, ts, mp3, ogg (the caps name for others). Jobs stored
    /// before short names hold the caps name here.
    pub container: String,
    /// GStreamer's caps name for the container, e.g. "video/quicktime".
    #[serde(default)]
    pub container_caps: String,
    pub mime_type: String,
    pub video: Option<VideoStreamInfo>,
    pub audio: Option<AudioStreamInfo>,
    /// Every stream in the file (video, audio, subtitles, data), not only the two above.
    #[serde(default)]
    pub stream_count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoStreamInfo {
    /// Short name as ffprobe gives it: h264, hevc, vp9, av1, vp8...
    pub codec: String,
    /// GStreamer's description, e.g. "H.264 (High Profile)".
    #[serde(default)]
    pub codec_description: String,
    /// Display dimensions, after any rotation tag is applied.
    pub width: u32,
    pub height: u32,
    /// Width:height as displayed, reduced ("16:9"), pixel aspect ratio included.
    #[serde(default)]
    pub display_aspect_ratio: String,
    pub frame_rate: f64,
    pub bitrate_bps: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioStreamInfo {
    /// Short name as ffprobe gives it: aac, opus, mp3, vorbis...
    pub codec: String,
    /// GStreamer's description, e.g. "MPEG-4 AAC".
    #[serde(default)]
    pub codec_description: String,
    pub channels: u32,
    pub sample_rate: u32,
    pub bitrate_bps: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_stored_before_short_names_still_decodes() {
        let stored = r#"{"duration_seconds":2.0,"size_bytes":10,"bitrate_bps":40,
            "container":"video/quicktime","mime_type":"video/mp4",
            "video":{"codec":"H.264 (High Profile)","width":640,"height":360,
                     "frame_rate":30.0,"bitrate_bps":30},
            "audio":{"codec":"MPEG-4 AAC","channels":2,"sample_rate":48000,"bitrate_bps":10}}"#;
        let info: MediaInfo = serde_json::from_str(stored).unwrap();
        let video = info.video.unwrap();
        assert_eq!(video.codec, "H.264 (High Profile)");
        assert_eq!(
            (video.width, video.display_aspect_ratio.as_str()),
            (640, "")
        );
        assert_eq!(info.audio.unwrap().codec_description, "");
        assert_eq!(info.container_caps, "");
    }
}
