//! Thumbnails: one still frame per thumbnail, from the local source, with a small pipeline
//! of its own: `uridecodebin ! videoconvert ! videoflip ! videoscale ! videoconvert ! capsfilter !
//! jpegenc|pngenc ! appsink`, prerolled in PAUSED, then seeked (FLUSH | ACCURATE) to the
//! frame's time, whose encoded preroll sample is the image.

use super::classify::classify_bus_error;
use super::pipeline::SCALE_METHOD;
use super::plan::fit_dimensions;
use super::{MediaError, make};
use crate::domain::MediaInfo;
use crate::domain::order::{ImageFormat, ThumbnailSpec};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    pub time_seconds: f64,
}

/// The size of a thumbnail from a source of `source` display dimensions, for a requested
/// `width` x `height` (0 = not given):
/// * both given: fitted inside that box keeping the source's aspect ratio, even sides
///   (the rule outputs use, [`fit_dimensions`]);
/// * one given: the other follows the source's aspect ratio (even, as above);
/// * none: the source's own size.
///
/// A source of unknown size (0) cannot lend its aspect ratio: a missing side then copies
/// the given one, and with none given the result is 0 x 0 (which extraction refuses).
pub fn thumbnail_dimensions(source: (u32, u32), width: u32, height: u32) -> (u32, u32) {
    let (src_w, src_h) = source;
    let unknown = src_w == 0 || src_h == 0;
    match (width, height) {
        (0, 0) => source,
        (w, 0) if unknown => (w, w),
        (0, h) if unknown => (h, h),
        // An unbounded side never binds, so the given one decides the scale.
        (w, 0) => fit_dimensions(src_w, src_h, w, u32::MAX),
        (0, h) => fit_dimensions(src_w, src_h, u32::MAX, h),
        (w, h) => fit_dimensions(src_w, src_h, w, h),
    }
}

/// Plans every thumbnail of an order from the probed source, writing into `dir`; a
/// source without video fails, naming the first thumbnail (INVALID_MEDIA).
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
            let (width, height) =
                thumbnail_dimensions((video.width, video.height), t.width, t.height);
            ThumbnailPlan {
                label: t.label.clone(),
                path: dir.join(&t.filename),
                format: t.format(),
                width,
                height,
                time_seconds: t.time_seconds,
            }
        })
        .collect())
}

/// Extracts `plan`'s frame from the local file `source` and writes it to `plan.path`,
/// within `timeout` overall. A time at or past the end of the source takes its last
/// frame. A source without video is INVALID_MEDIA naming the thumbnail. Blocking
/// throughout; [`extract`] runs it on the blocking pool.
pub fn extract_blocking(
    source: &Path,
    plan: &ThumbnailPlan,
    timeout: Duration,
) -> Result<(), MediaError> {
    super::init()?;
    if plan.width == 0 || plan.height == 0 {
        return Err(MediaError::InvalidMedia(format!(
            "thumbnail '{}': the source's video has no known size",
            plan.label
        )));
    }
    let deadline = Deadline {
        until: Instant::now() + timeout,
        seconds: timeout.as_secs(),
        what: format!("thumbnail '{}'", plan.label),
    };
    let built = build(source, plan)?;
    let _null = NullOnDrop(built.pipeline.clone());
    let named = |e: MediaError| name_thumbnail(e, &plan.label);

    built
        .pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| MediaError::System("the thumbnail pipeline refused to pause".into()))
        .map_err(named)?;
    built.wait_async_done(&deadline).map_err(named)?;

    let duration = built.pipeline.query_duration::<gst::ClockTime>();
    let frame = frame_duration(&built.sink);
    let mut target = seek_target(plan.time_seconds, duration, frame);
    // An ACCURATE seek lands on the frame showing at `target`; past the video's own end
    // (a longer audio track, a duration rounded up) there is none and the sink prerolls on
    // EOS, so step back towards the start a few times before giving up.
    for _ in 0..4 {
        built
            .pipeline
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, target)
            .map_err(|_| MediaError::System(format!("seeking to {target}")))
            .map_err(named)?;
        built.wait_async_done(&deadline).map_err(named)?;
        if let Some(sample) = built.sink.try_pull_preroll(deadline.remaining()?) {
            return write_sample(&sample, &plan.path).map_err(named);
        }
        if target == gst::ClockTime::ZERO {
            break;
        }
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
) -> Result<(), MediaError> {
    let what = format!("thumbnail '{}'", plan.label);
    let task = tokio::task::spawn_blocking(move || extract_blocking(&source, &plan, timeout));
    match tokio::time::timeout(timeout + Duration::from_secs(5), task).await {
        Ok(joined) => joined.map_err(|e| MediaError::System(format!("{what}: {e}")))?,
        Err(_) => Err(MediaError::Timeout(what, timeout.as_secs())),
    }
}

