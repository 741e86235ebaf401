//! Profiles to and from the wire.

use crate::domain::ProfileId;
use crate::domain::profile::{AudioSettings, Profile, StreamingSettings, VideoSettings};
use crate::domain::profile_draft::{AudioDraft, ProfileDraft, StreamingDraft, VideoDraft};
use crate::error::Error;
use crate::proto as pb;

fn video_settings(v: &VideoSettings) -> pb::VideoSettings {
    pb::VideoSettings {
        codec: v.codec.as_str().into(),
        width: v.width,
        height: v.height,
        bitrate_kbps: v.bitrate_kbps,
        codec_profile: v.codec_profile_name().to_owned(),
        keyframe_interval_seconds: v.keyframe_interval_seconds,
        frame_rate: v.frame_rate.unwrap_or(0.0),
        quality: v.quality.unwrap_or(0),
        level: v.level.clone().unwrap_or_default(),
        speed: v.speed.as_str().into(),
    }
}

fn audio_settings(a: &AudioSettings) -> pb::AudioSettings {
    pb::AudioSettings {
        codec: a.codec.as_str().into(),
        bitrate_kbps: a.bitrate_kbps,
        channels: a.channels,
        sample_rate: a.sample_rate,
    }
}

fn streaming_settings(s: &StreamingSettings) -> pb::StreamingSettings {
    pb::StreamingSettings {
        segment_seconds: s.segment_seconds,
        segment_format: s.segment_format.as_str().into(),
        rungs: s
            .rungs
            .iter()
            .map(|r| pb::LadderRung {
                width: r.width,
                height: r.height,
                bitrate_kbps: r.bitrate_kbps,
            })
            .collect(),
    }
}

pub fn profile(p: &Profile) -> pb::Profile {
    pb::Profile {
        id: p.id.0,
        company_id: p
            .company_id
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        description: p.description.clone(),
        system: p.is_system(),
        container: p.container.as_str().into(),
        video: p.video.as_ref().map(video_settings),
        audio: p.audio.as_ref().map(audio_settings),
        restrict_bitrate: p.restrict_bitrate,
        elastic_transcoder_id: p.elastic_transcoder_id.clone().unwrap_or_default(),
        allow_upscale: p.allow_upscale,
        streaming: p.streaming.as_ref().map(streaming_settings),
        slow: p.is_slow(),
    }
}

/// The most rungs read from a request (validation refuses more than its own cap).
const MAX_RUNGS_READ: usize = 64;

/// A profile to save, and the id it names (used by UpdateProfile).
pub fn profile_draft(p: Option<pb::Profile>) -> Result<(ProfileId, ProfileDraft), Error> {
    let p = p.ok_or_else(|| Error::invalid_argument("profile", "is required"))?;
    if p.streaming
        .as_ref()
        .is_some_and(|s| s.rungs.len() > MAX_RUNGS_READ)
    {
        return Err(Error::invalid_argument(
            "profile.streaming.rungs",
            format!("at most {MAX_RUNGS_READ} rungs are read"),
        ));
    }
    let draft = ProfileDraft {
        description: p.description,
        container: p.container,
        video: p.video.map(|v| VideoDraft {
            codec: v.codec,
            width: v.width,
            height: v.height,
            bitrate_kbps: v.bitrate_kbps,
            quality: v.quality,
            codec_profile: v.codec_profile,
            level: v.level,
            keyframe_interval_seconds: v.keyframe_interval_seconds,
            frame_rate: v.frame_rate,
            speed: v.speed,
        }),
        audio: p.audio.map(|a| AudioDraft {
            codec: a.codec,
            bitrate_kbps: a.bitrate_kbps,
            channels: a.channels,
            sample_rate: a.sample_rate,
        }),
        restrict_bitrate: p.restrict_bitrate,
        allow_upscale: p.allow_upscale,
        streaming: p.streaming.map(|s| StreamingDraft {
            segment_seconds: s.segment_seconds,
            segment_format: s.segment_format,
            rungs: s
                .rungs
                .into_iter()
                .map(|r| (r.width, r.height, r.bitrate_kbps))
                .collect(),
        }),
    };
    Ok((ProfileId(p.id), draft))
}
