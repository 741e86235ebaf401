//! Storyboards end to end: a gRPC order with storyboards runs on the real app; the WebVTT
//! file parses (by our reading and by ffprobe's), its cues cover the clip without gaps,
//! and every tile it names lies inside the sprite sheet ffprobe measures.

mod common;

use common::{Backend, Kind, clip_5s, order, output, spawn_app};
use std::path::PathBuf;
use std::time::Duration;
use tonic_types::StatusExt;
use transcoder::proto as pb;

fn local_path(url: &str) -> PathBuf {
    url::Url::parse(url).unwrap().to_file_path().unwrap()
}

fn storyboard(
    filename: &str,
    interval_seconds: f64,
    tile_width: u32,
    columns: u32,
) -> pb::StoryboardSpec {
    pb::StoryboardSpec {
        label: String::new(),
        filename: filename.into(),
        interval_seconds,
        tile_width,
        columns,
    }
}

/// A cue of a WebVTT file: its times in seconds and the tile it names.
#[derive(Debug)]
struct Cue {
    start: f64,
    end: f64,
    sprite: String,
    rect: [u32; 4],
}

fn seconds(stamp: &str) -> f64 {
    let (hms, ms) = stamp.split_once('.').expect("HH:MM:SS.mmm");
    let parts: Vec<f64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{stamp}");
    assert_eq!(ms.len(), 3, "{stamp}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + ms.parse::<f64>().unwrap() / 1000.0
}

/// Reads a storyboard's WebVTT file: the header, then blank-line separated cues of a
/// timing line and one `sprite#xywh=x,y,w,h` line.
fn parse_vtt(text: &str) -> Vec<Cue> {
    let mut blocks = text.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "the header");
    blocks
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let lines: Vec<&str> = block.trim_end().lines().collect();
            assert_eq!(lines.len(), 2, "{block:?}");
            let (start, end) = lines[0].split_once(" --> ").expect("a timing line");
            let (sprite, rect) = lines[1].split_once("#xywh=").expect("a media fragment");
            let rect: Vec<u32> = rect.split(',').map(|v| v.parse().unwrap()).collect();
            Cue {
                start: seconds(start),
                end: seconds(end),
                sprite: sprite.to_owned(),
                rect: rect.try_into().expect("four numbers"),
            }
        })
        .collect()
}

fn ffprobe_json(path: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}: {out:?}", path.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks one delivered storyboard against its files; returns its cues.
fn check_storyboard(board: &pb::StoryboardResult, duration: f64) -> Vec<Cue> {
    let vtt_path = local_path(&board.urls[0]);
    let sprite_path = local_path(&board.sprite_urls[0]);
    assert_eq!(vtt_path.parent(), sprite_path.parent(), "side by side");
    let cues = parse_vtt(&std::fs::read_to_string(&vtt_path).unwrap());
    assert_eq!(cues.len() as u32, board.tiles, "{board:?}");

    // ffprobe's own WebVTT reader finds the same cues at the same times.
    let packets = ffprobe_json(&vtt_path, &["-show_packets"]);
    let starts: Vec<f64> = packets["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pts_time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(starts.len(), cues.len());
    for (start, cue) in starts.iter().zip(&cues) {
        assert!((start - cue.start).abs() < 1e-3, "{start} vs {cue:?}");
    }

    // The sheet's real size, and every tile inside it, none twice.
    let stream = &ffprobe_json(
        &sprite_path,
        &["-show_entries", "stream=codec_name,width,height"],
    )["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg");
    let sheet = (
        stream["width"].as_u64().unwrap() as u32,
        stream["height"].as_u64().unwrap() as u32,
    );
    assert_eq!(
        sheet,
        (
            board.columns * board.tile_width,
            board.rows * board.tile_height
        )
    );
    let sprite_name = sprite_path.file_name().unwrap().to_str().unwrap();
    let mut seen = std::collections::HashSet::new();
    for cue in &cues {
        let [x, y, w, h] = cue.rect;
        assert_eq!(
            cue.sprite, sprite_name,
            "the sprite is named relative to the VTT"
        );
        assert_eq!((w, h), (board.tile_width, board.tile_height));
        assert!(
            x + w <= sheet.0 && y + h <= sheet.1,
            "{cue:?} outside {sheet:?}"
        );
        assert!(seen.insert((x, y)), "{cue:?} repeats a tile");
    }

    // Cues run from 0 to the end without gaps, one interval each.
    assert_eq!(cues[0].start, 0.0);
    for pair in cues.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
        assert!((pair[0].end - pair[0].start - board.interval_seconds).abs() < 1e-3);
    }
    let last = cues.last().unwrap();
    assert!(
        (last.end - duration).abs() < 0.1,
        "{last:?} vs {duration} s"
    );
    cues
}

async fn storyboards_are_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut request = order(
        &clip_5s(),
        vec![output("small.mp4", "System preset: Generic 360p")],
    );
    request.storyboards = vec![
        storyboard("scrub.vtt", 1.0, 160, 3),
        pb::StoryboardSpec {
            label: "defaults".into(),
            ..storyboard("coarse.vtt", 0.0, 0, 0)
        },
    ];
    let job = app.submit(request).await.unwrap();
    let echoed = &job.order.as_ref().unwrap().storyboards;
    assert_eq!(
        (
            echoed[1].interval_seconds,
            echoed[1].tile_width,
            echoed[1].columns
        ),
        (10.0, 160, 10),
        "zeros echo as their defaults"
    );
    let events = tokio::time::timeout(Duration::from_secs(180), app.watch(&job.id, 0))
        .await
        .expect("the job ended in time");
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    let duration = done.source.as_ref().unwrap().duration_seconds;

    let [fine, coarse] = &done.storyboards[..] else {
        panic!("two storyboards: {:?}", done.storyboards);
    };
    assert_eq!(fine.state, pb::OutputState::Succeeded as i32);
    assert_eq!(
        (
            fine.tiles,
            fine.columns,
            fine.rows,
            fine.tile_width,
            fine.tile_height
        ),
        (5, 3, 2, 160, 90),
        "{fine:?}"
    );
    check_storyboard(fine, duration);
    assert_eq!(
        (coarse.label.as_str(), coarse.tiles, coarse.columns),
        ("defaults", 1, 1)
    );
    let coarse_cues = check_storyboard(coarse, duration);
    assert_eq!(coarse_cues[0].rect, [0, 0, 160, 90]);

    let finished: Vec<pb::StoryboardResult> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(Kind::StoryboardFinished(f)) => f.storyboard.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(finished, done.storyboards, "one StoryboardFinished each");
    // Storyboards are free: only the output is billed.
    let lines = &done.billing.as_ref().expect("billed").lines;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].output_label, "small.mp4");
    app.shutdown().await;
}
on_both_backends!(
    storyboards_are_written_and_reported,
    super::storyboards_are_written
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_storyboards_are_refused_by_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut request = order(
        &clip_5s(),
        vec![output("small.mp4", "System preset: Generic 360p")],
    );
    request.storyboards = vec![
        storyboard("scrub.txt", 0.0, 0, 0),
        storyboard("small.vtt", 0.5, 15, 60),
    ];
    let status = app.submit(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "order.storyboards[0].filename",
            "order.storyboards[1].interval_seconds",
            "order.storyboards[1].tile_width",
            "order.storyboards[1].columns",
        ]
    );
    app.shutdown().await;
}
