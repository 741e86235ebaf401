//! Storyboards an order asks for: a sprite sheet of small frames, one every N seconds,
//! and a WebVTT file mapping each time range to its tile (`sprite.jpg#xywh=x,y,w,h`),
//! which web players use for scrub previews.

use super::{OutputSpec, ThumbnailSpec, Violations, filename_problem};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct StoryboardRequest {
    pub label: String,
    /// The WebVTT file's name; the sprite sheet is written beside it as `<stem>.jpg`.
    pub filename: String,
    /// 0 = [`StoryboardSpec::DEFAULT_INTERVAL_SECONDS`].
    pub interval_seconds: f64,
    /// 0 = [`StoryboardSpec::DEFAULT_TILE_WIDTH`].
    pub tile_width: u32,
    /// 0 = [`StoryboardSpec::DEFAULT_COLUMNS`].
    pub columns: u32,
}

/// A validated storyboard, its defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryboardSpec {
    pub label: String,
    /// The WebVTT file's name (it ends in `.vtt`).
    pub filename: String,
    /// One tile every this many seconds, as asked (the sheet may widen it, see
    /// `media::storyboard`).
    pub interval_seconds: f64,
    /// Each tile's width; its height follows the source's aspect ratio.
    pub tile_width: u32,
    /// Tiles per row of the sheet.
    pub columns: u32,
}

impl StoryboardSpec {
    pub const DEFAULT_INTERVAL_SECONDS: f64 = 10.0;
    pub const DEFAULT_TILE_WIDTH: u32 = 160;
    pub const DEFAULT_COLUMNS: u32 = 10;
    pub const INTERVAL_SECONDS: (f64, f64) = (1.0, 600.0);
    pub const TILE_WIDTH: (u32, u32) = (16, 640);
    pub const COLUMNS: (u32, u32) = (1, 50);

    /// The sprite sheet's file name: the WebVTT file's stem with `.jpg`.
    pub fn sprite_filename(&self) -> String {
        sprite_filename(&self.filename)
    }
}

/// The most storyboards one order may ask for.
pub const MAX_STORYBOARDS: usize = 4;

fn sprite_filename(vtt: &str) -> String {
    let stem = vtt.rsplit_once('.').map_or(vtt, |(stem, _)| stem);
    format!("{stem}.jpg")
}

/// A value of 0 means `default`; any other must lie within `bounds`.
fn or_default<T: PartialOrd + Copy + Default>(value: T, default: T, bounds: (T, T)) -> Option<T> {
    if value == T::default() {
        Some(default)
    } else {
        (bounds.0..=bounds.1).contains(&value).then_some(value)
    }
}

/// Checks every storyboard: a `.vtt` file name whose sprite (`<stem>.jpg`) and itself
/// collide with no other file of the order (`names`, updated), a label unique among
/// outputs, thumbnails and storyboards, an interval of 1..=600 s, an even tile width of
/// 16..=640, 1..=50 columns (0 for each default), and at most [`MAX_STORYBOARDS`].
pub(super) fn validate_storyboards(
    raw: Vec<StoryboardRequest>,
    (outputs, thumbnails): (&[OutputSpec], &[ThumbnailSpec]),
    names: &mut HashSet<String>,
    bad: &mut Violations,
) -> Vec<StoryboardSpec> {
    if super::over_cap(&raw, MAX_STORYBOARDS, "order.storyboards", bad) {
        return Vec::new();
    }
    let mut labels: HashSet<String> = outputs.iter().map(|o| o.label.clone()).collect();
    labels.extend(thumbnails.iter().map(|t| t.label.clone()));
    let mut out = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let before = bad.0.len();
        let field = |name: &str| format!("order.storyboards[{i}].{name}");
        let filename = s.filename.trim().to_owned();
        if let Some(problem) = filename_problem(&filename) {
            bad.add(field("filename"), problem);
        } else if !filename.to_ascii_lowercase().ends_with(".vtt") || filename.len() < 5 {
            bad.add(
                field("filename"),
                "must be a WebVTT file name ending in .vtt",
            );
        } else {
            for name in [filename.clone(), sprite_filename(&filename)] {
                if !names.insert(name.clone()) {
                    bad.add(
                        field("filename"),
                        format!("writes '{name}', which another file of the order also uses"),
                    );
                }
            }
        }
        super::caps::too_long(&s.label, super::MAX_LABEL_CHARS, &field("label"), bad);
        let label = match s.label.trim() {
            "" => filename.clone(),
            given => given.to_owned(),
        };
        if !labels.insert(label.clone()) {
            bad.add(
                field("label"),
                format!("duplicates another output's, thumbnail's or storyboard's label '{label}'"),
            );
        }
        let (lo, hi) = StoryboardSpec::INTERVAL_SECONDS;
        let interval = s
            .interval_seconds
            .is_finite()
            .then(|| {
                or_default(
                    s.interval_seconds,
                    StoryboardSpec::DEFAULT_INTERVAL_SECONDS,
                    (lo, hi),
                )
            })
            .flatten();
        if interval.is_none() {
            bad.add(
                field("interval_seconds"),
                format!(
                    "must be 0 (every {}) or {lo} to {hi} seconds, got {}",
                    StoryboardSpec::DEFAULT_INTERVAL_SECONDS,
                    s.interval_seconds
                ),
            );
        }
        let (lo, hi) = StoryboardSpec::TILE_WIDTH;
        let tile_width = or_default(s.tile_width, StoryboardSpec::DEFAULT_TILE_WIDTH, (lo, hi))
            .filter(|w| w.is_multiple_of(2));
        if tile_width.is_none() {
            bad.add(
                field("tile_width"),
                format!(
                    "must be 0 ({}) or an even width from {lo} to {hi}, got {}",
                    StoryboardSpec::DEFAULT_TILE_WIDTH,
                    s.tile_width
                ),
            );
        }
        let (lo, hi) = StoryboardSpec::COLUMNS;
        let columns = or_default(s.columns, StoryboardSpec::DEFAULT_COLUMNS, (lo, hi));
        if columns.is_none() {
            bad.add(
                field("columns"),
                format!(
                    "must be 0 ({}) or from {lo} to {hi}, got {}",
                    StoryboardSpec::DEFAULT_COLUMNS,
                    s.columns
                ),
            );
        }
        if let (Some(interval_seconds), Some(tile_width), Some(columns), true) =
            (interval, tile_width, columns, bad.0.len() == before)
        {
            out.push(StoryboardSpec {
                label,
                filename,
                interval_seconds,
                tile_width,
                columns,
            });
        }
    }
    out
}
