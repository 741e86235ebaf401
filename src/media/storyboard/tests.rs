//! The sheet's layout, its bounds, and the WebVTT text, without GStreamer.

use super::*;

fn spec(interval_seconds: f64, tile_width: u32, columns: u32) -> StoryboardSpec {
    StoryboardSpec {
        label: "scrub".into(),
        filename: "scrub.vtt".into(),
        interval_seconds,
        tile_width,
        columns,
    }
}

#[test]
fn tiles_cover_the_duration_in_rows_of_columns() {
    let layout = Layout::new(&spec(2.0, 160, 4), (640, 360), 11.0);
    assert_eq!(
        layout,
        Layout {
            interval_seconds: 2.0,
            tiles: 6,
            columns: 4,
            tile_width: 160,
            tile_height: 90,
        }
    );
    assert_eq!(layout.rows(), 2);
    assert_eq!(layout.sheet_size(), (640, 180));
    assert_eq!(layout.tile_origin(0), (0, 0));
    assert_eq!(layout.tile_origin(3), (480, 0));
    assert_eq!(layout.tile_origin(5), (160, 90));
}

#[test]
fn a_duration_on_an_interval_boundary_needs_no_extra_tile() {
    assert_eq!(Layout::new(&spec(1.0, 160, 10), (640, 360), 5.0).tiles, 5);
    assert_eq!(Layout::new(&spec(1.0, 160, 10), (640, 360), 5.2).tiles, 6);
    // Unknown or empty durations still get one tile.
    assert_eq!(Layout::new(&spec(1.0, 160, 10), (640, 360), 0.0).tiles, 1);
}

#[test]
fn fewer_tiles_than_columns_make_a_narrower_sheet() {
    let layout = Layout::new(&spec(10.0, 160, 10), (640, 360), 25.0);
    assert_eq!((layout.tiles, layout.columns), (3, 3));
    assert_eq!(layout.sheet_size(), (480, 90));
}

#[test]
fn a_portrait_source_keeps_its_aspect_ratio() {
    let layout = Layout::new(&spec(10.0, 160, 10), (1080, 1920), 30.0);
    assert_eq!((layout.tile_width, layout.tile_height), (160, 284));
}

#[test]
fn a_long_source_widens_the_interval_to_stay_within_the_cap() {
    // Ten hours at 1 s would be 36000 tiles.
    let layout = Layout::new(&spec(1.0, 160, 10), (640, 360), 36_000.0);
    assert_eq!(layout.tiles, MAX_TILES);
    assert_eq!(layout.interval_seconds, 36.0);
    // Big tiles are bounded by the sheet's pixels first.
    let big = Layout::new(&spec(1.0, 640, 10), (640, 360), 3600.0);
    let (w, h) = big.sheet_size();
    assert!(w as u64 * h as u64 <= MAX_SHEET_PIXELS, "{w}x{h}");
    assert!(big.tiles < MAX_TILES && big.tiles as f64 * big.interval_seconds >= 3600.0);
    // One column of tall tiles is bounded by JPEG's side limit.
    let tall = Layout::new(&spec(1.0, 160, 1), (1080, 1920), 3600.0);
    assert!(
        tall.sheet_size().1 <= MAX_SHEET_SIDE,
        "{:?}",
        tall.sheet_size()
    );
    assert!(tall.tiles as f64 * tall.interval_seconds >= 3600.0);
}

#[test]
fn truncating_keeps_the_tiles_in_place() {
    let layout = Layout::new(&spec(1.0, 160, 4), (640, 360), 10.0);
    let cut = layout.truncated(6);
    assert_eq!((cut.tiles, cut.columns, cut.rows()), (6, 4, 2));
    assert_eq!(cut.tile_origin(5), layout.tile_origin(5));
    assert_eq!(layout.truncated(2).sheet_size(), (320, 90));
}

#[test]
fn the_vtt_maps_each_range_to_its_tile() {
    let layout = Layout::new(&spec(2.5, 160, 2), (640, 360), 6.2);
    let vtt = layout.vtt("scrub.jpg", 6.2);
    assert_eq!(
        vtt,
        "WEBVTT\n\
         \n00:00:00.000 --> 00:00:02.500\nscrub.jpg#xywh=0,0,160,90\n\
         \n00:00:02.500 --> 00:00:05.000\nscrub.jpg#xywh=160,0,160,90\n\
         \n00:00:05.000 --> 00:00:06.200\nscrub.jpg#xywh=0,90,160,90\n"
    );
}

#[test]
fn vtt_times_and_names_are_written_as_players_expect() {
    assert_eq!(vtt_time(3723.4567), "01:02:03.457");
    assert_eq!(vtt_time(0.0), "00:00:00.000");
    assert_eq!(vtt_time(360_000.0), "100:00:00.000");
    let layout = Layout::new(&spec(10.0, 160, 10), (640, 360), 5.0);
    assert!(
        layout
            .vtt("my sheet#1:a.jpg", 5.0)
            .contains("\nmy%20sheet%231%3Aa.jpg#xywh=0,0,160,90\n")
    );
}

#[test]
fn a_source_without_video_names_the_storyboard() {
    let err = plan_storyboards(
        &[spec(1.0, 160, 10)],
        &MediaInfo::default(),
        Path::new("/w"),
    )
    .unwrap_err();
    assert!(matches!(&err, MediaError::InvalidMedia(m) if m.contains("'scrub'")));
}

#[test]
fn plans_write_the_sprite_beside_the_vtt() {
    let source = MediaInfo {
        duration_seconds: 4.0,
        video: Some(crate::domain::media_info::VideoStreamInfo {
            width: 640,
            height: 360,
            ..Default::default()
        }),
        ..Default::default()
    };
    let plans = plan_storyboards(&[spec(1.0, 160, 10)], &source, Path::new("/w")).unwrap();
    assert_eq!(plans[0].vtt_path, PathBuf::from("/w/scrub.vtt"));
    assert_eq!(plans[0].sprite_path, PathBuf::from("/w/scrub.jpg"));
    assert_eq!(plans[0].sprite_filename, "scrub.jpg");
    assert_eq!(plans[0].layout.tiles, 4);
}
