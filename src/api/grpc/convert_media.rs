//! Outputs, their settings and their probed media, to the wire.

use super::convert::output_state;
use crate::domain::MediaInfo;
use crate::domain::encode_settings::{EncodeSettings, RenditionResult};
use crate::domain::job::OutputResult;
use crate::proto as pb;

pub fn media(m: &MediaInfo) -> pb::MediaInfo {
    let v = m.video.clone().unwrap_or_default();
    let a = m.audio.clone().unwrap_or_default();
    pb::MediaInfo {
        duration_seconds: m.duration_seconds,
        size_bytes: m.size_bytes,
        bitrate_bps: m.bitrate_bps,
        container: m.container.clone(),
        video_codec: v.codec,
        width: v.width,
        height: v.height,
        frame_rate: v.frame_rate,
        audio_codec: a.codec,
        audio_channels: a.channels,
        audio_sample_rate: a.sample_rate,
        mime_type: m.mime_type.clone(),
        video_bitrate_bps: v.bitrate_bps,
        audio_bitrate_bps: a.bitrate_bps,
        display_aspect_ratio: v.display_aspect_ratio,
        video_codec_description: v.codec_description,
        audio_codec_description: a.codec_description,
    }
}

pub fn encode_settings(s: &EncodeSettings) -> pb::EncodeSettings {
    pb::EncodeSettings {
        video_codec: s.video_codec.clone(),
        video_encoder: s.video_encoder.clone(),
        width: s.width,
        height: s.height,
        video_bitrate_kbps: s.video_bitrate_kbps,
        quality: s.quality,
        bitrate_capped_by_source: s.bitrate_capped_by_source,
        frame_rate: s.frame_rate,
        keyframe_interval_seconds: s.keyframe_interval_seconds,
        codec_profile: s.codec_profile.clone(),
        level: s.level.clone(),
        speed: s.speed.clone(),
        audio_codec: s.audio_codec.clone(),
        audio_encoder: s.audio_encoder.clone(),
        audio_bitrate_kbps: s.audio_bitrate_kbps,
        audio_channels: s.audio_channels,
        audio_sample_rate: s.audio_sample_rate,
    }
}

fn rendition(r: &RenditionResult) -> pb::RenditionResult {
    pb::RenditionResult {
        name: r.name.clone(),
        urls: r.urls.clone(),
        media: r.media.as_ref().map(media),
        encoded: Some(encode_settings(&r.encoded)),
        segments: r.segments,
        max_segment_seconds: r.max_segment_seconds,
    }
}

pub fn output(o: &OutputResult, profile_description: &str) -> pb::OutputResult {
    pb::OutputResult {
        label: o.label.clone(),
        filename: o.filename.clone(),
        state: output_state(o.state),
        profile_id: o.profile_id.0,
        urls: o.urls.clone(),
        media: o.media.as_ref().map(media),
        profile_description: profile_description.to_owned(),
        file_metadata_json: if o.file_metadata.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&o.file_metadata).unwrap_or_default()
        },
        reference: o.reference.clone(),
        encoded: o.encoded.as_ref().map(encode_settings),
        kind: o.kind.as_str().into(),
        renditions: o.renditions.iter().map(rendition).collect(),
        percent: o.percent,
    }
}
