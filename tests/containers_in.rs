//! Containers in: the same 2 s of picture and sound in every common container (MP4 with
//! its index first or last, MOV, MKV, WebM, AVI, MPEG-TS, FLV, Ogg) is transcoded whole.
//! Sources are made with ffmpeg; outputs are checked with ffprobe.

mod common;
mod media_check;

use common::{file_uri, media_dir, output, spawn_app};
use media_check::{ffmpeg_to, local_path, made_once, probe};
use std::time::Duration;
use transcoder::proto as pb;

const SECONDS: f64 = 2.0;

/// (file name, ffmpeg encoding arguments) for each container.
const SOURCES: [(&str, &str); 9] = [
    (
        "in-faststart.mp4",
        "-c:v libx264 -c:a aac -movflags +faststart",
    ),
    ("in-index-last.mp4", "-c:v libx264 -c:a aac"),
    ("in.mov", "-c:v libx264 -c:a aac"),
    ("in.mkv", "-c:v libx264 -c:a aac"),
    (
        "in.webm",
        "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus",
    ),
    ("in.avi", "-c:v mpeg4 -c:a libmp3lame"),
    ("in.ts", "-c:v libx264 -c:a aac"),
    ("in.flv", "-c:v libx264 -c:a aac -ar 44100"),
    ("in.ogg", "-c:v libtheora -c:a libvorbis"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_common_container_is_read() {
    let lavfi = format!(
        "-f lavfi -i testsrc2=size=320x240:rate=25:duration={SECONDS} \
         -f lavfi -i sine=frequency=440:duration={SECONDS} -pix_fmt yuv420p -shortest"
    );
    let app = spawn_app(common::Backend::Sqlite).await;
    let mut jobs = Vec::new();
    for (name, encoding) in SOURCES {
        let args: Vec<String> = format!("{lavfi} {encoding}")
            .split_whitespace()
            .map(String::from)
            .collect();
        let source = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            made_once(media_dir(), name, |partial| ffmpeg_to(&args, partial))
        })
        .await
        .unwrap();
        let order = pb::Order {
            origin: file_uri(&source),
            outputs: vec![output("out.mp4", "System preset: Generic 360p")],
            ..Default::default()
        };
        jobs.push((name, app.submit(order).await.unwrap().id));
    }
    for (name, job_id) in jobs {
        let job = tokio::time::timeout(Duration::from_secs(300), app.finish(&job_id))
            .await
            .expect("the job ends within 5 minutes");
        assert_eq!(
            job.state,
            pb::JobState::Succeeded as i32,
            "{name}: {:?}",
            job.error
        );
        let probed = probe(&local_path(&job.outputs[0].urls[0]));
        let video = probed.stream("video").expect("video out");
        assert_eq!(
            (video.width, video.height),
            (320, 240),
            "{name}: not upscaled"
        );
        assert!(probed.stream("audio").is_some(), "{name}: audio out");
        assert!(
            (probed.duration() - SECONDS).abs() <= 0.3,
            "{name}: lasts {} s",
            probed.duration()
        );
    }
    app.shutdown().await;
}
