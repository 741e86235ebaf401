//! Generates test media with GStreamer's test sources (tests and benchmarks).

use crate::media::{self, MediaError};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct ClipSpec {
    pub seconds: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub audio: bool,
    /// Put the index (moov) first; without it a truncated file has no index at all.
    pub faststart: bool,
    /// `videotestsrc` properties choosing the picture, e.g. `pattern=ball` (easy to
    /// compress) or `pattern=zone-plate kx2=20 ky2=20 kt=1` (hard, for benchmarks).
    pub video_source_properties: String,
    /// Bitrate of the generated H.264 stream; the service caps outputs at the source's.
    pub video_bitrate_kbps: u32,
    /// `audiotestsrc` properties: `wave=ticks` (near silence, which encoders spend few
    /// bits on) or `wave=pink-noise` (every encoder spends its whole bitrate).
    pub audio_source_properties: String,
}

impl Default for ClipSpec {
    fn default() -> Self {
        Self {
            seconds: 5,
            width: 640,
            height: 360,
            fps: 30,
            audio: true,
            faststart: true,
            video_source_properties: "pattern=ball".into(),
            video_bitrate_kbps: 1500,
            audio_source_properties: "wave=ticks".into(),
        }
    }
}

/// Writes an H.264 (+ AAC) MP4 of moving test patterns. Blocking.
pub fn generate_clip(path: &Path, spec: &ClipSpec) -> Result<(), MediaError> {
    media::init()?;
    let frames = spec.seconds * spec.fps;
    let location = path
        .to_str()
        .ok_or_else(|| MediaError::System("clip path is not UTF-8".into()))?;
    let mut description = format!(
        "videotestsrc num-buffers={frames} {props} ! \
         video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 ! \
         x264enc speed-preset=ultrafast key-int-max={fps} bitrate={kbps} ! h264parse ! \
         mp4mux name=mux faststart={fs} ! filesink location=\"{location}\"",
        w = spec.width,
        h = spec.height,
        fps = spec.fps,
        fs = spec.faststart,
        props = spec.video_source_properties,
        kbps = spec.video_bitrate_kbps,
    );
    if spec.audio {
        // 1600 samples per buffer at 48 kHz is 1/30 s: audio ends exactly with video.
        let samples_per_buffer = 48_000 / spec.fps;
        description += &format!(
            " audiotestsrc num-buffers={frames} samplesperbuffer={samples_per_buffer} {audio_props} ! \
             audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse ! mux.",
            audio_props = spec.audio_source_properties,
        );
    }
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| MediaError::System(format!("test clip pipeline: {e}")))?;
    let result = run_to_eos(&pipeline);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn run_to_eos(pipeline: &gst::Element) -> Result<(), MediaError> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| MediaError::System(e.to_string()))?;
    let bus = pipeline.bus().expect("pipeline bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(300),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .ok_or_else(|| MediaError::Timeout("generating a test clip".into(), 300))?;
    match message.view() {
        gst::MessageView::Error(err) => Err(MediaError::System(format!(
            "generating a test clip: {}",
            err.error()
        ))),
        _ => Ok(()),
    }
}
