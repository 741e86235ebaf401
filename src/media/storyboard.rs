//! Storyboards: a sprite sheet of small frames, one every interval, and the WebVTT file
//! web players read for scrub previews (each cue's text is `sprite.jpg#xywh=x,y,w,h`).
//!
//! One [`FrameGrabber`] per storyboard decodes the source and seeks (ACCURATE) to each
//! tile's time, handing over raw RGB already scaled to the tile size. Seeking decodes
//! only from the keyframe before each tile, so for the usual intervals (seconds apart,
//! wider than a GOP) it is far cheaper than decoding the whole source. The tiles are
//! pasted into one RGB sheet in memory and encoded once with jpegenc: simpler than a
//! `compositor` with one timed input per tile, and each tile is a plain row copy.
//! The sheet stays bounded: at most [`MAX_TILES`] tiles and [`MAX_SHEET_PIXELS`]
//! pixels, and no side above JPEG's limit; a longer source widens the interval (the
//! result reports the interval used).

use super::frame_grab::FrameGrabber;
use super::sizing::fit_dimensions;
use super::{MediaError, make};
use crate::domain::MediaInfo;
use crate::domain::order::StoryboardSpec;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The most tiles one sheet holds.
pub const MAX_TILES: u32 = 1000;
/// The most pixels one sheet holds (about 100 MB as RGB while it is composed).
pub const MAX_SHEET_PIXELS: u64 = 32 * 1024 * 1024;
/// The longest side of a sheet; JPEG allows 65535.
pub const MAX_SHEET_SIDE: u32 = 65_520;

/// Where the tiles go on the sheet, and when each was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// One tile every this many seconds, from 0.
    pub interval_seconds: f64,
    pub tiles: u32,
    /// Tiles per row: the asked number, or fewer when there are fewer tiles.
    pub columns: u32,
    pub tile_width: u32,
    pub tile_height: u32,
}

impl Layout {
    /// The layout of `spec` for a source of `source` display size lasting
    /// `duration_seconds`: the tile keeps the source's aspect ratio at the asked width
    /// (within a box four times as high as wide); the interval widens when the sheet
    /// would hold too many tiles.
    pub fn new(spec: &StoryboardSpec, source: (u32, u32), duration_seconds: f64) -> Self {
        let box_height = spec.tile_width.saturating_mul(4);
        let (tile_width, tile_height) =
            fit_dimensions(source.0, source.1, spec.tile_width, box_height, true);
        let cap = tile_cap(spec.columns, tile_width, tile_height);
        let mut interval_seconds = spec.interval_seconds;
        if tiles_for(duration_seconds, interval_seconds) > cap {
            interval_seconds = interval_seconds.max((duration_seconds / cap as f64).ceil());
        }
        let tiles = tiles_for(duration_seconds, interval_seconds).min(cap);
        Self {
            interval_seconds,
            tiles,
            columns: spec.columns.min(tiles),
            tile_width,
            tile_height,
        }
    }

    pub fn rows(&self) -> u32 {
        self.tiles.div_ceil(self.columns.max(1))
    }

    /// The sheet's width and height in pixels.
    pub fn sheet_size(&self) -> (u32, u32) {
        (
            self.columns * self.tile_width,
            self.rows() * self.tile_height,
        )
    }

    /// The top-left corner of tile `index`.
    pub fn tile_origin(&self, index: u32) -> (u32, u32) {
        let columns = self.columns.max(1);
        (
            index % columns * self.tile_width,
            index / columns * self.tile_height,
        )
    }

    /// This layout cut to its first `tiles` tiles (when the video ended early).
    fn truncated(self, tiles: u32) -> Self {
        Self {
            tiles,
            columns: self.columns.min(tiles),
            ..self
        }
    }

    /// The WebVTT file: one cue per tile, from its time to the next tile's (the last to
    /// the end of the source), naming the tile's rectangle in `sprite_filename`.
    pub fn vtt(&self, sprite_filename: &str, duration_seconds: f64) -> String {
        let sprite = utf8_percent_encode(sprite_filename, URL_UNSAFE);
        let mut text = String::from("WEBVTT\n");
        for i in 0..self.tiles {
            let start = i as f64 * self.interval_seconds;
            let end = if i + 1 < self.tiles {
                (i + 1) as f64 * self.interval_seconds
            } else if duration_seconds > start {
                duration_seconds
            } else {
                start + self.interval_seconds
            };
            let (x, y) = self.tile_origin(i);
            let _ = write!(
                text,
                "\n{} --> {}\n{sprite}#xywh={x},{y},{},{}\n",
                vtt_time(start),
                vtt_time(end),
                self.tile_width,
                self.tile_height
            );
        }
        text
    }
}

