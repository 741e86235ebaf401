//! Thumbnails: one still frame per thumbnail, from the local source, with a small pipeline
//! of its own ([`FrameGrabber`] ending in jpegenc, pngenc or webpenc), seeked to the
//! frame's time; the encoded preroll sample is the image.

use super::frame_grab::{FrameGrabber, frame_time};
use super::sizing::fit_dimensions;
use super::{MediaError, make};
use crate::domain::MediaInfo;
use crate::domain::order::{ImageFormat, ThumbnailSpec};
use gstreamer as gst;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One thumbnail to extract.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbnailPlan {
    /// Names the thumbnail in errors.
    pub label: String,
    /// Where the image is written.
    pub path: PathBuf,
    pub format: ImageFormat,
    /// The image's size (see [`thumbnail_dimensions`]).
    pub width: u32,
    pub height: u32,
    /// The asked time, a percent already resolved against the probed duration.
    pub time_seconds: f64,
}

/// The frame a thumbnail really shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractedFrame {
    /// The frame's time in the source, in seconds.
    pub time_seconds: f64,
    /// The asked time was at or past the end of the video, so its last frame was taken.
    pub past_end: bool,
}

/// The size of a thumbnail from a source of `source` display dimensions, for a requested
/// `width` x `height` (0 = not given), never larger than the source unless
/// `allow_upscale`:
/// * both given: fitted inside that box keeping the source's aspect ratio, even sides
///   (the rule outputs use, [`fit_dimensions`]);
/// * one given: the other follows the source's aspect ratio (even, as above);
/// * none: the source's own size.
///
/// A source of unknown size (0) cannot lend its aspect ratio: a missing side then copies
/// the given one, and with none given the result is 0 x 0 (which extraction refuses).
pub fn thumbnail_dimensions(
    source: (u32, u32),
    width: u32,
    height: u32,
    allow_upscale: bool,
) -> (u32, u32) {
    let (src_w, src_h) = source;
    let unknown = src_w == 0 || src_h == 0;
    match (width, height) {
        (0, 0) => source,
        (w, 0) if unknown => (w, w),
        (0, h) if unknown => (h, h),
        // An unbounded side never binds, so the given one decides the scale.
        (w, 0) => fit_dimensions(src_w, src_h, w, u32::MAX, allow_upscale),
        (0, h) => fit_dimensions(src_w, src_h, u32::MAX, h, allow_upscale),
        (w, h) => fit_dimensions(src_w, src_h, w, h, allow_upscale),
    }
}

/// Plans every thumbnail of an order from the probed source, writing into `dir` (a
/// percent is resolved against the probed duration); a source without video fails,
/// naming the first thumbnail (INVALID_MEDIA).
pub fn plan_thumbnails(
    specs: &[ThumbnailSpec],
    source: &MediaInfo,
    dir: &Path,
) -> Result<Vec<ThumbnailPlan>, MediaError> {
    let Some(video) = &source.video else {
        return match specs.first() {
            Some(t) => Err(MediaError::InvalidMedia(format!(
                "thumbnail '{}' needs a video stream, and the source has none",
                t.label
            ))),
            None => Ok(Vec::new()),
        };
    };
    Ok(specs
        .iter()
        .map(|t| {
            let (width, height) = thumbnail_dimensions(
                (video.width, video.height),
                t.width,
                t.height,
                t.allow_upscale,
            );
            ThumbnailPlan {
                label: t.label.clone(),
                path: dir.join(&t.filename),
                format: t.format(),
                width,
                height,
                time_seconds: resolve_time(t, source.duration_seconds),
            }
        })
        .collect())
}

/// A thumbnail's time in seconds: its percent of `duration_seconds` when it has one.
fn resolve_time(spec: &ThumbnailSpec, duration_seconds: f64) -> f64 {
    match spec.time_percent {
        Some(percent) => duration_seconds.max(0.0) * percent / 100.0,
        None => spec.time_seconds,
    }
}

