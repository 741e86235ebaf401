//! The profile form's inputs, grouped in sections (their values and the draft they make:
//! `profile_values`). Each input names the domain's field (`profile.video.bitrate_kbps`),
//! so a validation error lands next to the input it is about.

use super::layout::FieldErrors;
use super::profile_values::Values;
use crate::domain::profile::{AudioCodec, Container, VideoCodec};
use crate::error::FieldViolation;
use maud::{Markup, html};

enum Kind {
    Text,
    Number,
    Check,
    Select(fn() -> Vec<&'static str>),
    Lines,
}

struct Input {
    name: &'static str,
    field: &'static str,
    label: &'static str,
    kind: Kind,
    help: &'static str,
}

const fn input(name: &'static str, field: &'static str, label: &'static str, kind: Kind) -> Input {
    Input {
        name,
        field,
        label,
        kind,
        help: "",
    }
}

fn containers() -> Vec<&'static str> {
    Container::ALL.map(Container::as_str).to_vec()
}
fn video_codecs() -> Vec<&'static str> {
    VideoCodec::ALL.map(VideoCodec::as_str).to_vec()
}
fn audio_codecs() -> Vec<&'static str> {
    vec![
        AudioCodec::Aac.as_str(),
        AudioCodec::Opus.as_str(),
        AudioCodec::Mp3.as_str(),
    ]
}
fn h264_profiles() -> Vec<&'static str> {
    vec!["", "baseline", "main", "high"]
}
fn speeds() -> Vec<&'static str> {
    vec!["fastest", "fast", "medium", "slow", "slowest"]
}
fn segment_formats() -> Vec<&'static str> {
    vec!["fmp4", "ts"]
}

/// The form's sections and their inputs, in order.
const SECTIONS: [(&str, &[Input]); 5] = [
    (
        "General",
        &[
            input(
                "description",
                "profile.description",
                "Description",
                Kind::Text,
            ),
            input(
                "container",
                "profile.container",
                "Container",
                Kind::Select(containers),
            ),
        ],
    ),
    (
        "Video",
        &[
            input("has_video", "profile.video", "Has video", Kind::Check),
            input(
                "video_codec",
                "profile.video.codec",
                "Codec",
                Kind::Select(video_codecs),
            ),
            input("width", "profile.video.width", "Width (px)", Kind::Number),
            input(
                "height",
                "profile.video.height",
                "Height (px)",
                Kind::Number,
            ),
            input(
                "video_bitrate_kbps",
                "profile.video.bitrate_kbps",
                "Bitrate (kb/s)",
                Kind::Number,
            ),
            input(
                "quality",
                "profile.video.quality",
                "Constant quality (0: use the bitrate)",
                Kind::Number,
            ),
            input(
                "codec_profile",
                "profile.video.codec_profile",
                "H.264 profile",
                Kind::Select(h264_profiles),
            ),
            input("level", "profile.video.level", "H.264 level", Kind::Text),
            input(
                "keyframe_interval_seconds",
                "profile.video.keyframe_interval_seconds",
                "Key frame every (s)",
                Kind::Number,
            ),
            input(
                "frame_rate",
                "profile.video.frame_rate",
                "Frame rate (0: the source's)",
                Kind::Number,
            ),
            input(
                "speed",
                "profile.video.speed",
                "Encoder speed",
                Kind::Select(speeds),
            ),
        ],
    ),
    (
        "Audio",
        &[
            input("has_audio", "profile.audio", "Has audio", Kind::Check),
            input(
                "audio_codec",
                "profile.audio.codec",
                "Codec",
                Kind::Select(audio_codecs),
            ),
            input(
                "audio_bitrate_kbps",
                "profile.audio.bitrate_kbps",
                "Bitrate (kb/s)",
                Kind::Number,
            ),
            input(
                "channels",
                "profile.audio.channels",
                "Channels",
                Kind::Number,
            ),
            input(
                "sample_rate",
                "profile.audio.sample_rate",
                "Sample rate (Hz)",
                Kind::Number,
            ),
        ],
    ),
    (
        "Bitrate and size",
        &[
            Input {
                help: "Never encode above the source's own bitrate: the effective bitrate is the lower of the source's and this profile's.",
                ..input(
                    "restrict_bitrate",
                    "profile.restrict_bitrate",
                    "Restrict bitrate",
                    Kind::Check,
                )
            },
            input(
                "allow_upscale",
                "profile.allow_upscale",
                "Allow upscaling",
                Kind::Check,
            ),
        ],
    ),
    (
        "Streaming (HLS, DASH)",
        &[
            input(
                "segment_seconds",
                "profile.streaming.segment_seconds",
                "Segment length (s)",
                Kind::Number,
            ),
            input(
                "segment_format",
                "profile.streaming.segment_format",
                "Segment format",
                Kind::Select(segment_formats),
            ),
            Input {
                help: "One rung per line, largest first: WIDTHxHEIGHT@KBPS, e.g. 1280x720@3000.",
                ..input(
                    "rungs",
                    "profile.streaming.rungs",
                    "Ladder rungs",
                    Kind::Lines,
                )
            },
        ],
    ),
];

