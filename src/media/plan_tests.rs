//! Tests of plan.rs.

use super::*;
use crate::domain::media_info::AudioStreamInfo;
use crate::domain::profile::{EncoderSpeed, H264Profile, SYSTEM_PRESETS, system_preset_by_ref};

/// A one-file H.264 rendition of that size (shared with the pipeline's tests).
pub fn video_rendition(label: &str, width: u32, height: u32) -> Rendition {
    Rendition {
        label: label.into(),
        output: 0,
        sink: Sink::File {
            path: PathBuf::from(format!("/nonexistent/{label}.mp4")),
            container: Container::Mp4,
        },
        video: Some(VideoPlan {
            encoder: VideoEncoder::X264 {
                profile: H264Profile::High,
                level: None,
                speed: EncoderSpeed::Medium,
            },
            width,
            height,
            rate: RateControl::Bitrate {
                kbps: 1000,
                capped: false,
            },
            frame_rate: None,
            keyframe_interval_seconds: 2.0,
            keyframe_interval_frames: 60,
            threads: 1,
            scale_from: None,
        }),
        audio: None,
    }
}

fn scale_sources(renditions: &[Rendition]) -> Vec<Option<usize>> {
    renditions
        .iter()
        .map(|r| r.video.as_ref().and_then(|v| v.scale_from))
        .collect()
}

#[test]
fn a_ladder_cascades_through_its_downscaled_rungs() {
    let mut ladder = vec![
        video_rendition("480p", 854, 480),
        video_rendition("1080p", 1920, 1080),
        video_rendition("720p", 1280, 720),
    ];
    assign_scale_sources(&mut ladder, (1920, 1080));
    // 480p from 720p; 720p from the source, since the 1080p rung does not scale.
    assert_eq!(scale_sources(&ladder), vec![Some(2), None, None]);
}

#[test]
fn no_cascade_across_shapes_rates_or_between_equal_sizes() {
    let mut outputs = vec![
        video_rendition("square", 720, 720),
        video_rendition("wide", 640, 360),
        video_rendition("wide-again", 640, 360),
        video_rendition("wide-25fps", 320, 180),
    ];
    outputs[3].video.as_mut().unwrap().frame_rate = Some(25.0);
    assign_scale_sources(&mut outputs, (1920, 1080));
    assert_eq!(scale_sources(&outputs), vec![None, None, None, None]);
}

fn source(width: u32, height: u32, video_bps: u64) -> MediaInfo {
    MediaInfo {
        duration_seconds: 10.0,
        bitrate_bps: video_bps + 128_000,
        video: Some(VideoStreamInfo {
            width,
            height,
            frame_rate: 30.0,
            bitrate_bps: video_bps,
            ..Default::default()
        }),
        audio: Some(AudioStreamInfo {
            channels: 2,
            sample_rate: 48_000,
            bitrate_bps: 128_000,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn spec(profile: &Profile, filename: &str) -> OutputSpec {
    OutputSpec {
        label: "out".into(),
        filename: filename.into(),
        profile: profile.clone(),
        requested_preset: None,
        reference: String::new(),
    }
}

#[test]
fn a_small_source_keeps_its_size_and_its_bitrate_caps_the_encode() {
    let generic_720p = system_preset_by_ref("System preset: Generic 720p").unwrap();
    let plan = plan_outputs(
        &[spec(generic_720p, "a.mp4")],
        &source(640, 272, 985_000),
        Path::new("/work"),
        2,
    )
    .unwrap();
    let settings = plan.renditions[0].encode_settings();
    assert_eq!((settings.width, settings.height), (640, 272));
    assert_eq!(settings.video_bitrate_kbps, 985);
    assert!(settings.bitrate_capped_by_source);
    assert_eq!(settings.video_codec, "h264");
    assert_eq!(settings.audio_codec, "aac");
}

#[test]
fn an_hls_ladder_drops_rungs_above_the_source_and_splits_audio_for_cmaf() {
    let hls = SYSTEM_PRESETS
        .iter()
        .find(|p| p.description == "System preset: HLS ladder")
        .unwrap();
    let plan = plan_outputs(
        &[spec(hls, "video.m3u8")],
        &source(1280, 720, 3_000_000),
        Path::new("/work"),
        1,
    )
    .unwrap();
    let labels: Vec<&str> = plan.renditions.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["out/720p", "out/480p", "out/360p", "out/audio"]);
    assert_eq!(plan.ladders.len(), 1);
    assert_eq!(plan.ladders[0].dir, Path::new("/work/video"));
    assert_eq!(plan.ladders[0].renditions, vec![0, 1, 2, 3]);
    // Key frames fall on every segment boundary: 6 s at 30 fps.
    let v = plan.renditions[0].video.as_ref().unwrap();
    assert_eq!(v.keyframe_interval_frames, 180);
    // 480p cascades from 720p's scaler? No: 720p is the source's size, so it does not
    // scale; 360p scales from 480p.
    assert_eq!(
        scale_sources(&plan.renditions),
        vec![None, None, Some(1), None]
    );
}

#[test]
fn a_source_smaller_than_every_rung_keeps_the_smallest() {
    let rungs = crate::domain::system_presets::standard_ladder();
    let src = VideoStreamInfo {
        width: 320,
        height: 180,
        ..Default::default()
    };
    let kept = kept_rungs(&rungs, &src, false);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].height, 360);
    assert_eq!(kept_rungs(&rungs, &src, true).len(), 4);
}

#[test]
fn a_video_output_from_an_audio_only_source_names_the_output() {
    let generic = system_preset_by_ref("1").unwrap();
    let mut audio_only = source(0, 0, 0);
    audio_only.video = None;
    let err = plan_outputs(&[spec(generic, "a.mp4")], &audio_only, Path::new("/w"), 1);
    // The profile has audio too, so the output is made audio-only... unless it is a
    // ladder, which needs video.
    assert!(err.is_ok());
    let hls = system_preset_by_ref("84").unwrap();
    let err = plan_outputs(&[spec(hls, "v.m3u8")], &audio_only, Path::new("/w"), 1).unwrap_err();
    assert!(err.to_string().contains("needs a video stream"), "{err}");
}

#[test]
fn ladder_dirs_are_named_after_the_master() {
    assert_eq!(ladder_dir_name("video.m3u8"), "video");
    assert_eq!(ladder_dir_name("manifest"), "manifest.d");
}