/// Extracts `plan`'s frame from the local file `source` and writes it to `plan.path`,
/// within `timeout` overall, and tells which frame it took. A time at or past the end of
/// the source takes its last frame. A source without video is INVALID_MEDIA naming the
/// thumbnail. Blocking throughout; [`extract`] runs it on the blocking pool.
pub fn extract_blocking(
    source: &Path,
    plan: &ThumbnailPlan,
    timeout: Duration,
) -> Result<ExtractedFrame, MediaError> {
    let named = |e: MediaError| name_thumbnail(e, &plan.label);
    if plan.width == 0 || plan.height == 0 {
        return Err(named(MediaError::InvalidMedia(
            "the source's video has no known size".into(),
        )));
    }
    let caps = gst::Caps::builder("video/x-raw")
        .field("width", plan.width as i32)
        .field("height", plan.height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let encoder = make(match plan.format {
        ImageFormat::Jpeg => "jpegenc",
        ImageFormat::Png => "pngenc",
        ImageFormat::Webp => "webpenc",
    })?;
    let what = format!("thumbnail '{}'", plan.label);
    let grabber = FrameGrabber::open(source, caps, Some(encoder), what, timeout).map_err(named)?;

    let (mut target, mut past_end) = seek_target(
        plan.time_seconds,
        grabber.duration(),
        grabber.frame_duration(),
    );
    // An ACCURATE seek lands on the frame showing at `target`; past the video's own end
    // (a longer audio track, a duration rounded up) there is none and the sink prerolls on
    // EOS, so step back towards the start a few times before giving up.
    for _ in 0..4 {
        if let Some(sample) = grabber.frame_at(target).map_err(named)? {
            write_sample(&sample, &plan.path).map_err(named)?;
            let shown = frame_time(&sample).unwrap_or(target);
            return Ok(ExtractedFrame {
                time_seconds: shown.nseconds() as f64 / 1e9,
                past_end,
            });
        }
        if target == gst::ClockTime::ZERO {
            break;
        }
        // No frame at the target: the video ends before it.
        past_end = true;
        target = target.saturating_sub(gst::ClockTime::from_mseconds(500));
    }
    Err(named(MediaError::InvalidMedia(format!(
        "no frame could be decoded at {:.3} s",
        plan.time_seconds
    ))))
}

/// [`extract_blocking`] on the blocking pool, with the same `timeout` (plus a little for
/// tearing the pipeline down) on the wait for it.
pub async fn extract(
    source: PathBuf,
    plan: ThumbnailPlan,
    timeout: Duration,
) -> Result<ExtractedFrame, MediaError> {
    let what = format!("thumbnail '{}'", plan.label);
    let task = tokio::task::spawn_blocking(move || extract_blocking(&source, &plan, timeout));
    match tokio::time::timeout(timeout + Duration::from_secs(5), task).await {
        Ok(joined) => joined.map_err(|e| MediaError::System(format!("{what}: {e}")))?,
        Err(_) => Err(MediaError::Timeout(what, timeout.as_secs())),
    }
}

/// Puts the thumbnail's label on an error.
fn name_thumbnail(e: MediaError, label: &str) -> MediaError {
    match e {
        MediaError::InvalidMedia(m) => {
            MediaError::InvalidMedia(format!("thumbnail '{label}': {m}"))
        }
        MediaError::Unsupported(m) => MediaError::Unsupported(format!("thumbnail '{label}': {m}")),
        MediaError::System(m) => MediaError::System(format!("thumbnail '{label}': {m}")),
        other => other,
    }
}

/// Where to seek for `time_seconds`: the time itself, or the last frame's start when the
/// time falls in or after the last frame (`duration` less one `frame`); and whether the
/// time is at or past the end.
fn seek_target(
    time_seconds: f64,
    duration: Option<gst::ClockTime>,
    frame: gst::ClockTime,
) -> (gst::ClockTime, bool) {
    let wanted = gst::ClockTime::from_nseconds((time_seconds.max(0.0) * 1e9) as u64);
    match duration {
        Some(d) if wanted.saturating_add(frame) > d => (d.saturating_sub(frame), wanted >= d),
        _ => (wanted, false),
    }
}

fn write_sample(sample: &gst::Sample, path: &Path) -> Result<(), MediaError> {
    let buffer = sample
        .buffer()
        .ok_or_else(|| MediaError::System("the encoder gave an empty sample".into()))?;
    let map = buffer
        .map_readable()
        .map_err(|e| MediaError::System(format!("reading the encoded frame: {e}")))?;
    std::fs::write(path, map.as_slice())
        .map_err(|e| MediaError::System(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_fits_keeping_the_aspect_ratio() {
        assert_eq!(
            thumbnail_dimensions((640, 360), 320, 240, false),
            (320, 180)
        );
        assert_eq!(
            thumbnail_dimensions((640, 360), 720, 480, true),
            fit_dimensions(640, 360, 720, 480, true)
        );
        assert_eq!(
            thumbnail_dimensions((1080, 1920), 320, 320, false),
            (180, 320)
        );
    }

    #[test]
    fn a_larger_box_upscales_only_when_asked() {
        assert_eq!(thumbnail_dimensions((640, 360), 720, 480, true), (720, 406));
        assert_eq!(
            thumbnail_dimensions((640, 360), 720, 480, false),
            (640, 360)
        );
        assert_eq!(thumbnail_dimensions((640, 360), 1280, 0, false), (640, 360));
        assert_eq!(thumbnail_dimensions((640, 360), 1280, 0, true), (1280, 720));
        assert_eq!(
            thumbnail_dimensions((1920, 1080), 0, 7680, false),
            (1920, 1080)
        );
        assert_eq!(
            thumbnail_dimensions((1920, 1080), 0, 7680, true),
            (13654, 7680)
        );
    }

    #[test]
    fn one_side_given_the_other_follows_the_source() {
        assert_eq!(thumbnail_dimensions((640, 360), 160, 0, false), (160, 90));
        assert_eq!(thumbnail_dimensions((640, 360), 0, 90, false), (160, 90));
        // 4:3 at 101 wide: 75.75 high, rounded to even.
        assert_eq!(thumbnail_dimensions((640, 480), 101, 0, false), (100, 76));
    }

    #[test]
    fn none_given_is_the_source_size() {
        assert_eq!(thumbnail_dimensions((640, 360), 0, 0, false), (640, 360));
        assert_eq!(thumbnail_dimensions((641, 361), 0, 0, true), (641, 361));
    }

    #[test]
    fn an_unknown_source_size_copies_the_given_side() {
        assert_eq!(thumbnail_dimensions((0, 0), 160, 0, false), (160, 160));
        assert_eq!(thumbnail_dimensions((0, 360), 0, 0, false), (0, 360));
    }

    fn spec(filename: &str, width: u32, height: u32) -> ThumbnailSpec {
        ThumbnailSpec {
            filename: filename.into(),
            label: filename.into(),
            width,
            height,
            time_seconds: 1.0,
            time_percent: None,
            allow_upscale: false,
        }
    }

    #[test]
    fn plans_follow_the_source_and_the_file_names() {
        let source = MediaInfo {
            video: Some(crate::domain::media_info::VideoStreamInfo {
                width: 640,
                height: 360,
                ..Default::default()
            }),
            ..Default::default()
        };
        let specs = [spec("a.jpg", 320, 240), spec("b.png", 160, 0)];
        let plans = plan_thumbnails(&specs, &source, Path::new("/w")).unwrap();
        let got: Vec<_> = plans
            .iter()
            .map(|p| (p.path.clone(), p.format, p.width, p.height))
            .collect();
        assert_eq!(
            got,
            [
                (PathBuf::from("/w/a.jpg"), ImageFormat::Jpeg, 320, 180),
                (PathBuf::from("/w/b.png"), ImageFormat::Png, 160, 90),
            ]
        );
    }

    #[test]
    fn a_source_without_video_names_the_thumbnail() {
        let audio_only = MediaInfo::default();
        let err =
            plan_thumbnails(&[spec("a.jpg", 0, 0)], &audio_only, Path::new("/w")).unwrap_err();
        assert!(matches!(&err, MediaError::InvalidMedia(m) if m.contains("'a.jpg'")));
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidMedia);
        assert_eq!(
            plan_thumbnails(&[], &audio_only, Path::new("/w")),
            Ok(vec![])
        );
    }

    #[test]
    fn a_time_past_the_end_seeks_to_the_last_frame() {
        let frame = gst::ClockTime::from_mseconds(40);
        let five = Some(gst::ClockTime::from_seconds(5));
        let last = gst::ClockTime::from_mseconds(4960);
        assert_eq!(seek_target(60.0, five, frame), (last, true));
        assert_eq!(seek_target(5.0, five, frame), (last, true));
        // Inside the last frame: that frame, and not past the end.
        assert_eq!(seek_target(4.98, five, frame), (last, false));
        assert_eq!(
            seek_target(1.0, five, frame),
            (gst::ClockTime::from_seconds(1), false)
        );
        assert_eq!(
            seek_target(1.0, None, frame),
            (gst::ClockTime::from_seconds(1), false)
        );
    }

    #[test]
    fn a_percent_is_resolved_against_the_duration() {
        let at = |percent| ThumbnailSpec {
            time_percent: Some(percent),
            time_seconds: 0.0,
            ..spec("a.jpg", 0, 0)
        };
        assert_eq!(resolve_time(&at(50.0), 8.0), 4.0);
        assert_eq!(resolve_time(&at(100.0), 8.0), 8.0);
        assert_eq!(resolve_time(&at(25.0), 0.0), 0.0);
        assert_eq!(resolve_time(&spec("a.jpg", 0, 0), 8.0), 1.0);
    }
}
