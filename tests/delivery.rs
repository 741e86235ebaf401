//! Origins and destinations against real peers: an HTTP origin, s3s-fs, local dirs,
//! and the egress guard refusing what it must.

mod common;

use common::peers::{OriginPeer, S3Peer, scratch_file, use_s3};
use common::{AppOptions, Backend, TestApp, clip_5s, media_dir, output, spawn_app_with};
use transcoder::config::Settings;
use transcoder::proto as pb;
use transcoder::storage::Transfer;
use transcoder::storage::s3::S3Store;

const PRESET: &str = "System preset: Generic 360p";

fn video_mp4() -> transcoder::storage::s3::ObjectOptions {
    transcoder::storage::s3::ObjectOptions {
        content_type: "video/mp4".into(),
        ..Default::default()
    }
}

async fn app_with(configure: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(move |s| {
            s.egress.allow = vec!["127.0.0.1".into()];
            s.egress.read_timeout_seconds = 1;
            s.workers.max_attempts = 1;
            configure(s);
        }),
    )
    .await
}

async fn failure(app: &TestApp, origin: &str) -> pb::JobError {
    let job = app
        .submit_uri(origin, vec![output("out.mp4", PRESET)])
        .await;
    let done = app.finish(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Failed as i32,
        "{origin} should fail"
    );
    done.error.expect("a failed job says why")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_origin_is_downloaded_with_progress() {
    let origin = OriginPeer::start(&clip_5s()).await;
    let app = app_with(|_| {}).await;
    let job = app
        .submit_uri(&origin.url("/clip.mp4"), vec![output("out.mp4", PRESET)])
        .await;
    let events = app.watch(&job.id, 0).await;
    let downloading = common::progress_in(&events, pb::JobPhase::Downloading);
    assert!(
        downloading.iter().any(|p| p.percent > 0.0),
        "download progress was reported"
    );
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_http_origins_fail_clearly() {
    let origin = OriginPeer::start(&clip_5s()).await;
    let app = app_with(|s| s.limits.max_source_bytes = 5 * 1024 * 1024).await;

    let missing = failure(&app, &origin.url("/missing.mp4")).await;
    assert_eq!(missing.code, "ORIGIN_UNAVAILABLE");
    assert!(
        missing.message.contains("404") && missing.message.contains("/missing.mp4"),
        "{missing:?}"
    );
    assert!(!missing.retryable);

    let slow = failure(&app, &origin.url("/slow.mp4")).await;
    assert_eq!(slow.code, "TIMEOUT", "{slow:?}");
    assert!(slow.message.contains("/slow.mp4"));

    let looping = failure(&app, &origin.url("/loop/0")).await;
    assert!(looping.message.contains("redirect"), "{looping:?}");
    assert!(looping.message.contains("/loop/0"));

    let big = failure(&app, &origin.url("/big.mp4")).await;
    assert_eq!(big.code, "LIMIT_EXCEEDED", "{big:?}");

    let lying = failure(&app, &format!("http://{}/lying.mp4", origin.lying_addr)).await;
    assert_eq!(lying.code, "ORIGIN_UNAVAILABLE", "{lying:?}");
    assert!(lying.retryable);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_origins_that_are_not_allowlisted_are_refused() {
    let origin = OriginPeer::start(&clip_5s()).await;
    let port = origin.addr.port();
    let app = app_with(|_| {}).await;
    let refused = [
        format!("http://127.0.0.2:{port}/clip.mp4"),
        format!("http://[::1]:{port}/clip.mp4"),
        format!("http://[::ffff:127.0.0.3]:{port}/clip.mp4"),
        format!("http://localhost:{port}/clip.mp4"),
        origin.url("/to-forbidden"),
    ];
    for uri in refused {
        let error = failure(&app, &uri).await;
        assert_eq!(error.code, "PERMISSION_DENIED", "{uri}: {error:?}");
        assert!(error.message.contains("origin http://"), "{error:?}");
        assert!(!error.retryable);
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_in_and_s3_plus_local_out() {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    let clip = std::fs::read(clip_5s()).unwrap();
    s3.client()
        .put_object()
        .bucket("media")
        .key("in/clip.mp4")
        .body(clip.into())
        .send()
        .await
        .unwrap();
    let local_dir = media_dir().join(format!("out-{}", uuid::Uuid::now_v7()));
    let app = s3_app(Backend::Postgres, &s3).await;
    let order = pb::Order {
        origin: "s3://media/in/clip.mp4".into(),
        outputs: vec![
            output("a.mp4", PRESET),
            output("b.mp4", "System preset: Audio only AAC 128k"),
        ],
        destinations: vec![
            pb::Destination {
                uri: "s3://media/out/".into(),
                ..Default::default()
            },
            pb::Destination {
                uri: common::file_uri(&local_dir),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let job = app.submit(order).await.unwrap();
    let events = app.watch(&job.id, 0).await;
    assert!(!common::progress_in(&events, pb::JobPhase::Uploading).is_empty());
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    for output in &done.outputs {
        assert_eq!(output.urls.len(), 2);
        assert_eq!(
            output.urls[0],
            format!("s3://media/out/{}", output.filename)
        );
        let (stored, content_type) = s3
            .get("media", &format!("out/{}", output.filename))
            .await
            .unwrap();
        let local = std::fs::read(local_dir.join(&output.filename)).unwrap();
        assert_eq!(
            stored, local,
            "S3 and the local copy are byte for byte the same"
        );
        assert_eq!(content_type.as_deref(), Some("video/mp4"));
    }
    app.shutdown().await;
}

async fn s3_app(backend: Backend, peer: &S3Peer) -> TestApp {
    let endpoint = peer.endpoint();
    spawn_app_with(
        backend,
        AppOptions::configured(move |s| {
            use_s3(s, &endpoint);
            s.workers.max_attempts = 1;
        }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_destination_fails_the_job_naming_it() {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    s3.fail_puts
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let app = s3_app(Backend::Sqlite, &s3).await;
    let mut order = common::order(&clip_5s(), vec![output("a.mp4", PRESET)]);
    order.destinations = vec![pb::Destination {
        uri: "s3://media/out/".into(),
        ..Default::default()
    }];
    let job = app.submit(order).await.unwrap();
    let done = app.finish(&job.id).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.unwrap();
    assert_eq!(error.code, "DESTINATION_FAILED");
    assert!(error.retryable);
    assert!(
        error.message.contains("s3://media/out/"),
        "{}",
        error.message
    );
    assert!(s3.get("media", "out/a.mp4").await.is_none());
    app.shutdown().await;
}

async fn store_for(peer: &S3Peer) -> S3Store {
    let mut settings = Settings::default();
    use_s3(&mut settings, &peer.endpoint());
    settings.s3.part_size_bytes = 5 * 1024 * 1024;
    S3Store::from_settings(&settings.s3).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_go_up_in_parts_and_come_back_identical() {
    let peer = S3Peer::start().await;
    peer.create_bucket("big").await;
    let dir = tempfile::tempdir().unwrap();
    let file = scratch_file(dir.path(), "big.mp4", 12 * 1024 * 1024 + 123);
    let store = store_for(&peer).await;
    let (transfer, progress) = Transfer::channel();
    let url = store
        .upload(&file, "big", "out/big.mp4", &video_mp4(), &transfer)
        .await
        .unwrap();
    assert_eq!(url, "s3://big/out/big.mp4");
    assert_eq!(
        *progress.borrow(),
        (12 * 1024 * 1024 + 123, Some(12 * 1024 * 1024 + 123))
    );
    let (stored, _) = peer.get("big", "out/big.mp4").await.unwrap();
    assert_eq!(stored, std::fs::read(&file).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_multipart_upload_leaves_nothing_behind() {
    let peer = S3Peer::start().await;
    peer.create_bucket("big").await;
    peer.fail_part_two
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let file = scratch_file(dir.path(), "big.mp4", 12 * 1024 * 1024);
    let store = store_for(&peer).await;
    let error = store
        .upload(
            &file,
            "big",
            "out/big.mp4",
            &video_mp4(),
            &Transfer::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "S3_REQUEST_FAILED");
    assert!(error.to_string().contains("part 2"), "{error}");
    assert!(peer.get("big", "out/big.mp4").await.is_none(), "no object");
    assert_eq!(
        peer.stored_parts(),
        0,
        "the multipart upload was aborted, its parts deleted"
    );
}
