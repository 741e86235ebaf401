//! The video, streaming and container rules a profile draft must pass (profile_draft.rs
//! has the rest). Each problem names its field.

use super::media_format::{
    Container, EncoderSpeed, H264Profile, SegmentFormat, VideoCodec, parse_h264_level,
};
use super::profile::{AudioSettings, LadderRung, StreamingSettings, VideoSettings};
use super::profile_draft::{
    FRAME_RATES, KEYFRAME_SECONDS, MAX_DIMENSION, MAX_RUNGS, SEGMENT_SECONDS, StreamingDraft,
    VIDEO_KBPS, VideoDraft,
};
use crate::error::FieldViolation;

/// The problems found so far.
#[derive(Default)]
pub struct Bad(Vec<FieldViolation>);

impl Bad {
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_violations(self) -> Vec<FieldViolation> {
        self.0
    }
}

fn check_dimension(field: &str, value: u32, bad: &mut Bad) {
    if !(2..=MAX_DIMENSION).contains(&value) {
        bad.add(field, format!("must be between 2 and {MAX_DIMENSION}"));
    } else if !value.is_multiple_of(2) {
        bad.add(field, format!("must be even (4:2:0 video), got {value}"));
    }
}

fn check_bitrate(field: &str, kbps: u32, bad: &mut Bad) {
    if !VIDEO_KBPS.contains(&kbps) {
        bad.add(
            field,
            format!(
                "must be between {} and {}",
                VIDEO_KBPS.start(),
                VIDEO_KBPS.end()
            ),
        );
    }
}

/// Streaming settings for a streaming container; refused for the others.
pub fn validate_streaming(
    container: Option<Container>,
    draft: Option<StreamingDraft>,
    bad: &mut Bad,
) -> Option<StreamingSettings> {
    let container = container?;
    let Some(draft) = draft else {
        if container.is_streaming() {
            bad.add(
                "profile.streaming",
                format!(
                    "is required for {}: the segment length and the ladder's rungs",
                    container.as_str()
                ),
            );
        }
        return None;
    };
    if !container.is_streaming() {
        bad.add(
            "profile.streaming",
            format!(
                "applies to the hls and dash containers only, not {}",
                container.as_str()
            ),
        );
        return None;
    }
    let before = bad.len();
    let segment_seconds = if draft.segment_seconds == 0.0 {
        6.0
    } else {
        draft.segment_seconds
    };
    // Whole seconds: HLS's EXT-X-TARGETDURATION is an integer, and the sinks cut there.
    if !SEGMENT_SECONDS.contains(&segment_seconds) || segment_seconds.fract() != 0.0 {
        bad.add(
            "profile.streaming.segment_seconds",
            format!(
                "must be a whole number of seconds from {} to {} (0 means 6)",
                SEGMENT_SECONDS.start(),
                SEGMENT_SECONDS.end()
            ),
        );
    }
    let segment_format = SegmentFormat::parse(&draft.segment_format);
    match segment_format {
        None => bad.add(
            "profile.streaming.segment_format",
            format!("'{}' is not fmp4 or ts", draft.segment_format.trim()),
        ),
        Some(SegmentFormat::Ts) if container == Container::Dash => {
            bad.add("profile.streaming.segment_format", "DASH segments are fmp4")
        }
        Some(_) => {}
    }
    if draft.rungs.is_empty() || draft.rungs.len() > MAX_RUNGS {
        bad.add(
            "profile.streaming.rungs",
            format!("needs 1 to {MAX_RUNGS} rungs"),
        );
    }
    for (i, &(width, height, kbps)) in draft.rungs.iter().enumerate().take(MAX_RUNGS) {
        check_dimension(&format!("profile.streaming.rungs[{i}].width"), width, bad);
        check_dimension(&format!("profile.streaming.rungs[{i}].height"), height, bad);
        check_bitrate(
            &format!("profile.streaming.rungs[{i}].bitrate_kbps"),
            kbps,
            bad,
        );
    }
    if bad.len() != before {
        return None;
    }
    Some(StreamingSettings {
        segment_seconds,
        segment_format: segment_format?,
        rungs: draft.as_hint().rungs,
    })
}

