//! The preset dialect over real HTTP: `POST /job` authenticated by application id (or a
//! token), an S3 destination at the exact key, and the postback caught by a receiver,
//! its `meta` compared key by key with exiftool run on the stored object.

mod common;

use common::peers::{S3Peer, WebhookPeer, use_s3};
use common::{AppOptions, Backend, TestApp, clip_5s, file_uri};
use serde_json::{Value, json};
use std::time::Duration;

async fn app_with_s3(peer: &S3Peer) -> TestApp {
    let endpoint = peer.endpoint();
    common::spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(move |s| {
            use_s3(s, &endpoint);
            // The postback receiver listens on loopback.
            s.egress.allow = vec!["127.0.0.1".into()];
        }),
    )
    .await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post_job(app: &TestApp, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut request = http()
        .post(format!("http://{}/job", app.app().http_addr))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The seed's job, its placeholders filled in.
fn seed_job(application_id: &str, postback: &str, key: &str) -> Value {
    json!({
        "application_id": application_id,
        "src": file_uri(&clip_5s()),
        "src_type": "pre_process_only",
        "v": 1,
        "postback_url": postback,
        "pre_process": [{
            "trancode": {
                "preset_id": "System preset generic 720p",
                "video_identifier": "vid-42",
                "s3_destination": {"bucket": "media", "key": key}
            }
        }]
    })
}

/// Waits (at most 30 s) for the receiver to have `n` requests.
async fn received(peer: &WebhookPeer, n: usize) -> Vec<common::peers::Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = peer.received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "no postback came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_job_lands_at_its_key_and_posts_exiftool_meta_back() {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    let receiver = WebhookPeer::start(vec![200]).await;
    let app = app_with_s3(&s3).await;
    let application_id = app.app().admin.rotate_application_id("acme").await.unwrap();
    let key = "videos/2026/vid-42.mp4";

    let (status, body) =
        post_job(&app, &seed_job(&application_id, &receiver.url(), key), None).await;
    assert_eq!(status, 200, "{body}");
    let job_id = body["results"]["job_id"].as_str().unwrap().to_owned();
    let done = app.finish(&job_id).await;
    assert_eq!(
        done.state,
        transcoder::proto::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );

    let posts = received(&receiver, 1).await;
    let postback: Value = serde_json::from_str(&posts[0].body).unwrap();
    let results = &postback["results"];
    assert_eq!(results["job_id"], job_id.as_str());
    let video = &results["video"];
    assert_eq!(video["video_identifier"], "vid-42");
    assert_eq!(
        video["s3_url"],
        format!("{}/media/{key}", s3.endpoint().trim_end_matches('/'))
    );
    let meta = video["meta"].as_object().unwrap();
    common::peers::assert_meta_is_exiftools(&s3, "media", key, meta).await;
    // Generic 720p keeps the 640x360 source at its size (no upscaling).
    assert_eq!(meta["ImageSize"], "640x360");
    assert!(posts[0].headers.contains_key("webhook-signature"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preset_jobs_authenticate_and_fail_clearly() {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    let receiver = WebhookPeer::start(vec![200]).await;
    let app = common::spawn_paused(Backend::Sqlite).await;
    let application_id = app.app().admin.rotate_application_id("acme").await.unwrap();
    let job = seed_job(&application_id, &receiver.url(), "out/a.mp4");

    // The JSON may also come in a form field `json`.
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("json", &job.to_string())
        .finish();
    let response = http()
        .post(format!("http://{}/job", app.app().http_addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A Bearer token works in place of the application id.
    let mut tokened = job.clone();
    tokened.as_object_mut().unwrap().remove("application_id");
    let (status, body) = post_job(&app, &tokened, Some(&app.token)).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = post_job(
        &app,
        &seed_job("app_unknown", &receiver.url(), "a.mp4"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["results"]["error"]
            .as_str()
            .unwrap()
            .contains("application_id")
    );
    let (status, _) = post_job(&app, &tokened, None).await;
    assert_eq!(status, 401, "no credentials at all");

    let mut bad = job.clone();
    bad["src"] = json!("");
    bad["pre_process"][0]["trancode"]["preset_id"] = json!("System preset: no such thing");
    bad["pre_process"][0]["trancode"]["ftp_destination"] = json!({"host": "x"});
    let (status, body) = post_job(&app, &bad, None).await;
    assert_eq!(status, 400, "{body}");
    let error = body["results"]["error"].as_str().unwrap();
    assert!(
        error
            .contains("pre_process[0].transcode.ftp_destination: only s3_destination is supported"),
        "{error}"
    );

    let mut unknown_preset = job.clone();
    unknown_preset["src"] = json!("");
    unknown_preset["pre_process"][0]["trancode"]["preset_id"] =
        json!("System preset: no such thing");
    let (status, body) = post_job(&app, &unknown_preset, None).await;
    assert_eq!(status, 400, "{body}");
    let error = body["results"]["error"].as_str().unwrap();
    assert!(error.contains("src: "), "{error}");
    assert!(
        error.contains("pre_process[0].transcode.preset_id: "),
        "{error}"
    );

    let (status, body) = post_job(
        &app,
        &json!({"application_id": application_id, "src": 5, "pre_process": "x"}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["results"]["error"]
            .as_str()
            .unwrap()
            .contains("pre_process"),
        "{body}"
    );
    app.shutdown().await;
}
