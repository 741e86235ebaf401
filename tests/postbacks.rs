//! The preset dialect's postbacks over gRPC: a job with a `postback_url` and an S3
//! destination posts exiftool's metadata of each written file, the object's URL and the
//! client's reference; a failing job posts its error. Real peers: s3s-fs, a receiver.

mod common;

use common::peers::{Received, S3Peer, WebhookPeer, use_s3};
use common::{AppOptions, Backend, TestApp, clip_5s, order, output, random_bytes, spawn_app_with};
use serde_json::Value;
use std::time::Duration;
use transcoder::proto as pb;

const PRESET: &str = "System preset: Generic 360p";
/// Longest wait for a job to end or a postback to settle.
const WAIT: Duration = Duration::from_secs(120);

async fn app(backend: Backend, s3: &S3Peer) -> TestApp {
    let endpoint = s3.endpoint();
    spawn_app_with(
        backend,
        AppOptions::configured(move |s| {
            use_s3(s, &endpoint);
            s.egress.allow = vec!["127.0.0.1".into()];
            s.webhooks.retry_schedule_seconds = vec![0.05, 0.05];
            s.webhooks.poll_interval_ms = 50;
            s.workers.max_attempts = 1;
        }),
    )
    .await
}

fn postback_order(origin: &std::path::Path, receiver: &WebhookPeer) -> pb::Order {
    let mut o = order(
        origin,
        vec![
            pb::OutputSpec {
                reference: "vid-first".into(),
                ..output("first.mp4", PRESET)
            },
            pb::OutputSpec {
                reference: "vid-second".into(),
                ..output("second.mp4", "System preset: Generic 480p")
            },
        ],
    );
    o.destinations = vec![pb::Destination {
        uri: "s3://media/out/".into(),
        ..Default::default()
    }];
    o.notifications = vec![pb::Notification {
        target: Some(pb::notification::Target::PostbackUrl(receiver.url())),
    }];
    o
}

async fn finished(app: &TestApp, job_id: &str) -> pb::Job {
    tokio::time::timeout(WAIT, app.finish(job_id))
        .await
        .expect("the job ends in time")
}

/// Polls the job until its postback is no longer pending: deliveries happen after the
/// job ends, so there is no event to wait on.
async fn settled_postback(app: &TestApp, job_id: &str) -> pb::NotificationStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let job = app.get(job_id).await;
        if let Some(n) = job.notifications.first().filter(|n| n.state != "PENDING") {
            return n.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the postback never settled: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn only_request(receiver: &WebhookPeer) -> Received {
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "one delivery, accepted at once");
    received.into_iter().next().unwrap()
}

async fn succeeded_jobs_post_exiftool_meta_and_the_s3_url(backend: Backend) {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    let receiver = WebhookPeer::start(vec![200]).await;
    let app = app(backend, &s3).await;
    let job = app
        .submit(postback_order(&clip_5s(), &receiver))
        .await
        .unwrap();
    let done = finished(&app, &job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );

    let status = settled_postback(&app, &job.id).await;
    assert_eq!(status.kind, "postback");
    assert_eq!(status.target, receiver.url());
    assert_eq!(status.state, "DELIVERED");
    assert_eq!(
        status.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![200]
    );

    let request = only_request(&receiver);
    for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert!(request.headers.contains_key(header), "{header} rides along");
    }
    let body: Value = serde_json::from_str(&request.body).unwrap();
    let results = &body["results"];
    assert_eq!(results["job_id"], job.id.as_str());
    assert!(results.get("error").is_none(), "{results}");
    assert_eq!(results["video"], results["videos"][0], "video is the first");
    let videos = results["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2);

    for ((video, output), reference) in videos
        .iter()
        .zip(&done.outputs)
        .zip(["vid-first", "vid-second"])
    {
        assert_eq!(video["video_identifier"], reference);
        assert_eq!(output.reference, reference, "GetJob echoes the reference");
        let key = format!("out/{}", output.filename);
        assert_eq!(
            video["s3_url"],
            format!("{}/media/{key}", s3.endpoint()),
            "path style under the configured endpoint"
        );

        // exiftool on the object as stored, fetched back from S3.
        let meta = video["meta"].as_object().expect("meta is an object");
        common::peers::assert_meta_is_exiftools(&s3, "media", &key, meta).await;
        assert_eq!(meta["FileType"], "MP4");
        assert!(
            !meta.contains_key("FileName"),
            "local file keys are dropped"
        );

        // GetJob carries the same map.
        let on_job: Value = serde_json::from_str(&output.file_metadata_json).unwrap();
        assert_eq!(&on_job, &video["meta"]);
    }
    app.shutdown().await;
}

on_both_backends!(
    succeeded_postback,
    super::succeeded_jobs_post_exiftool_meta_and_the_s3_url
);

async fn failed_jobs_post_the_error(backend: Backend) {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    let receiver = WebhookPeer::start(vec![200]).await;
    let app = app(backend, &s3).await;
    let job = app
        .submit(postback_order(&random_bytes(), &receiver))
        .await
        .unwrap();
    let done = finished(&app, &job.id).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");

    let status = settled_postback(&app, &job.id).await;
    assert_eq!(
        (status.kind.as_str(), status.state.as_str()),
        ("postback", "DELIVERED")
    );
    let body: Value = serde_json::from_str(&only_request(&receiver).body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"results": {"job_id": job.id, "error": error.message}})
    );
    app.shutdown().await;
}

on_both_backends!(failed_postback, super::failed_jobs_post_the_error);
