//! Probing with Discoverer, and the pure `parse_*` helpers over what it reports.

use super::MediaError;
use crate::domain::MediaInfo;
use crate::domain::media_info::{AudioStreamInfo, VideoStreamInfo};
use gstreamer as gst;

use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use std::path::Path;

/// Probes a local file. Blocking: call from `spawn_blocking`.
pub fn probe_file(path: &Path, timeout_secs: u64) -> Result<MediaInfo, MediaError> {
    super::init()?;
    let size_bytes = std::fs::metadata(path)
        .map_err(|e| MediaError::System(format!("reading {}: {e}", path.display())))?
        .len();
    if size_bytes == 0 {
        return Err(MediaError::InvalidMedia("the source file is empty".into()));
    }
    let uri = gst::glib::filename_to_uri(path, None)
        .map_err(|e| MediaError::System(format!("file URI for {}: {e}", path.display())))?;
    let discoverer = pbutils::Discoverer::new(gst::ClockTime::from_seconds(timeout_secs))
        .map_err(|e| MediaError::System(format!("creating discoverer: {e}")))?;
    let info = match discoverer.discover_uri(&uri) {
        Ok(info) => info,
        Err(e) if e.matches(gst::CoreError::MissingPlugin) => {
            return Err(MediaError::InvalidMedia(format!("unsupported format: {e}")));
        }
        Err(e) if e.message().to_lowercase().contains("timeout") => {
            return Err(MediaError::Timeout(
                "probing the source".into(),
                timeout_secs,
            ));
        }
        Err(e) => return Err(MediaError::InvalidMedia(e.message().to_owned())),
    };
    match info.result() {
        pbutils::DiscovererResult::Ok => {}
        pbutils::DiscovererResult::Timeout => {
            return Err(MediaError::Timeout(
                "probing the source".into(),
                timeout_secs,
            ));
        }
        pbutils::DiscovererResult::MissingPlugins => {
            return Err(MediaError::InvalidMedia(format!(
                "unsupported format: no decoder for {}",
                info.missing_elements_installer_details().join(", ")
            )));
        }
        other => {
            return Err(MediaError::InvalidMedia(format!(
                "the source could not be read ({other:?})"
            )));
        }
    }
    let duration_seconds = info
        .duration()
        .map(|d| d.nseconds() as f64 / 1e9)
        .unwrap_or(0.0);
    let video = info.video_streams().first().map(|v| {
        let (width, height) = display_dimensions(v.width(), v.height(), orientation_of(v));
        VideoStreamInfo {
            codec: codec_name(v.caps().as_ref()),
            width,
            height,
            frame_rate: parse_frame_rate(v.framerate().numer(), v.framerate().denom()),
            bitrate_bps: v.bitrate() as u64,
        }
    });
    let audio = info.audio_streams().first().map(|a| AudioStreamInfo {
        codec: codec_name(a.caps().as_ref()),
        channels: a.channels(),
        sample_rate: a.sample_rate(),
        bitrate_bps: a.bitrate() as u64,
    });
    let container_caps = info.stream_info().and_then(|s| s.caps());
    let container = container_caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let reported_bitrate =
        video.as_ref().map_or(0, |v| v.bitrate_bps) + audio.as_ref().map_or(0, |a| a.bitrate_bps);
    Ok(MediaInfo {
        duration_seconds,
        size_bytes,
        bitrate_bps: parse_bitrate(reported_bitrate, size_bytes, duration_seconds),
        mime_type: parse_mime_type(&container, video.is_some()),
        container,
        video,
        audio,
    })
}

fn orientation_of(v: &pbutils::DiscovererVideoInfo) -> Option<String> {
    v.tags().and_then(|t| {
        t.get::<gst::tags::ImageOrientation>()
            .map(|o| o.get().to_owned())
    })
}

fn codec_name(caps: Option<&gst::Caps>) -> String {
    caps.map(|c| pbutils::pb_utils_get_codec_description(c).to_string())
        .unwrap_or_default()
}

/// Discoverer reports pre-rotation dimensions; a 90/270 degree rotation swaps them.
pub fn display_dimensions(width: u32, height: u32, orientation: Option<String>) -> (u32, u32) {
    match orientation.as_deref() {
        Some("rotate-90" | "rotate-270" | "flip-rotate-90" | "flip-rotate-270") => (height, width),
        _ => (width, height),
    }
}

pub fn parse_frame_rate(numer: i32, denom: i32) -> f64 {
    if numer > 0 && denom > 0 {
        numer as f64 / denom as f64
    } else {
        0.0
    }
}

/// Discoverer bitrates can be 0 when tags are missing: fall back to size x 8 / duration.
pub fn parse_bitrate(reported_bps: u64, size_bytes: u64, duration_seconds: f64) -> u64 {
    if reported_bps > 0 {
        reported_bps
    } else if duration_seconds > 0.0 {
        (size_bytes as f64 * 8.0 / duration_seconds) as u64
    } else {
        0
    }
}

pub fn parse_mime_type(container_caps_name: &str, has_video: bool) -> String {
    let kind = if has_video { "video" } else { "audio" };
    match container_caps_name {
        "video/quicktime" => format!("{kind}/mp4"),
        "video/x-matroska" => format!("{kind}/x-matroska"),
        "video/webm" => format!("{kind}/webm"),
        "video/mpegts" => "video/mp2t".into(),
        "" => "application/octet-stream".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_swaps_dimensions() {
        assert_eq!(
            display_dimensions(1920, 1080, Some("rotate-90".into())),
            (1080, 1920)
        );
        assert_eq!(
            display_dimensions(1920, 1080, Some("rotate-180".into())),
            (1920, 1080)
        );
        assert_eq!(display_dimensions(1920, 1080, None), (1920, 1080));
    }

    #[test]
    fn bitrate_falls_back_to_size_over_duration() {
        assert_eq!(parse_bitrate(0, 1_000_000, 8.0), 1_000_000);
        assert_eq!(parse_bitrate(500, 1_000_000, 8.0), 500);
        assert_eq!(parse_bitrate(0, 1_000_000, 0.0), 0);
    }

    #[test]
    fn frame_rate_handles_variable_rate() {
        assert_eq!(parse_frame_rate(30000, 1001), 30000.0 / 1001.0);
        assert_eq!(parse_frame_rate(0, 1), 0.0);
    }

    #[test]
    fn mime_types_follow_the_container() {
        assert_eq!(parse_mime_type("video/quicktime", true), "video/mp4");
        assert_eq!(parse_mime_type("video/quicktime", false), "audio/mp4");
    }
}
