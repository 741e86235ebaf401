//! proto <-> domain conversions of storyboards.

use super::convert::output_state;
use crate::domain::StoryboardResult;
use crate::domain::order::{StoryboardRequest, StoryboardSpec};
use crate::proto as pb;

pub fn storyboard_requests(raw: Vec<pb::StoryboardSpec>) -> Vec<StoryboardRequest> {
    raw.into_iter()
        .map(|s| StoryboardRequest {
            label: s.label,
            filename: s.filename,
            interval_seconds: s.interval_seconds,
            tile_width: s.tile_width,
            columns: s.columns,
        })
        .collect()
}

/// The order's storyboard as validated (its defaults filled in).
pub fn storyboard_spec(s: &StoryboardSpec) -> pb::StoryboardSpec {
    pb::StoryboardSpec {
        label: s.label.clone(),
        filename: s.filename.clone(),
        interval_seconds: s.interval_seconds,
        tile_width: s.tile_width,
        columns: s.columns,
    }
}

pub fn storyboard(s: &StoryboardResult) -> pb::StoryboardResult {
    pb::StoryboardResult {
        label: s.label.clone(),
        filename: s.filename.clone(),
        state: output_state(s.state),
        urls: s.urls.clone(),
        sprite_urls: s.sprite_urls.clone(),
        tiles: s.tiles,
        columns: s.columns,
        rows: s.rows,
        tile_width: s.tile_width,
        tile_height: s.tile_height,
        interval_seconds: s.interval_seconds,
    }
}