fn control(i: &Input, values: &Values, error: Option<&str>, read_only: bool) -> Markup {
    let value = values.get(i.name).cloned().unwrap_or_default();
    let described = format!("{0}-help {0}-error", i.name);
    let invalid = error.map(|_| "true");
    html! {
        @match &i.kind {
            Kind::Check => {
                input id=(i.name) name=(i.name) type="checkbox" checked[value == "on"] disabled[read_only]
                    aria-describedby=(described) aria-invalid=[invalid];
            }
            Kind::Select(options) => {
                select id=(i.name) name=(i.name) disabled[read_only] aria-describedby=(described) aria-invalid=[invalid] {
                    @for o in options() { option value=(o) selected[o == value] { @if o.is_empty() { "(default)" } @else { (o) } } }
                }
            }
            Kind::Lines => {
                textarea id=(i.name) name=(i.name) rows="4" readonly[read_only] aria-describedby=(described) aria-invalid=[invalid] { (value) }
            }
            Kind::Text | Kind::Number => {
                input id=(i.name) name=(i.name) type="text" value=(value) readonly[read_only]
                    inputmode=[matches!(i.kind, Kind::Number).then_some("decimal")]
                    aria-describedby=(described) aria-invalid=[invalid];
            }
        }
    }
}

/// The form's fields: each with its label, help and error; read-only for a preset.
pub fn fields(values: &Values, errors: &FieldErrors, read_only: bool) -> Markup {
    let mut shown: Vec<&str> = Vec::new();
    let sections = html! {
        @for (title, inputs) in SECTIONS {
            fieldset.profile-section {
                legend { (title) }
                @for i in inputs {
                    @let error = errors.get(i.field).or_else(|| (i.name == "rungs").then(|| rung_errors(errors)).flatten());
                    div class={ "field" @if matches!(i.kind, Kind::Check) { " check" } } data-field=(i.field) {
                        @if matches!(i.kind, Kind::Check) { (control(i, values, error.as_deref(), read_only)) }
                        label for=(i.name) { (i.label) }
                        @if !matches!(i.kind, Kind::Check) { (control(i, values, error.as_deref(), read_only)) }
                        p.help id={ (i.name) "-help" } { (i.help) }
                        p.field-error id={ (i.name) "-error" } role="alert" { @if let Some(e) = &error { (e) } }
                    }
                }
            }
        }
    };
    for (_, inputs) in SECTIONS {
        shown.extend(inputs.iter().map(|i| i.field));
    }
    let others: Vec<&FieldViolation> = errors
        .others(&shown)
        .filter(|v| !v.field.starts_with("profile.streaming.rungs"))
        .collect();
    html! {
        @if !others.is_empty() {
            div.error-box role="alert" {
                @for v in others { p { code { (v.field) } ": " (v.description) } }
            }
        }
        (sections)
    }
}

fn rung_errors(errors: &FieldErrors) -> Option<String> {
    let found: Vec<String> = (errors.0.iter())
        .filter(|v| v.field.starts_with("profile.streaming.rungs["))
        .map(|v| {
            format!(
                "{}: {}",
                v.field.trim_start_matches("profile.streaming."),
                v.description
            )
        })
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}
