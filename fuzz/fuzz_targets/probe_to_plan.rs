//! Probe results to plans: any source the probe could report, with any system presets,
//! plans without a panic, and every plan keeps the sizing and bitrate rules.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use transcoder::domain::MediaInfo;
use transcoder::domain::media_info::{AudioStreamInfo, VideoStreamInfo};
use transcoder::domain::order::OutputSpec;
use transcoder::domain::profile::SYSTEM_PRESETS;
use transcoder::media::encoders::RateControl;
use transcoder::media::plan::plan_outputs;

#[derive(Arbitrary, Debug)]
struct Case {
    video: Option<(u16, u16, u32, u32)>,
    audio: Option<(u8, u32, u32)>,
    duration_ms: u32,
    size_bytes: u32,
    presets: Vec<(u8, bool, bool)>,
}

fuzz_target!(|case: Case| {
    let video = case
        .video
        .map(|(width, height, fps_milli, kbps)| VideoStreamInfo {
            width: width.into(),
            height: height.into(),
            frame_rate: f64::from(fps_milli) / 1000.0,
            bitrate_bps: u64::from(kbps) * 1000,
            ..Default::default()
        });
    let audio = case.audio.map(|(channels, rate, kbps)| AudioStreamInfo {
        channels: channels.into(),
        sample_rate: rate,
        bitrate_bps: u64::from(kbps) * 1000,
        ..Default::default()
    });
    let duration = f64::from(case.duration_ms) / 1000.0;
    let info = MediaInfo {
        duration_seconds: duration,
        size_bytes: case.size_bytes.into(),
        bitrate_bps: if duration > 0.0 {
            (f64::from(case.size_bytes) * 8.0 / duration) as u64
        } else {
            0
        },
        video,
        audio,
        ..Default::default()
    };
    let outputs: Vec<OutputSpec> = case
        .presets
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, &(index, upscale, restrict))| {
            let mut profile = SYSTEM_PRESETS[usize::from(index) % SYSTEM_PRESETS.len()].clone();
            profile.allow_upscale = upscale;
            profile.restrict_bitrate = restrict;
            OutputSpec {
                label: format!("o{i}"),
                filename: format!("o{i}.out"),
                profile,
                requested_preset: None,
                reference: String::new(),
            }
        })
        .collect();
    let Ok(plan) = plan_outputs(&outputs, &info, Path::new("/work"), 2) else {
        return;
    };
    for rendition in &plan.renditions {
        let profile = &outputs[rendition.output].profile;
        let Some(v) = &rendition.video else { continue };
        assert!(v.width >= 2 && v.height >= 2 && v.width % 2 == 0 && v.height % 2 == 0);
        let src = info.video.as_ref().expect("video plans need a video source");
        let box_w = profile.video.as_ref().map_or(0, |p| p.width);
        let ladder_box = profile
            .streaming
            .as_ref()
            .map_or(box_w, |s| s.rungs.iter().map(|r| r.width).max().unwrap_or(0));
        assert!(v.width <= ladder_box.max(2), "{v:?} in a {ladder_box} wide box");
        if !profile.allow_upscale && src.width >= 2 && src.height >= 2 {
            assert!(v.width <= src.width.max(2) && v.height <= src.height.max(2), "{v:?} from {src:?}");
        }
        if let RateControl::Bitrate { kbps, .. } = v.rate {
            let most = profile.streaming.as_ref().map_or_else(
                || profile.video.as_ref().map_or(0, |p| p.bitrate_kbps),
                |s| s.rungs.iter().map(|r| r.bitrate_kbps).max().unwrap_or(0),
            );
            assert!(kbps >= 1 && kbps <= most.max(50), "{kbps} kbps against {most}");
        }
    }
});
