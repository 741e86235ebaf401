//! `transcoder demo`: the whole path end to end on this machine.

use std::path::PathBuf;
use transcoder::admin::{Admin, NewCompany};
use transcoder::app::RunningApp;
use transcoder::config::Settings;
use transcoder::error::ErrorCode;
use transcoder::proto as pb;

const COMPANY: &str = "demo";

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Length of the generated clip, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(None)?;
    settings.data_dir = args.data_dir;
    // Where `transcoder serve` on this data dir will answer, for the dashboard's URL.
    let serve_http = settings.server.http_addr;
    settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.server.http_addr = ([127, 0, 0, 1], 0).into();
    let app = RunningApp::start(settings).await?;
    let grpc = app.grpc_addr.expect("the demo runs the API");
    println!(
        "transcoder is up: gRPC on {grpc}, HTTP on {}",
        app.http_addr
    );
    println!("data dir: {}", app.settings.data_dir.display());
    let app_data_dir = app.settings.data_dir.clone();

    let source = app.settings.data_dir.join("demo").join("source.mp4");
    std::fs::create_dir_all(source.parent().expect("has a parent"))?;
    println!(
        "generating a {} s 1280x720 test clip with audio ...",
        args.seconds
    );
    let (clip_path, seconds) = (source.clone(), args.seconds);
    tokio::task::spawn_blocking(move || generate_source(&clip_path, seconds)).await??;

    let (token_id, token) = demo_token(&app.admin).await?;
    println!("company '{COMPANY}' with a new API token (transcoder token list {COMPANY})");
    let result = submit_and_watch(grpc, &token, &source).await;
    // The token was the demo's own; leave none working behind that nobody has seen.
    if let Err(e) = app.admin.revoke_token(&token_id).await {
        eprintln!("could not revoke the demo's token {token_id}: {e}");
    }
    let dashboard = dashboard_token(&app.admin).await;
    app.shutdown().await;
    println!("service stopped");
    result?;
    print_dashboard(serve_http, &app_data_dir, dashboard?);
    Ok(())
}

/// A token for signing in to the dashboard: the demo's previous one is revoked, so
/// running the demo again leaves one working.
async fn dashboard_token(admin: &Admin) -> anyhow::Result<(String, String)> {
    for old in admin.tokens(COMPANY).await? {
        if old.name == "dashboard" && old.revoked_at.is_none() {
            admin.revoke_token(&old.id).await?;
        }
    }
    let (token, secret) = admin.create_token(COMPANY, Some("dashboard")).await?;
    Ok((token.id, secret))
}

fn print_dashboard(
    addr: std::net::SocketAddr,
    data_dir: &std::path::Path,
    token: (String, String),
) {
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    println!();
    println!("dashboard: start the service on this data dir, then sign in with the token below:");
    // The path of this very binary: `transcoder` is rarely on PATH after `make demo`.
    let binary = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "transcoder".to_owned());
    println!("  {binary} serve --data-dir {}", data_dir.display());
    println!("  open http://{host}/");
    println!("  token: {}", token.1);
    println!(
        "  (company '{COMPANY}', token id {}; the next demo replaces it, `transcoder token revoke {}` ends it)",
        token.0, token.0
    );
}

/// The demo acts as a client would: its own company, with a fresh API token each run.
async fn demo_token(admin: &Admin) -> anyhow::Result<(String, String)> {
    let created = admin
        .create_company(NewCompany {
            slug: COMPANY.into(),
            name: Some("Demo".into()),
            ..NewCompany::default()
        })
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code == ErrorCode::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let (token, secret) = admin.create_token(COMPANY, Some("demo")).await?;
    Ok((token.id, secret))
}