/// Video settings; for a ladder, the box and bitrate come from its largest rung when the
/// draft leaves them 0.
pub fn validate_video(
    v: VideoDraft,
    streaming: Option<&StreamingSettings>,
    bad: &mut Bad,
) -> Option<VideoSettings> {
    let before = bad.len();
    let codec = VideoCodec::parse(&v.codec);
    if codec.is_none() {
        bad.add(
            "profile.video.codec",
            format!(
                "'{}' is not supported (supported: {})",
                v.codec.trim(),
                VideoCodec::names()
            ),
        );
    }
    let top = streaming.and_then(|s| s.rungs.first());
    let or_top = |value: u32, of_top: fn(&LadderRung) -> u32| match (value, top) {
        (0, Some(rung)) => of_top(rung),
        _ => value,
    };
    let width = or_top(v.width, |r| r.width);
    let height = or_top(v.height, |r| r.height);
    check_dimension("profile.video.width", width, bad);
    check_dimension("profile.video.height", height, bad);
    let quality = (v.quality > 0).then_some(v.quality);
    let bitrate_kbps = or_top(v.bitrate_kbps, |r| r.bitrate_kbps);
    match (quality, codec) {
        (Some(_), _) if streaming.is_some() => bad.add(
            "profile.video.quality",
            "a ladder is encoded at its rungs' bitrates (playlists declare them)",
        ),
        (Some(_), _) if v.bitrate_kbps > 0 => bad.add(
            "profile.video.quality",
            "set either bitrate_kbps or quality, not both",
        ),
        (Some(q), Some(codec)) if !codec.quality_range().contains(&q) => {
            let range = codec.quality_range();
            bad.add(
                "profile.video.quality",
                format!(
                    "{} takes {}..{} (lower is better)",
                    codec.as_str(),
                    range.start(),
                    range.end()
                ),
            )
        }
        (Some(_), _) => {}
        (None, _) => check_bitrate("profile.video.bitrate_kbps", bitrate_kbps, bad),
    }
    let is_h264 = codec == Some(VideoCodec::H264);
    let codec_profile = match (v.codec_profile.trim(), is_h264) {
        ("", true) => Some(H264Profile::High),
        ("", false) => None,
        (raw, true) => {
            let parsed = H264Profile::parse(raw);
            if parsed.is_none() {
                bad.add(
                    "profile.video.codec_profile",
                    format!("'{raw}' is not an H.264 profile (baseline, main or high)"),
                );
            }
            parsed
        }
        (_, false) => {
            bad.add("profile.video.codec_profile", "applies to h264 only");
            None
        }
    };
    let level = match (v.level.trim(), is_h264) {
        ("", _) => None,
        (raw, true) => {
            let parsed = parse_h264_level(raw);
            if parsed.is_none() {
                bad.add(
                    "profile.video.level",
                    format!("'{raw}' is not an H.264 level (1 to 5.1, e.g. 3.1, 4.0)"),
                );
            }
            parsed.map(str::to_owned)
        }
        (_, false) => {
            bad.add("profile.video.level", "applies to h264 only");
            None
        }
    };
    let default_keyframes = streaming.map_or(2.0, |s| s.segment_seconds);
    let keyframes = if v.keyframe_interval_seconds == 0.0 {
        default_keyframes
    } else {
        v.keyframe_interval_seconds
    };
    if !KEYFRAME_SECONDS.contains(&keyframes) {
        bad.add(
            "profile.video.keyframe_interval_seconds",
            format!(
                "must be between {} and {} seconds (0 means 2)",
                KEYFRAME_SECONDS.start(),
                KEYFRAME_SECONDS.end()
            ),
        );
    }
    let frame_rate = (v.frame_rate != 0.0).then_some(v.frame_rate);
    if frame_rate.is_some_and(|f| !FRAME_RATES.contains(&f)) {
        bad.add(
            "profile.video.frame_rate",
            format!(
                "must be 0 (keep the source's) or between {} and {}",
                FRAME_RATES.start(),
                FRAME_RATES.end()
            ),
        );
    }
    let speed = EncoderSpeed::parse(&v.speed);
    if speed.is_none() {
        bad.add(
            "profile.video.speed",
            format!(
                "'{}' is not one of fastest, fast, medium, slow, slowest",
                v.speed.trim()
            ),
        );
    }
    if bad.len() != before {
        return None;
    }
    Some(VideoSettings {
        codec: codec?,
        width,
        height,
        bitrate_kbps: if quality.is_some() { 0 } else { bitrate_kbps },
        quality,
        codec_profile,
        level,
        keyframe_interval_seconds: keyframes,
        frame_rate,
        speed: speed?,
    })
}

/// The container and codec pairs the media engine can write.
/// Why DASH profiles are refused (docs/design-notes.md, "Adaptive streaming").
pub const DASH_UNAVAILABLE: &str = "dash is not available on this server: GStreamer 1.22's \
     dashsink hangs with fMP4 segments and, with TS segments, writes manifests that ffmpeg \
     cannot play; use hls";

pub fn check_combinations(
    container: Container,
    video: Option<&VideoSettings>,
    audio: Option<&AudioSettings>,
    bad: &mut Bad,
) {
    if container == Container::Dash {
        bad.add("profile.container", DASH_UNAVAILABLE);
    }
    if let Some(v) = video {
        if container.is_audio_only() {
            bad.add(
                "profile.video",
                format!("{} holds audio only", container.as_str()),
            );
        } else if !container.accepts_video(v.codec) {
            bad.add(
                "profile.video.codec",
                format!(
                    "{} cannot be written into {}",
                    v.codec.as_str(),
                    container.as_str()
                ),
            );
        }
    } else if container.is_streaming() {
        bad.add(
            "profile.video",
            format!("a {} ladder needs video settings", container.as_str()),
        );
    }
    if let Some(a) = audio.filter(|a| !container.accepts_audio(a.codec)) {
        bad.add(
            "profile.audio.codec",
            format!(
                "{} cannot be written into {}",
                a.codec.as_str(),
                container.as_str()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_refused_naming_the_container() {
        let mut bad = Bad::default();
        check_combinations(Container::Dash, None, None, &mut bad);
        let violations = bad.into_violations();
        assert_eq!(violations[0].field, "profile.container");
        assert!(violations[0].description.contains("GStreamer 1.22"));
        let mut bad = Bad::default();
        check_combinations(Container::Hls, None, None, &mut bad);
        assert!(
            bad.into_violations()
                .iter()
                .all(|v| v.field != "profile.container")
        );
    }
}
