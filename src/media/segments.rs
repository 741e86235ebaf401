//! Segmenting sinks for a ladder's rungs: each writes a media playlist and its segments
//! into its own directory. TS segments come from `hlssink3`, fMP4 (CMAF) ones from
//! `hlscmafsink` (gst-plugin-hlssink3, registered in `media::init`); the choice and its
//! evidence are in docs/design-notes.md ("Adaptive streaming").

use super::{MediaError, make};
use crate::domain::profile::SegmentFormat;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;

/// The media playlist's name inside each rung's directory.
pub const MEDIA_PLAYLIST: &str = "index.m3u8";

fn sys(e: impl std::fmt::Display) -> MediaError {
    MediaError::System(e.to_string())
}

/// A sink that cuts its input into `segment_seconds` segments in `dir`, with a VOD media
/// playlist listing all of them (none is deleted; EXT-X-ENDLIST is written at EOS).
///
/// Segments are cut on key frames: the sinks ask the encoders for one at every boundary
/// (GstForceKeyUnit), and the plan caps the key frame interval at one segment, so every
/// rung of a ladder cuts at the same times.
pub fn segment_sink(
    dir: &Path,
    format: SegmentFormat,
    segment_seconds: f64,
) -> Result<gst::Element, MediaError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| MediaError::System(format!("creating {}: {e}", dir.display())))?;
    let sink = match format {
        SegmentFormat::Ts => make("hlssink3")?,
        SegmentFormat::Fmp4 => make("hlscmafsink")?,
    };
    sink.set_property("playlist-location", path_str(&dir.join(MEDIA_PLAYLIST))?);
    sink.set_property("target-duration", target_duration(segment_seconds));
    sink.set_property("playlist-length", 0u32);
    sink.set_property("max-files", 0u32);
    sink.set_property_from_str("playlist-type", "vod");
    match format {
        SegmentFormat::Ts => {
            sink.set_property("location", path_str(&dir.join("segment_%05d.ts"))?);
            sink.set_property("send-keyframe-requests", true);
            ts_bin(sink)
        }
        SegmentFormat::Fmp4 => {
            sink.set_property("location", path_str(&dir.join("segment_%05d.m4s"))?);
            sink.set_property("init-location", path_str(&dir.join("init_%03d.mp4"))?);
            // By default it renders in real time (13 s of wall time for 12 s of media).
            sink.set_property("sync", false);
            // It prerolls only once cmafmux has a whole fragment, a segment of media
            // later; meanwhile every other sink of the pipeline sits prerolled and its
            // queue fills, which starves this branch: a file output beside a CMAF
            // ladder stalled the pipeline. The bin completes its own state changes.
            sink.set_property("async-handling", true);
            Ok(sink)
        }
    }
}

/// `target-duration` is whole seconds.
fn target_duration(segment_seconds: f64) -> u32 {
    segment_seconds.round().max(1.0) as u32
}

fn path_str(path: &Path) -> Result<String, MediaError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| MediaError::System(format!("not UTF-8: {}", path.display())))
}

/// hlssink3's `video` and `audio` pads are request pads that both accept anything, so
/// `Element::link` from an audio parser would ask for `video` again (and fail). The bin
/// gives each a capsfilter, so linking by caps picks the right one whatever the order.
fn ts_bin(sink: gst::Element) -> Result<gst::Element, MediaError> {
    let bin = gst::Bin::new();
    bin.add(&sink).map_err(sys)?;
    let streams = [
        ("video", "video/x-h264; video/x-h265"),
        ("audio", "audio/mpeg, mpegversion=(int)4"),
    ];
    for (pad_name, caps) in streams {
        let filter = make("capsfilter")?;
        filter.set_property("caps", caps.parse::<gst::Caps>().map_err(sys)?);
        bin.add(&filter).map_err(sys)?;
        let sink_pad = sink
            .request_pad_simple(pad_name)
            .ok_or_else(|| MediaError::System(format!("hlssink3 gave no {pad_name} pad")))?;
        filter
            .static_pad("src")
            .ok_or_else(|| sys("a capsfilter has a src pad"))?
            .link(&sink_pad)
            .map_err(sys)?;
        let target = filter
            .static_pad("sink")
            .ok_or_else(|| sys("a capsfilter has a sink pad"))?;
        let ghost = gst::GhostPad::builder_with_target(&target)
            .map_err(sys)?
            .name(pad_name)
            .build();
        bin.add_pad(&ghost).map_err(sys)?;
    }
    Ok(bin.upcast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ts_sink_links_audio_and_video_by_caps_in_either_order() {
        crate::media::init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sink = segment_sink(dir.path(), SegmentFormat::Ts, 6.0).unwrap();
        let pipeline = gst::Pipeline::new();
        let aac = make("aacparse").unwrap();
        let h264 = make("h264parse").unwrap();
        pipeline.add_many([&sink, &aac, &h264]).unwrap();
        aac.link(&sink).unwrap();
        h264.link(&sink).unwrap();
        let peer_of = |e: &gst::Element| {
            e.static_pad("src")
                .and_then(|p| p.peer())
                .map(|p| p.name().to_string())
        };
        assert_eq!(peer_of(&aac).as_deref(), Some("audio"));
        assert_eq!(peer_of(&h264).as_deref(), Some("video"));
    }

    #[test]
    fn segment_lengths_round_to_whole_seconds() {
        assert_eq!(target_duration(6.0), 6);
        assert_eq!(target_duration(2.4), 2);
        assert_eq!(target_duration(0.2), 1);
    }
}