async fn submit_and_watch(
    grpc: std::net::SocketAddr,
    token: &str,
    source: &std::path::Path,
) -> anyhow::Result<()> {
    let mut client = transcoder::client::connect(&format!("http://{grpc}"), token).await?;
    let origin = url::Url::from_file_path(source).map_err(|_| anyhow::anyhow!("bad path"))?;
    let output = |label: &str, filename: &str, preset: &str| pb::OutputSpec {
        label: label.into(),
        filename: filename.into(),
        profile: Some(pb::output_spec::Profile::Preset(preset.into())),
        reference: String::new(),
    };
    let job = client
        .submit_job(pb::SubmitJobRequest {
            company_id: COMPANY.into(),
            order: Some(pb::Order {
                origin: origin.to_string(),
                outputs: vec![
                    output("720p", "demo-720p.mp4", "System preset: Generic 720p"),
                    output("360p-vp9", "demo-360p.webm", "System preset: Webm VP9 360p"),
                    output("hls", "demo-hls.m3u8", "System preset: HLS ladder"),
                ],
                thumbnails: vec![pb::ThumbnailSpec {
                    label: "poster".into(),
                    filename: "demo-poster.jpg".into(),
                    width: 640,
                    time_percent: Some(50.0),
                    ..Default::default()
                }],
                storyboards: vec![pb::StoryboardSpec {
                    label: "scrub".into(),
                    filename: "demo-storyboard.vtt".into(),
                    interval_seconds: 1.0,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await?
        .into_inner();
    println!(
        "submitted job {} (outputs: 720p H.264, 360p VP9, an HLS ladder; a poster and a storyboard)",
        job.id
    );

    // The same bars (one per output) and results table as `transcoder submit --watch`.
    super::client::follow(&mut client, job.clone(), false).await?;
    let job = client
        .get_job(pb::GetJobRequest {
            company_id: COMPANY.into(),
            job_id: job.id,
        })
        .await?
        .into_inner();
    println!("media:");
    for output in &job.outputs {
        let m = output.media.clone().unwrap_or_default();
        println!(
            "  {:<8} {} {}+{} {}x{} {:.2} s {} kbit/s",
            output.label,
            m.container,
            m.video_codec,
            m.audio_codec,
            m.width,
            m.height,
            m.duration_seconds,
            m.bitrate_bps / 1000,
        );
        for rung in &output.renditions {
            let r = rung.media.clone().unwrap_or_default();
            println!(
                "           {:<6} {}x{} {} segments, {} kbit/s",
                rung.name,
                r.width,
                r.height,
                rung.segments,
                r.bitrate_bps / 1000
            );
        }
    }
    for s in &job.storyboards {
        println!(
            "  {:<8} {} tiles of {}x{}  {}",
            s.label,
            s.tiles,
            s.tile_width,
            s.tile_height,
            s.urls.join(", ")
        );
    }
    Ok(())
}

/// Writes the demo's source: `seconds` of 1280x720 H.264 with AAC, from GStreamer's test
/// sources. Blocking. (The tests' configurable generator is `transcoder::test_support`,
/// which the shipping binary does not carry; this is the one clip the demo needs.)
fn generate_source(path: &std::path::Path, seconds: u32) -> anyhow::Result<()> {
    use gstreamer::prelude::*;
    transcoder::media::init()?;
    let location = path
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", path.display()))?;
    let frames = seconds * 30;
    // Moving detail, so the outputs have something to spend their bitrate on; 1600
    // samples per audio buffer at 48 kHz is 1/30 s, so audio ends with the video.
    let pipeline = gstreamer::parse::launch(&format!(
        "videotestsrc num-buffers={frames} pattern=zone-plate kx2=20 ky2=20 kt=1 ! \
         video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! \
         x264enc speed-preset=ultrafast key-int-max=30 bitrate=4000 ! h264parse ! \
         mp4mux name=mux faststart=true ! filesink location=\"{location}\" \
         audiotestsrc num-buffers={frames} samplesperbuffer=1600 wave=ticks ! \
         audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse ! mux."
    ))?;
    let finished = run_to_eos(&pipeline);
    let _ = pipeline.set_state(gstreamer::State::Null);
    finished
}

fn run_to_eos(pipeline: &gstreamer::Element) -> anyhow::Result<()> {
    use gstreamer::prelude::*;
    pipeline.set_state(gstreamer::State::Playing)?;
    let bus = pipeline.bus().ok_or_else(|| anyhow::anyhow!("no bus"))?;
    let message = bus
        .timed_pop_filtered(
            gstreamer::ClockTime::from_seconds(300),
            &[gstreamer::MessageType::Eos, gstreamer::MessageType::Error],
        )
        .ok_or_else(|| anyhow::anyhow!("the test clip took over 300 s"))?;
    match message.view() {
        gstreamer::MessageView::Error(e) => Err(anyhow::anyhow!("test clip: {}", e.error())),
        _ => Ok(()),
    }
}
