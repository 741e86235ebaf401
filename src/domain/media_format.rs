//! The formats a profile can ask for: containers, codecs, encoder speeds, and which
//! codec goes into which container. Names here are what clients send and see.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp4,
    /// Fragmented MP4 (moof/mdat fragments, playable while written).
    Fmp4,
    Webm,
    Mkv,
    /// MPEG transport stream.
    Ts,
    /// MP4 holding audio only.
    M4a,
    Mp3,
    /// Ogg holding Opus.
    Ogg,
    /// An HLS ladder: a tree of playlists and segments.
    Hls,
    /// A DASH ladder: an MPD and its segments.
    Dash,
}

impl Container {
    pub const ALL: [Container; 10] = [
        Container::Mp4,
        Container::Fmp4,
        Container::Webm,
        Container::Mkv,
        Container::Ts,
        Container::M4a,
        Container::Mp3,
        Container::Ogg,
        Container::Hls,
        Container::Dash,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Fmp4 => "fmp4",
            Container::Webm => "webm",
            Container::Mkv => "mkv",
            Container::Ts => "ts",
            Container::M4a => "m4a",
            Container::Mp3 => "mp3",
            Container::Ogg => "ogg",
            Container::Hls => "hls",
            Container::Dash => "dash",
        }
    }

    /// A client's name for a container, with the common aliases.
    pub fn parse(raw: &str) -> Option<Self> {
        let found = match raw.trim().to_ascii_lowercase().as_str() {
            "mp4" | "mov" => Container::Mp4,
            "fmp4" | "fragmented-mp4" | "fragmented_mp4" | "cmaf" => Container::Fmp4,
            "webm" => Container::Webm,
            "mkv" | "matroska" => Container::Mkv,
            "ts" | "mpegts" | "mpeg-ts" | "mpeg2ts" => Container::Ts,
            "m4a" => Container::M4a,
            "mp3" => Container::Mp3,
            "ogg" | "opus" => Container::Ogg,
            "hls" | "m3u8" => Container::Hls,
            "dash" | "mpd" => Container::Dash,
            _ => return None,
        };
        Some(found)
    }

    pub fn names() -> String {
        Self::ALL.map(Container::as_str).join(", ")
    }

    /// Containers that hold no video.
    pub fn is_audio_only(self) -> bool {
        matches!(self, Container::M4a | Container::Mp3 | Container::Ogg)
    }

    /// Containers whose output is a tree of files with a ladder of renditions.
    pub fn is_streaming(self) -> bool {
        matches!(self, Container::Hls | Container::Dash)
    }

    pub fn accepts_video(self, codec: VideoCodec) -> bool {
        use VideoCodec::*;
        match self {
            Container::Mp4 | Container::Fmp4 | Container::Mkv => true,
            Container::Webm => matches!(codec, Vp9 | Av1),
            Container::Ts | Container::Hls => matches!(codec, H264 | H265),
            Container::Dash => codec == H264,
            Container::M4a | Container::Mp3 | Container::Ogg => false,
        }
    }

    pub fn accepts_audio(self, codec: AudioCodec) -> bool {
        use AudioCodec::*;
        match self {
            Container::Mp4 | Container::Fmp4 | Container::Mkv => true,
            Container::Webm | Container::Ogg => codec == Opus,
            Container::Ts => matches!(codec, Aac | Mp3),
            Container::M4a | Container::Hls | Container::Dash => codec == Aac,
            Container::Mp3 => codec == Mp3,
        }
    }

    /// The MIME type of a file in this container.
    pub fn mime_type(self, has_video: bool) -> &'static str {
        match (self, has_video) {
            (Container::Mp4 | Container::Fmp4, true) => "video/mp4",
            (Container::Mp4 | Container::Fmp4 | Container::M4a, _) => "audio/mp4",
            (Container::Webm, true) => "video/webm",
            (Container::Webm, false) => "audio/webm",
            (Container::Mkv, true) => "video/x-matroska",
            (Container::Mkv, false) => "audio/x-matroska",
            (Container::Ts, _) => "video/mp2t",
            (Container::Mp3, _) => "audio/mpeg",
            (Container::Ogg, _) => "audio/ogg",
            (Container::Hls, _) => "application/vnd.apple.mpegurl",
            (Container::Dash, _) => "application/dash+xml",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
    H265,
    Vp9,
    Av1,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 4] = [
        VideoCodec::H264,
        VideoCodec::H265,
        VideoCodec::Vp9,
        VideoCodec::Av1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::Av1 => "av1",
        }
    }

    /// The short name ffprobe and results use ("hevc" for H.265).
    pub fn short_name(self) -> &'static str {
        match self {
            VideoCodec::H265 => "hevc",
            other => other.as_str(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let found = match raw.trim().to_ascii_lowercase().as_str() {
            "h264" | "h.264" | "avc" | "x264" => VideoCodec::H264,
            "h265" | "h.265" | "hevc" | "x265" => VideoCodec::H265,
            "vp9" => VideoCodec::Vp9,
            "av1" => VideoCodec::Av1,
            _ => return None,
        };
        Some(found)
    }

    pub fn names() -> String {
        Self::ALL.map(VideoCodec::as_str).join(", ")
    }

    /// Constant-quality levels the encoder takes: CRF for x264/x265, a quantizer for
    /// libvpx and libaom.
    pub fn quality_range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            VideoCodec::H264 | VideoCodec::H265 => 0..=51,
            VideoCodec::Vp9 | VideoCodec::Av1 => 0..=63,
        }
    }

    /// Far below realtime on ordinary machines.
    pub fn is_slow(self) -> bool {
        self == VideoCodec::Av1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    Aac,
    Opus,
    Mp3,
}

