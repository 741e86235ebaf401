//! Thumbnails an order asks for: still frames at a time (seconds, or a share of the
//! duration), fitted to a size, written as JPEG, PNG or WebP by the file name.

use super::{OutputSpec, Violations, filename_problem};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct ThumbnailRequest {
    pub filename: String,
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub time_seconds: f64,
    /// A share of the source's duration, 0..=100, used instead of `time_seconds`.
    pub time_percent: Option<f64>,
    /// Whether the image may be larger than the source.
    pub allow_upscale: bool,
}

/// A still frame to write: at `time_seconds` into the source (or `time_percent` of its
/// duration when set), fitted to `width` x `height` (0 = not given; see
/// `media::thumbnail::thumbnail_dimensions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailSpec {
    pub filename: String,
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub time_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_percent: Option<f64>,
    #[serde(default)]
    pub allow_upscale: bool,
}

impl ThumbnailSpec {
    /// The image format its file name asks for (validation refused any other).
    pub fn format(&self) -> ImageFormat {
        ImageFormat::from_filename(&self.filename).unwrap_or(ImageFormat::Jpeg)
    }
}

/// The most thumbnails one order may ask for.
pub const MAX_THUMBNAILS: usize = 32;
/// A thumbnail side, when given, is within these bounds (pixels).
pub const THUMBNAIL_MIN_SIDE: u32 = 2;
pub const THUMBNAIL_MAX_SIDE: u32 = 7680;

/// A thumbnail's image format, chosen by its file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    /// `.jpg` / `.jpeg` is JPEG, `.png` PNG, `.webp` WebP (any case); anything else is
    /// none.
    pub fn from_filename(name: &str) -> Option<Self> {
        let (_, ext) = name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The format's name on the wire: "jpeg", "png" or "webp".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }
}

/// Checks every thumbnail: a JPEG, PNG or WebP file name, a label unique among
/// thumbnails and outputs (it defaults to the file name), a size of 0 (not given) or
/// [`THUMBNAIL_MIN_SIDE`]..=[`THUMBNAIL_MAX_SIDE`] per side, a finite time from 0 or a
/// finite percent in 0..=100 (not both), and at most [`MAX_THUMBNAILS`] of them.
pub(super) fn validate_thumbnails(
    raw: Vec<ThumbnailRequest>,
    outputs: &[OutputSpec],
    bad: &mut Violations,
) -> Vec<ThumbnailSpec> {
    if raw.len() > MAX_THUMBNAILS {
        bad.add(
            "order.thumbnails",
            format!("at most {MAX_THUMBNAILS} thumbnails per order"),
        );
    }
    let mut labels: HashSet<String> = outputs.iter().map(|o| o.label.clone()).collect();
    let mut out = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let mut ok = true;
        let field = |name: &str| format!("order.thumbnails[{i}].{name}");
        if let Some(problem) = filename_problem(&t.filename) {
            bad.add(field("filename"), problem);
            ok = false;
        } else if ImageFormat::from_filename(&t.filename).is_none() {
            bad.add(
                field("filename"),
                "must end in .jpg or .jpeg (JPEG), .png (PNG) or .webp (WebP)",
            );
            ok = false;
        }
        if super::caps::too_long(&t.label, super::MAX_LABEL_CHARS, &field("label"), bad) {
            ok = false;
        }
        let label = if t.label.trim().is_empty() {
            t.filename.clone()
        } else {
            t.label.trim().to_owned()
        };
        if !labels.insert(label.clone()) {
            bad.add(
                field("label"),
                format!("duplicates another thumbnail's or output's label '{label}'"),
            );
            ok = false;
        }
        for (name, side) in [("width", t.width), ("height", t.height)] {
            if side != 0 && !(THUMBNAIL_MIN_SIDE..=THUMBNAIL_MAX_SIDE).contains(&side) {
                bad.add(
                    field(name),
                    format!(
                        "must be 0 (the source's) or between {THUMBNAIL_MIN_SIDE} and {THUMBNAIL_MAX_SIDE}, got {side}"
                    ),
                );
                ok = false;
            }
        }
        if let Some(problem) = time_problem(&t) {
            bad.add(field(problem.0), problem.1);
            ok = false;
        }
        if ok {
            out.push(ThumbnailSpec {
                filename: t.filename,
                label,
                width: t.width,
                height: t.height,
                time_seconds: t.time_seconds,
                time_percent: t.time_percent,
                allow_upscale: t.allow_upscale,
            });
        }
    }
    out
}

/// The field and the problem of a thumbnail's time, if any.
fn time_problem(t: &ThumbnailRequest) -> Option<(&'static str, String)> {
    if !t.time_seconds.is_finite() || t.time_seconds < 0.0 {
        return Some((
            "time_seconds",
            format!("must be a number of seconds from 0, got {}", t.time_seconds),
        ));
    }
    let percent = t.time_percent?;
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        Some((
            "time_percent",
            format!("must be a share of the duration from 0 to 100, got {percent}"),
        ))
    } else if t.time_seconds != 0.0 {
        Some((
            "time_percent",
            "give time_seconds or time_percent, not both".to_owned(),
        ))
    } else {
        None
    }
}
