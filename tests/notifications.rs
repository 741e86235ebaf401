//! Webhooks and email on terminal states, against a real receiver and a real SMTP sink.

mod common;

use common::peers::{SmtpSink, WebhookPeer, verify_signature};
use common::{AppOptions, Backend, TestApp, clip_5s, order, output, spawn_app_with};
use transcoder::proto as pb;

const PRESET: &str = "System preset: Generic 360p";

async fn app(smtp: Option<String>) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(move |s| {
            s.egress.allow = vec!["127.0.0.1".into()];
            s.webhooks.retry_schedule_seconds = vec![0.05, 0.05, 0.05];
            s.webhooks.poll_interval_ms = 50;
            s.smtp.url = smtp;
            s.smtp.from = "transcoder@example.com".into();
        }),
    )
    .await
}

async fn rotate_secret(app: &TestApp) -> String {
    app.client
        .clone()
        .rotate_webhook_secret(pb::RotateWebhookSecretRequest {
            company_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .secret
}

fn with_notification(target: pb::notification::Target) -> pb::Order {
    let mut o = order(&clip_5s(), vec![output("out.mp4", PRESET)]);
    o.notifications = vec![pb::Notification {
        target: Some(target),
    }];
    o
}

/// Polls the job until its first notification satisfies `done`. Deliveries happen after
/// the job ends, so there is no event to wait on.
async fn notification_when(
    app: &TestApp,
    job_id: &str,
    done: impl Fn(&pb::NotificationStatus) -> bool,
) -> pb::NotificationStatus {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let job = app.get(job_id).await;
        if let Some(n) = job.notifications.first().filter(|n| done(n)) {
            return n.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "notification never got there: {job:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn settled_notification(app: &TestApp, job_id: &str) -> pb::NotificationStatus {
    notification_when(app, job_id, |n| n.state != "PENDING").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_and_retried_until_accepted() {
    let receiver = WebhookPeer::start(vec![500, 500, 204]).await;
    let app = app(None).await;
    let secret = rotate_secret(&app).await;
    assert!(secret.starts_with("whsec_"));
    // Another company's secret is its own: rotating it changes nothing for acme.
    let theirs = app
        .client_of("globex")
        .await
        .rotate_webhook_secret(pb::RotateWebhookSecretRequest::default())
        .await
        .unwrap()
        .into_inner()
        .secret;
    assert_ne!(theirs, secret);
    let job = app
        .submit(with_notification(pb::notification::Target::WebhookUrl(
            receiver.url(),
        )))
        .await
        .unwrap();
    assert_eq!(
        app.finish(&job.id).await.state,
        pb::JobState::Succeeded as i32
    );

    let status = settled_notification(&app, &job.id).await;
    assert_eq!(status.state, "DELIVERED");
    assert_eq!(status.kind, "webhook");
    let codes: Vec<u32> = status.attempts.iter().map(|a| a.status).collect();
    assert_eq!(codes, vec![500, 500, 204]);

    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert!(
            verify_signature(&secret, request),
            "signature verifies: {:?}",
            request.headers
        );
        assert!(!verify_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            request
        ));
        assert!(!verify_signature(&theirs, request), "not globex's secret");
    }
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "retries keep the message id"
    );
    let body: serde_json::Value = serde_json::from_str(&received[2].body).unwrap();
    assert_eq!(body["type"], "job.succeeded");
    assert_eq!(body["data"]["job_id"], job.id.as_str());
    assert!(
        body["data"]["outputs"][0]["urls"][0]
            .as_str()
            .unwrap()
            .starts_with("file://")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_stops_retries() {
    let receiver = WebhookPeer::start(vec![410]).await;
    let app = app(None).await;
    let job = app
        .submit(with_notification(pb::notification::Target::WebhookUrl(
            receiver.url(),
        )))
        .await
        .unwrap();
    app.finish(&job.id).await;
    let status = settled_notification(&app, &job.id).await;
    assert_eq!(status.state, "FAILED");
    assert_eq!(status.attempts.len(), 1);
    assert_eq!(status.attempts[0].status, 410);
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_says_what_finished() {
    let (sink, url) = SmtpSink::start();
    let app = app(Some(url)).await;
    let job = app
        .submit(with_notification(pb::notification::Target::Email(
            "ops@example.com".into(),
        )))
        .await
        .unwrap();
    let done = app.finish(&job.id).await;
    let status = settled_notification(&app, &job.id).await;
    assert_eq!(status.state, "DELIVERED", "{status:?}");
    let messages = sink.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    // The body is quoted-printable: undo its soft line breaks before reading it.
    let mail = &messages[0].replace("=\r\n", "").replace("=\n", "");
    assert!(
        mail.contains(&format!("Subject: Transcoding job {} succeeded", job.id)),
        "{mail}"
    );
    assert!(mail.contains("ops@example.com"));
    assert!(
        mail.contains(&done.outputs[0].urls[0]),
        "the mail lists the output URL: {mail}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_without_smtp_is_skipped_not_failed() {
    let app = app(None).await;
    let job = app
        .submit(with_notification(pb::notification::Target::Email(
            "ops@example.com".into(),
        )))
        .await
        .unwrap();
    app.finish(&job.id).await;
    let status = settled_notification(&app, &job.id).await;
    assert_eq!(status.state, "SKIPPED");
    assert!(status.attempts[0].error.contains("SMTP"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_retries_survive_a_restart() {
    let receiver = WebhookPeer::start(vec![503, 200]).await;
    let mut app = spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(|s| {
            s.egress.allow = vec!["127.0.0.1".into()];
            // Long enough that the retry cannot happen before the restart below.
            s.webhooks.retry_schedule_seconds = vec![3.0];
            s.webhooks.poll_interval_ms = 50;
        }),
    )
    .await;
    let job = app
        .submit(with_notification(pb::notification::Target::WebhookUrl(
            receiver.url(),
        )))
        .await
        .unwrap();
    app.finish(&job.id).await;
    // Once the first attempt is recorded, restart.
    notification_when(&app, &job.id, |n| !n.attempts.is_empty()).await;
    app.restart().await;
    let restarted_at = std::time::SystemTime::now();

    let status = settled_notification(&app, &job.id).await;
    assert_eq!(status.state, "DELIVERED");
    let codes: Vec<u32> = status.attempts.iter().map(|a| a.status).collect();
    assert_eq!(codes, vec![503, 200]);
    let second = status.attempts[1].time.unwrap();
    let second = std::time::UNIX_EPOCH
        + std::time::Duration::new(second.seconds as u64, second.nanos as u32);
    assert!(
        second > restarted_at,
        "the retry was made by the restarted process"
    );
    app.shutdown().await;
}