struct Built {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    decode: gst::Element,
}

struct Deadline {
    until: Instant,
    seconds: u64,
    what: String,
}

impl Deadline {
    fn remaining(&self) -> Result<gst::ClockTime, MediaError> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(MediaError::Timeout(self.what.clone(), self.seconds));
        }
        Ok(gst::ClockTime::from_nseconds(left.as_nanos() as u64))
    }
}

/// Sets the pipeline to `Null` when dropped, so no path leaves it running.
struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

impl Built {
    /// Waits for the pipeline to finish prerolling (after PAUSED or a flushing seek).
    fn wait_async_done(&self, deadline: &Deadline) -> Result<(), MediaError> {
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let message = bus
            .timed_pop_filtered(
                deadline.remaining()?,
                &[gst::MessageType::AsyncDone, gst::MessageType::Error],
            )
            .ok_or_else(|| MediaError::Timeout(deadline.what.clone(), deadline.seconds))?;
        match message.view() {
            gst::MessageView::Error(err) => {
                Err(classify_bus_error(err, std::slice::from_ref(&self.decode)))
            }
            _ => Ok(()),
        }
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

fn build(source: &Path, plan: &ThumbnailPlan) -> Result<Built, MediaError> {
    let sys = |e: gst::glib::BoolError| MediaError::System(e.to_string());
    let uri = gst::glib::filename_to_uri(source, None)
        .map_err(|e| MediaError::System(format!("file URI for {}: {e}", source.display())))?;
    let pipeline = gst::Pipeline::with_name("thumbnail");
    let decode = make("uridecodebin")?;
    decode.set_property("uri", uri.as_str());
    let flip = make("videoflip")?;
    // Rotation arrives as an image-orientation tag; the probe's sizes are after it.
    flip.set_property_from_str("video-direction", "auto");
    let scale = make("videoscale")?;
    scale.set_property_from_str("method", SCALE_METHOD);
    let caps = make("capsfilter")?;
    caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("width", plan.width as i32)
            .field("height", plan.height as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    );
    let encoder = make(match plan.format {
        ImageFormat::Jpeg => "jpegenc",
        ImageFormat::Png => "pngenc",
    })?;
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .enable_last_sample(false)
        .build();
    let chain = [
        make("videoconvert")?,
        flip,
        scale,
        make("videoconvert")?,
        caps,
        encoder,
        sink.clone().upcast(),
    ];
    pipeline.add(&decode).map_err(sys)?;
    pipeline.add_many(&chain).map_err(sys)?;
    gst::Element::link_many(&chain).map_err(sys)?;

    connect_pads(&pipeline, &decode, &chain[0]);
    Ok(Built {
        pipeline,
        sink,
        decode,
    })
}

/// Links the first decoded video pad to the chain; other pads go to fakesinks that do not
/// hold up prerolling. When the source has offered every pad and none was video, posts an
/// error so the wait for preroll ends at once.
fn connect_pads(pipeline: &gst::Pipeline, decode: &gst::Element, first: &gst::Element) {
    let saw_video = Arc::new(AtomicBool::new(false));
    // Weak references: a strong one in a callback would keep the pipeline alive forever.
    let weak_pipeline = pipeline.downgrade();
    let weak_first = first.downgrade();
    let linked = saw_video.clone();
    decode.connect_pad_added(move |_, pad| {
        let (Some(pipeline), Some(first)) = (weak_pipeline.upgrade(), weak_first.upgrade()) else {
            return;
        };
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video
            && let Some(sink_pad) = first.static_pad("sink")
            && !sink_pad.is_linked()
            && pad.link(&sink_pad).is_ok()
        {
            linked.store(true, Ordering::Release);
            return;
        }
        discard(&pipeline, pad);
    });
    decode.connect_no_more_pads(move |decode| {
        if !saw_video.load(Ordering::Acquire) {
            let _ = decode.post_message(
                gst::message::Error::builder(
                    gst::StreamError::WrongType,
                    "the source has no video stream",
                )
                .src(decode)
                .build(),
            );
        }
    });
}

fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = make("fakesink") else { return };
    sink.set_property("sync", false);
    // Not part of prerolling: only the image's sink decides when the frame is ready.
    sink.set_property("async", false);
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sink_pad) = sink.static_pad("sink") {
            let _ = pad.link(&sink_pad);
        }
    }
}

