//! Probing with Discoverer, and the pure `parse_*` helpers over what it reports.

use super::MediaError;
use super::probe_fields as fields;
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
    let unreadable =
        |e: std::io::Error| MediaError::System(format!("reading {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    if let Some(problem) = super::mp4_index::missing_index(&mut file).map_err(unreadable)? {
        return Err(MediaError::InvalidMedia(problem));
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
    let video_stream = info.video_streams().into_iter().next();
    let audio_stream = info.audio_streams().into_iter().next();
    let declared_video = video_stream
        .as_ref()
        .map(|v| fields::declared_bitrate(v.bitrate(), v.max_bitrate()));
    let declared_audio = audio_stream
        .as_ref()
        .map(|a| fields::declared_bitrate(a.bitrate(), a.max_bitrate()));
    let (video_bps, audio_bps) =
        fields::stream_bitrates(declared_video, declared_audio, size_bytes, duration_seconds);
    let video = video_stream.map(|v| {
        let orientation = orientation_of(&v);
        let rotated = is_quarter_turn(orientation.as_deref());
        let pixel_aspect = (v.par().numer(), v.par().denom());
        let (width, height) = display_dimensions(v.width(), v.height(), pixel_aspect, orientation);
        let caps = v.caps();
        VideoStreamInfo {
            codec: short_name(caps.as_ref()),
            codec_description: description(caps.as_ref()),
            width,
            height,
            display_aspect_ratio: fields::display_aspect_ratio(
                v.width(),
                v.height(),
                v.par().numer(),
                v.par().denom(),
                rotated,
            ),
            frame_rate: parse_frame_rate(v.framerate().numer(), v.framerate().denom()),
            bitrate_bps: video_bps.unwrap_or(0),
        }
    });
    let audio = audio_stream.map(|a| {
        let caps = a.caps();
        AudioStreamInfo {
            codec: short_name(caps.as_ref()),
            codec_description: description(caps.as_ref()),
            channels: a.channels(),
            sample_rate: a.sample_rate(),
            bitrate_bps: audio_bps.unwrap_or(0),
        }
    });
    let container_caps = info
        .stream_info()
        .and_then(|s| s.caps())
        .as_ref()
        .and_then(|c| c.structure(0))
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let audio_codec = audio.as_ref().map_or("", |a| a.codec.as_str());
    let container = fields::container_short_name(&container_caps, audio_codec);
    // The streams' declared rates add up to the file's only when every stream declares one.
    let declared = [declared_video, declared_audio];
    let reported_bitrate = if declared.iter().flatten().all(|bps| *bps > 0) {
        declared.iter().flatten().sum()
    } else {
        0
    };
    Ok(MediaInfo {
        duration_seconds,
        size_bytes,
        bitrate_bps: parse_bitrate(reported_bitrate, size_bytes, duration_seconds),
        mime_type: fields::mime_type(&container, video.is_some()),
        container,
        container_caps,
        video,
        audio,
        // Containers are not streams; anything else (subtitles, data) counts.
        stream_count: (info.stream_list().iter())
            .filter(|s| !s.is::<pbutils::DiscovererContainerInfo>())
            .count() as u32,
    })
}

fn orientation_of(v: &pbutils::DiscovererVideoInfo) -> Option<String> {
    v.tags().and_then(|t| {
        t.get::<gst::tags::ImageOrientation>()
            .map(|o| o.get().to_owned())
    })
}

/// The stream's short codec name ("h264", "aac") from its caps.
fn short_name(caps: Option<&gst::Caps>) -> String {
    let Some(s) = caps.and_then(|c| c.structure(0)) else {
        return String::new();
    };
    let int = |field: &str| s.get::<i32>(field).ok();
    fields::codec_short_name(s.name().as_str(), int("mpegversion"), int("layer"))
}

/// GStreamer's human description of the stream's codec, e.g. "H.264 (High Profile)".
fn description(caps: Option<&gst::Caps>) -> String {
    caps.map(|c| pbutils::pb_utils_get_codec_description(c).to_string())
        .unwrap_or_default()
}

fn is_quarter_turn(orientation: Option<&str>) -> bool {
    matches!(
        orientation,
        Some("rotate-90" | "rotate-270" | "flip-rotate-90" | "flip-rotate-270")
    )
}

/// The picture's size as shown, from the stored size Discoverer reports: non-square
/// pixels (`pixel_aspect`, numerator/denominator) stretch the width, as players do (720x480
/// at 32/27 shows as 853x480), and a 90/270 degree rotation swaps the sides.
pub fn display_dimensions(
    width: u32,
    height: u32,
    (par_numer, par_denom): (i32, i32),
    orientation: Option<String>,
) -> (u32, u32) {
    let width = match (u64::try_from(par_numer), u64::try_from(par_denom)) {
        (Ok(n), Ok(d)) if n > 0 && d > 0 && n != d => {
            let shown = (u64::from(width) * n + d / 2) / d;
            u32::try_from(shown).unwrap_or(u32::MAX).max(1)
        }
        _ => width,
    };
    if is_quarter_turn(orientation.as_deref()) {
        (height, width)
    } else {
        (width, height)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_swaps_dimensions() {
        let square = (1, 1);
        assert_eq!(
            display_dimensions(1920, 1080, square, Some("rotate-90".into())),
            (1080, 1920)
        );
        assert_eq!(
            display_dimensions(1920, 1080, square, Some("rotate-180".into())),
            (1920, 1080)
        );
        assert_eq!(display_dimensions(1920, 1080, square, None), (1920, 1080));
    }

    #[test]
    fn non_square_pixels_stretch_the_width() {
        // NTSC widescreen DVD: 720x480 stored, shown 16:9.
        assert_eq!(display_dimensions(720, 480, (32, 27), None), (853, 480));
        // NTSC 4:3 DVD: narrow pixels.
        assert_eq!(display_dimensions(720, 480, (8, 9), None), (640, 480));
        // Stretched first, then turned.
        assert_eq!(
            display_dimensions(720, 480, (32, 27), Some("rotate-270".into())),
            (480, 853)
        );
        // An unknown or broken ratio counts as square.
        assert_eq!(display_dimensions(720, 480, (0, 1), None), (720, 480));
        assert_eq!(display_dimensions(720, 480, (-4, 3), None), (720, 480));
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

    /// Writes `description`'s pipeline to its end (it names the file itself).
    fn write_with_gstreamer(description: &str) {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(description).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let message = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(60),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .expect("the pipeline ends within 60 s");
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(
            matches!(message.view(), gst::MessageView::Eos(_)),
            "{description}: {message:?}"
        );
    }

    /// ffprobe's codec_name of the file's first stream of `kind` ("v" or "a").
    fn ffprobe_codec(path: &Path, kind: &str) -> String {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", &format!("{kind}:0")])
            .args(["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .expect("ffprobe runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn written_files_get_the_names_ffprobe_gives() {
        let dir = tempfile::tempdir().unwrap();
        let video = "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=180,framerate=15/1";
        let audio = "audiotestsrc num-buffers=40 ! audioconvert ! audioresample";
        // (file, pipeline, container, MIME type, video codec, audio codec)
        let cases = [
            (
                "h264.mp4",
                format!(
                    "{video} ! x264enc ! h264parse ! mp4mux name=m ! filesink location=LOC {audio} ! avenc_aac ! aacparse ! m."
                ),
                "mp4",
                "video/mp4",
                "h264",
                "aac",
            ),
            (
                "vp9.webm",
                format!(
                    "{video} ! vp9enc deadline=1 ! webmmux name=m ! filesink location=LOC {audio} ! opusenc ! m."
                ),
                "webm",
                "video/webm",
                "vp9",
                "opus",
            ),
            (
                "audio.mp3",
                format!(
                    "{audio} ! lamemp3enc target=bitrate bitrate=96 ! id3v2mux ! filesink location=LOC"
                ),
                "mp3",
                "audio/mpeg",
                "",
                "mp3",
            ),
        ];
        for (name, pipeline, container, mime, video_codec, audio_codec) in cases {
            let path = dir.path().join(name);
            write_with_gstreamer(&pipeline.replace("LOC", path.to_str().unwrap()));
            let info = probe_file(&path, 30).unwrap();
            assert_eq!(
                (info.container.as_str(), info.mime_type.as_str()),
                (container, mime)
            );
            let probed_video = info.video.as_ref().map_or("", |v| v.codec.as_str());
            assert_eq!(probed_video, video_codec, "{name}");
            assert_eq!(probed_video, ffprobe_codec(&path, "v"), "{name}");
            let audio_info = info.audio.as_ref().expect("every case has audio");
            assert_eq!(audio_info.codec, audio_codec, "{name}");
            assert_eq!(audio_info.codec, ffprobe_codec(&path, "a"), "{name}");
            assert!(!audio_info.codec_description.is_empty(), "{name}");
            assert!(audio_info.bitrate_bps > 0, "{name}: {info:?}");
            if let Some(v) = &info.video {
                assert_eq!(v.display_aspect_ratio, "16:9", "{name}");
                assert!(v.bitrate_bps > 0, "{name}: {info:?}");
                assert!(!v.codec_description.is_empty(), "{name}");
            }
        }
    }
}