impl AudioCodec {
    pub const ALL: [AudioCodec; 3] = [AudioCodec::Aac, AudioCodec::Opus, AudioCodec::Mp3];

    pub fn as_str(self) -> &'static str {
        match self {
            AudioCodec::Aac => "aac",
            AudioCodec::Opus => "opus",
            AudioCodec::Mp3 => "mp3",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let found = match raw.trim().to_ascii_lowercase().as_str() {
            "aac" => AudioCodec::Aac,
            "opus" => AudioCodec::Opus,
            "mp3" => AudioCodec::Mp3,
            _ => return None,
        };
        Some(found)
    }

    pub fn names() -> String {
        Self::ALL.map(AudioCodec::as_str).join(", ")
    }

    /// Sample rates the encoder takes.
    pub fn sample_rates(self) -> &'static [u32] {
        match self {
            AudioCodec::Aac => &[8_000, 16_000, 22_050, 32_000, 44_100, 48_000],
            AudioCodec::Opus => &[8_000, 12_000, 16_000, 24_000, 48_000],
            AudioCodec::Mp3 => &[8_000, 16_000, 22_050, 32_000, 44_100, 48_000],
        }
    }

    pub fn max_bitrate_kbps(self) -> u32 {
        match self {
            AudioCodec::Aac | AudioCodec::Opus => 512,
            AudioCodec::Mp3 => 320,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum H264Profile {
    Baseline,
    Main,
    High,
}

impl H264Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            H264Profile::Baseline => "baseline",
            H264Profile::Main => "main",
            H264Profile::High => "high",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "baseline" | "constrained-baseline" => Some(H264Profile::Baseline),
            "main" => Some(H264Profile::Main),
            "high" => Some(H264Profile::High),
            _ => None,
        }
    }
}

/// The H.264 levels an encoder may be held to.
pub const H264_LEVELS: [&str; 16] = [
    "1", "1b", "1.1", "1.2", "1.3", "2", "2.1", "2.2", "3", "3.1", "3.2", "4", "4.1", "4.2", "5",
    "5.1",
];

/// Normalises "4.0" to "4" and checks it is a level; None when it is not.
pub fn parse_h264_level(raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    let trimmed = raw.strip_suffix(".0").unwrap_or(raw);
    H264_LEVELS.iter().copied().find(|l| *l == trimmed)
}

/// The speed/quality trade-off, mapped onto each encoder's own presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderSpeed {
    Fastest,
    Fast,
    #[default]
    Medium,
    Slow,
    Slowest,
}

impl EncoderSpeed {
    pub fn as_str(self) -> &'static str {
        match self {
            EncoderSpeed::Fastest => "fastest",
            EncoderSpeed::Fast => "fast",
            EncoderSpeed::Medium => "medium",
            EncoderSpeed::Slow => "slow",
            EncoderSpeed::Slowest => "slowest",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "medium" => Some(EncoderSpeed::Medium),
            "fastest" => Some(EncoderSpeed::Fastest),
            "fast" => Some(EncoderSpeed::Fast),
            "slow" => Some(EncoderSpeed::Slow),
            "slowest" => Some(EncoderSpeed::Slowest),
            _ => None,
        }
    }
}

/// How an adaptive-streaming ladder's segments are packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentFormat {
    /// CMAF: fragmented MP4 segments behind an init segment.
    #[default]
    Fmp4,
    /// MPEG-TS segments.
    Ts,
}

impl SegmentFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentFormat::Fmp4 => "fmp4",
            SegmentFormat::Ts => "ts",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "fmp4" | "cmaf" | "mp4" => Some(SegmentFormat::Fmp4),
            "ts" | "mpegts" => Some(SegmentFormat::Ts),
            _ => None,
        }
    }
}

/// A ladder's tree sits in a directory named after its master playlist ("video.m3u8" ->
/// "video"), so two ladders of one order never share one.
pub fn ladder_dir_name(filename: &str) -> String {
    match filename.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => format!("{filename}.d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Container::ALL {
            assert_eq!(Container::parse(c.as_str()), Some(c));
        }
        for c in VideoCodec::ALL {
            assert_eq!(VideoCodec::parse(c.as_str()), Some(c));
            assert_eq!(VideoCodec::parse(c.short_name()), Some(c));
        }
        for c in AudioCodec::ALL {
            assert_eq!(AudioCodec::parse(c.as_str()), Some(c));
        }
        assert_eq!(Container::parse("MPEG-TS"), Some(Container::Ts));
        assert_eq!(Container::parse("avi"), None);
    }

    #[test]
    fn the_engine_refuses_what_it_cannot_mux() {
        assert!(!Container::Webm.accepts_video(VideoCodec::H265));
        assert!(!Container::Ts.accepts_video(VideoCodec::Vp9));
        assert!(!Container::Webm.accepts_audio(AudioCodec::Aac));
        assert!(!Container::Mp3.accepts_audio(AudioCodec::Aac));
        assert!(!Container::M4a.accepts_video(VideoCodec::H264));
        assert!(Container::Mkv.accepts_video(VideoCodec::Av1));
        assert!(Container::Ogg.accepts_audio(AudioCodec::Opus));
    }

    #[test]
    fn h264_levels_normalise() {
        assert_eq!(parse_h264_level("4.0"), Some("4"));
        assert_eq!(parse_h264_level("3.1"), Some("3.1"));
        assert_eq!(parse_h264_level("6.2"), None);
    }
}
