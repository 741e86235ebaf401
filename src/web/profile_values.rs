//! The profile form's values: from a profile, for a new one, and the draft what was typed
//! makes (numbers that are not numbers are named by the domain's field).

use crate::domain::Profile;
use crate::domain::profile_draft::{AudioDraft, ProfileDraft, StreamingDraft, VideoDraft};
use crate::error::FieldViolation;
use std::collections::HashMap;

/// What the form shows: input name -> value ("on" for a ticked box).
pub type Values = HashMap<String, String>;

/// A profile's settings as form values.
pub fn values_of(p: &Profile) -> Values {
    let mut v = Values::new();
    let mut set = |k: &str, value: String| {
        v.insert(k.to_owned(), value);
    };
    set("description", p.description.clone());
    set("container", p.container.as_str().into());
    if let Some(video) = &p.video {
        set("has_video", "on".into());
        set("video_codec", video.codec.as_str().into());
        set("width", video.width.to_string());
        set("height", video.height.to_string());
        set("video_bitrate_kbps", video.bitrate_kbps.to_string());
        set("quality", video.quality.unwrap_or(0).to_string());
        set("codec_profile", video.codec_profile_name().into());
        set("level", video.level.clone().unwrap_or_default());
        set(
            "keyframe_interval_seconds",
            video.keyframe_interval_seconds.to_string(),
        );
        set("frame_rate", video.frame_rate.unwrap_or(0.0).to_string());
        set("speed", video.speed.as_str().into());
    }
    if let Some(audio) = &p.audio {
        set("has_audio", "on".into());
        set("audio_codec", audio.codec.as_str().into());
        set("audio_bitrate_kbps", audio.bitrate_kbps.to_string());
        set("channels", audio.channels.to_string());
        set("sample_rate", audio.sample_rate.to_string());
    }
    if p.restrict_bitrate {
        set("restrict_bitrate", "on".into());
    }
    if p.allow_upscale {
        set("allow_upscale", "on".into());
    }
    if let Some(s) = &p.streaming {
        set("segment_seconds", s.segment_seconds.to_string());
        set("segment_format", s.segment_format.as_str().into());
        let rungs: Vec<String> = (s.rungs.iter())
            .map(|r| format!("{}x{}@{}", r.width, r.height, r.bitrate_kbps))
            .collect();
        set("rungs", rungs.join("\n"));
    }
    v
}

/// A new profile's starting values: H.264 720p with AAC in MP4.
pub fn new_values() -> Values {
    [
        ("container", "mp4"),
        ("has_video", "on"),
        ("video_codec", "h264"),
        ("width", "1280"),
        ("height", "720"),
        ("video_bitrate_kbps", "2500"),
        ("speed", "medium"),
        ("has_audio", "on"),
        ("audio_codec", "aac"),
        ("audio_bitrate_kbps", "128"),
        ("channels", "2"),
        ("sample_rate", "48000"),
        ("segment_format", "fmp4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The draft the values make, or the fields that are not numbers.
pub fn draft(values: &Values) -> Result<ProfileDraft, Vec<FieldViolation>> {
    let mut bad = Vec::new();
    let text = |k: &str| {
        values
            .get(k)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let on = |k: &str| values.get(k).is_some_and(|s| s == "on");
    let mut num = |k: &str, field: &str| -> f64 {
        match text(k).as_str() {
            "" => 0.0,
            raw => raw
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or_else(|| {
                    bad.push(FieldViolation::new(
                        field,
                        format!("'{raw}' is not a number"),
                    ));
                    0.0
                }),
        }
    };
    let video = on("has_video").then(|| VideoDraft {
        codec: text("video_codec"),
        width: num("width", "profile.video.width") as u32,
        height: num("height", "profile.video.height") as u32,
        bitrate_kbps: num("video_bitrate_kbps", "profile.video.bitrate_kbps") as u32,
        quality: num("quality", "profile.video.quality") as u32,
        codec_profile: text("codec_profile"),
        level: text("level"),
        keyframe_interval_seconds: num(
            "keyframe_interval_seconds",
            "profile.video.keyframe_interval_seconds",
        ),
        frame_rate: num("frame_rate", "profile.video.frame_rate"),
        speed: text("speed"),
    });
    let audio = on("has_audio").then(|| AudioDraft {
        codec: text("audio_codec"),
        bitrate_kbps: num("audio_bitrate_kbps", "profile.audio.bitrate_kbps") as u32,
        channels: num("channels", "profile.audio.channels") as u32,
        sample_rate: num("sample_rate", "profile.audio.sample_rate") as u32,
    });
    let container = text("container");
    let mut rung_problems = Vec::new();
    let streaming = matches!(container.as_str(), "hls" | "dash").then(|| StreamingDraft {
        segment_seconds: num("segment_seconds", "profile.streaming.segment_seconds"),
        segment_format: text("segment_format"),
        rungs: parse_rungs(&text("rungs"), &mut rung_problems),
    });
    bad.extend(rung_problems);
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(ProfileDraft {
        description: text("description"),
        container,
        video,
        audio,
        restrict_bitrate: on("restrict_bitrate"),
        allow_upscale: on("allow_upscale"),
        streaming,
    })
}

/// `WIDTHxHEIGHT@KBPS` per line (at most 64 lines read; validation caps the ladder).
fn parse_rungs(raw: &str, bad: &mut Vec<FieldViolation>) -> Vec<(u32, u32, u32)> {
    let mut rungs = Vec::new();
    for (i, line) in raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .take(64)
    {
        let parsed = line.split_once('@').and_then(|(size, kbps)| {
            let (w, h) = size.split_once(['x', 'X'])?;
            Some((
                w.trim().parse().ok()?,
                h.trim().parse().ok()?,
                kbps.trim().parse().ok()?,
            ))
        });
        match parsed {
            Some(rung) => rungs.push(rung),
            None => bad.push(FieldViolation::new(
                format!("profile.streaming.rungs[{i}]"),
                format!("'{line}' is not WIDTHxHEIGHT@KBPS"),
            )),
        }
    }
    rungs
}