/// One frame's duration from the negotiated caps, or 1/30 s when the rate is unknown.
fn frame_duration(sink: &gst_app::AppSink) -> gst::ClockTime {
    let fps = sink
        .static_pad("sink")
        .and_then(|p| p.current_caps())
        .and_then(|c| {
            c.structure(0)
                .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
        })
        .filter(|f| f.numer() > 0 && f.denom() > 0);
    match fps {
        Some(f) => {
            gst::ClockTime::from_nseconds(1_000_000_000u64 * f.denom() as u64 / f.numer() as u64)
        }
        None => gst::ClockTime::from_nseconds(1_000_000_000 / 30),
    }
}

/// Where to seek for `time_seconds`: the time itself, or the last frame's start when the
/// time is at or past the end (`duration` less one `frame`).
fn seek_target(
    time_seconds: f64,
    duration: Option<gst::ClockTime>,
    frame: gst::ClockTime,
) -> gst::ClockTime {
    let wanted = gst::ClockTime::from_nseconds((time_seconds.max(0.0) * 1e9) as u64);
    match duration {
        Some(d) if wanted.saturating_add(frame) > d => d.saturating_sub(frame),
        _ => wanted,
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
        assert_eq!(thumbnail_dimensions((640, 360), 320, 240), (320, 180));
        assert_eq!(thumbnail_dimensions((640, 360), 720, 480), (720, 406));
        assert_eq!(
            thumbnail_dimensions((640, 360), 720, 480),
            fit_dimensions(640, 360, 720, 480)
        );
        assert_eq!(thumbnail_dimensions((1080, 1920), 320, 320), (180, 320));
    }

    #[test]
    fn one_side_given_the_other_follows_the_source() {
        assert_eq!(thumbnail_dimensions((640, 360), 160, 0), (160, 90));
        assert_eq!(thumbnail_dimensions((640, 360), 0, 90), (160, 90));
        // 4:3 at 101 wide: 75.75 high, rounded to even.
        assert_eq!(thumbnail_dimensions((640, 480), 101, 0), (100, 76));
        assert_eq!(thumbnail_dimensions((1920, 1080), 0, 7680), (13654, 7680));
    }

    #[test]
    fn none_given_is_the_source_size() {
        assert_eq!(thumbnail_dimensions((640, 360), 0, 0), (640, 360));
        assert_eq!(thumbnail_dimensions((641, 361), 0, 0), (641, 361));
    }

    #[test]
    fn an_unknown_source_size_copies_the_given_side() {
        assert_eq!(thumbnail_dimensions((0, 0), 160, 0), (160, 160));
        assert_eq!(thumbnail_dimensions((0, 360), 0, 0), (0, 360));
    }

    fn spec(filename: &str, width: u32, height: u32) -> ThumbnailSpec {
        ThumbnailSpec {
            filename: filename.into(),
            label: filename.into(),
            width,
            height,
            time_seconds: 1.0,
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
        assert_eq!(
            seek_target(60.0, five, frame),
            gst::ClockTime::from_mseconds(4960)
        );
        assert_eq!(
            seek_target(1.0, five, frame),
            gst::ClockTime::from_seconds(1)
        );
        assert_eq!(
            seek_target(1.0, None, frame),
            gst::ClockTime::from_seconds(1)
        );
    }
}