/// Everything but unreserved URL characters is percent-encoded in the sprite's name.
const URL_UNSAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How many tiles cover `duration_seconds` at one per `interval_seconds` (at least one;
/// a last tile within a millisecond of the end is left out).
fn tiles_for(duration_seconds: f64, interval_seconds: f64) -> u32 {
    let covered = (duration_seconds - 1e-3) / interval_seconds;
    // `as` saturates, so an absurd duration cannot wrap.
    (covered.ceil().max(1.0)) as u32
}

/// The most tiles of this size one sheet may hold, in whole rows (always at least one
/// row, which at the largest tiles and columns the validation allows is a little over
/// [`MAX_SHEET_PIXELS`]).
fn tile_cap(columns: u32, tile_width: u32, tile_height: u32) -> u32 {
    let row_pixels = (columns as u64 * tile_width as u64 * tile_height as u64).max(1);
    let rows_by_pixels = MAX_SHEET_PIXELS / row_pixels;
    let rows_by_height = (MAX_SHEET_SIDE / tile_height.max(1)) as u64;
    let rows = rows_by_pixels.min(rows_by_height).max(1);
    (MAX_TILES as u64).min(rows * columns as u64).max(1) as u32
}

/// `HH:MM:SS.mmm`, as WebVTT cue timings are written.
fn vtt_time(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// One storyboard to write.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryboardPlan {
    /// Names the storyboard in errors.
    pub label: String,
    pub vtt_path: PathBuf,
    pub sprite_path: PathBuf,
    /// The sprite's file name, as the WebVTT file refers to it.
    pub sprite_filename: String,
    pub layout: Layout,
    pub duration_seconds: f64,
}

/// Plans every storyboard of an order from the probed source, writing into `dir`; a
/// source without video, or of unknown size, fails naming the storyboard
/// (INVALID_MEDIA).
pub fn plan_storyboards(
    specs: &[StoryboardSpec],
    source: &MediaInfo,
    dir: &Path,
) -> Result<Vec<StoryboardPlan>, MediaError> {
    let size = source.video.as_ref().map(|v| (v.width, v.height));
    specs
        .iter()
        .map(|s| {
            let Some((width, height)) = size.filter(|(w, h)| *w > 0 && *h > 0) else {
                return Err(MediaError::InvalidMedia(format!(
                    "storyboard '{}' needs a video stream of known size, and the source has none",
                    s.label
                )));
            };
            let sprite_filename = s.sprite_filename();
            Ok(StoryboardPlan {
                label: s.label.clone(),
                vtt_path: dir.join(&s.filename),
                sprite_path: dir.join(&sprite_filename),
                sprite_filename,
                layout: Layout::new(s, (width, height), source.duration_seconds),
                duration_seconds: source.duration_seconds,
            })
        })
        .collect()
}

/// Writes `plan`'s sprite sheet and WebVTT file from the local file `source`, each tile
/// within `per_tile` of the last; returns the layout written (fewer tiles when the video
/// ends before the probed duration). Stops with CANCELED once `cancel` fires. Blocking;
/// [`extract`] runs it on the blocking pool.
pub fn extract_blocking(
    source: &Path,
    plan: &StoryboardPlan,
    per_tile: Duration,
    cancel: &CancellationToken,
) -> Result<Layout, MediaError> {
    let named = |e: MediaError| name_storyboard(e, &plan.label);
    let layout = plan.layout;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", layout.tile_width as i32)
        .field("height", layout.tile_height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let what = format!("storyboard '{}'", plan.label);
    let mut grabber = FrameGrabber::open(source, caps, None, what, per_tile).map_err(named)?;
    let (width, height) = layout.sheet_size();
    let mut sheet = Sheet::new(width, height);
    let mut taken = 0;
    for i in 0..layout.tiles {
        if cancel.is_cancelled() {
            return Err(MediaError::Canceled);
        }
        grabber.renew(per_tile);
        let at = gst::ClockTime::from_nseconds((i as f64 * layout.interval_seconds * 1e9) as u64);
        let Some(sample) = grabber.frame_at(at).map_err(named)? else {
            break;
        };
        sheet
            .paste(&sample, layout.tile_origin(i), &layout)
            .map_err(named)?;
        taken += 1;
    }
    drop(grabber);
    if taken == 0 {
        return Err(named(MediaError::InvalidMedia(
            "no frame could be decoded".into(),
        )));
    }
    let written = layout.truncated(taken);
    let (width, height) = written.sheet_size();
    let sheet = sheet.cropped(width, height);
    encode_jpeg(sheet, &plan.sprite_path, per_tile).map_err(named)?;
    let vtt = written.vtt(&plan.sprite_filename, plan.duration_seconds);
    std::fs::write(&plan.vtt_path, vtt).map_err(|e| {
        named(MediaError::System(format!(
            "writing {}: {e}",
            plan.vtt_path.display()
        )))
    })?;
    Ok(written)
}

/// [`extract_blocking`] on the blocking pool, waiting at most `per_tile` per tile (plus a
/// little for tearing down).
pub async fn extract(
    source: PathBuf,
    plan: StoryboardPlan,
    per_tile: Duration,
    cancel: CancellationToken,
) -> Result<Layout, MediaError> {
    let what = format!("storyboard '{}'", plan.label);
    let overall = per_tile * (plan.layout.tiles + 2);
    let task =
        tokio::task::spawn_blocking(move || extract_blocking(&source, &plan, per_tile, &cancel));
    match tokio::time::timeout(overall + Duration::from_secs(5), task).await {
        Ok(joined) => joined.map_err(|e| MediaError::System(format!("{what}: {e}")))?,
        Err(_) => Err(MediaError::Timeout(what, overall.as_secs())),
    }
}

/// Puts the storyboard's label on an error.
fn name_storyboard(e: MediaError, label: &str) -> MediaError {
    match e {
        MediaError::InvalidMedia(m) => {
            MediaError::InvalidMedia(format!("storyboard '{label}': {m}"))
        }
        MediaError::Unsupported(m) => MediaError::Unsupported(format!("storyboard '{label}': {m}")),
        MediaError::System(m) => MediaError::System(format!("storyboard '{label}': {m}")),
        other => other,
    }
}

/// An RGB image in memory, rows padded to 4 bytes as GStreamer lays out raw RGB.
struct Sheet {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
}

/// The bytes of one RGB row of `width` pixels in GStreamer's default layout.
fn rgb_stride(width: u32) -> usize {
    (width as usize * 3).next_multiple_of(4)
}

impl Sheet {
    fn new(width: u32, height: u32) -> Self {
        Self {
            pixels: vec![0; rgb_stride(width) * height as usize],
            width,
            height,
        }
    }

    /// Copies the RGB tile in `sample` to `origin`.
    fn paste(
        &mut self,
        sample: &gst::Sample,
        (x0, y0): (u32, u32),
        layout: &Layout,
    ) -> Result<(), MediaError> {
        let buffer = sample
            .buffer()
            .ok_or_else(|| MediaError::System("the decoder gave an empty sample".into()))?;
        let map = buffer
            .map_readable()
            .map_err(|e| MediaError::System(format!("reading a decoded frame: {e}")))?;
        let (tile_w, tile_h) = (layout.tile_width as usize, layout.tile_height as usize);
        let row_bytes = tile_w * 3;
        let src_stride = map.len() / tile_h.max(1);
        if src_stride < row_bytes || map.len() < src_stride * tile_h {
            return Err(MediaError::System(format!(
                "a decoded tile has {} bytes, too few for {tile_w}x{tile_h} RGB",
                map.len()
            )));
        }
        let dst_stride = rgb_stride(self.width);
        for row in 0..tile_h {
            let src = &map[row * src_stride..][..row_bytes];
            let dst_at = (y0 as usize + row) * dst_stride + x0 as usize * 3;
            self.pixels[dst_at..][..row_bytes].copy_from_slice(src);
        }
        Ok(())
    }

    /// The top-left `width` x `height` of the sheet.
    fn cropped(self, width: u32, height: u32) -> Self {
        if (width, height) == (self.width, self.height) {
            return self;
        }
        let (old, new) = (rgb_stride(self.width), rgb_stride(width));
        let mut pixels = vec![0; new * height as usize];
        for row in 0..height as usize {
            pixels[row * new..][..width as usize * 3]
                .copy_from_slice(&self.pixels[row * old..][..width as usize * 3]);
        }
        Self {
            pixels,
            width,
            height,
        }
    }
}

/// Encodes `sheet` as a JPEG file at `path` (`appsrc ! videoconvert ! jpegenc !
/// filesink`), within `timeout`.
fn encode_jpeg(sheet: Sheet, path: &Path, timeout: Duration) -> Result<(), MediaError> {
    let sys = |e: gst::glib::BoolError| MediaError::System(e.to_string());
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", sheet.width as i32)
        .field("height", sheet.height as i32)
        .field("framerate", gst::Fraction::new(0, 1))
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .build();
    let sink = make("filesink")?;
    sink.set_property("location", path.to_string_lossy().as_ref());
    let pipeline = gst::Pipeline::with_name("storyboard-sheet");
    let chain = [
        src.clone().upcast(),
        make("videoconvert")?,
        make("jpegenc")?,
        sink,
    ];
    pipeline.add_many(&chain).map_err(sys)?;
    gst::Element::link_many(&chain).map_err(sys)?;
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| MediaError::System("the sheet encoder refused to start".into()))?;
        let mut buffer = gst::Buffer::from_slice(sheet.pixels);
        buffer
            .get_mut()
            .expect("a new buffer is writable")
            .set_pts(gst::ClockTime::ZERO);
        src.push_buffer(buffer)
            .map_err(|e| MediaError::System(format!("encoding the sheet: {e}")))?;
        src.end_of_stream()
            .map_err(|e| MediaError::System(format!("encoding the sheet: {e}")))?;
        let bus = pipeline.bus().expect("a pipeline has a bus");
        let message = bus
            .timed_pop_filtered(
                gst::ClockTime::from_nseconds(timeout.as_nanos() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .ok_or_else(|| {
                MediaError::Timeout("encoding the sprite sheet".into(), timeout.as_secs())
            })?;
        match message.view() {
            gst::MessageView::Error(err) => Err(MediaError::System(format!(
                "encoding the sheet: {}",
                err.error()
            ))),
            _ => Ok(()),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests;
