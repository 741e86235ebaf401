//! The order dialect over real HTTP: every body encoding, with and without the trailing
//! slash, the seed's own curl line, the status URL, profiles, and every error's status
//! and body.

mod common;

use common::{AppOptions, Backend, COMPANY, TestApp, clip_5s, file_uri, make_company};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use std::time::Duration;

fn base(app: &TestApp) -> String {
    format!("http://{}", app.app().http_addr)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The seed's order, its placeholders filled in: numbers as strings, the template's empty
/// email, a destination as a plain string, `profile_id` and `transcoding_profile`.
fn seed_order(app: &TestApp) -> Value {
    let out = app.data_dir.path().join("rest-out");
    std::fs::create_dir_all(&out).unwrap();
    json!({
        "priority": "5",
        "origin": file_uri(&clip_5s()),
        "notifications": [{"email": ""}],
        "destinations": [url::Url::from_directory_path(&out).unwrap().to_string()],
        "jobs": [
            {"label": "hd", "filename": "seed-hd.mp4", "profile_id": "2"},
            {"label": "mobile", "filename": "seed-mobile.mp4", "transcoding_profile": 5}
        ],
        "thumbnails": [{"filename": "thumb.jpg", "label": "poster", "width": "720", "height": "480", "time": 0.3}]
    })
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
    answer(
        http()
            .post(format!("{}{path}", base(app)))
            .bearer_auth(&app.token)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(app: &TestApp, path: &str, token: &str) -> Answer {
    answer(
        http()
            .get(format!("{}{path}", base(app)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn multipart(field: &str, value: &str) -> (String, Vec<u8>) {
    let boundary = "transcoder-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// Sends only the headers of a 10 MiB JSON POST and reads the answer.
async fn announce_huge_body(app: &TestApp) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.app().http_addr)
        .await
        .unwrap();
    let head = format!(
        "POST /acme/transcode HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.token,
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

fn fields(a: &Answer) -> Vec<String> {
    a.body["error"]["fields"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encoding_and_both_paths_are_accepted() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let order = seed_order(&app).to_string();
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("order", &order)
        .finish();
    let (multipart_type, multipart_body) = multipart("order", &order);
    let encodings: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "form field",
            "application/x-www-form-urlencoded".into(),
            form.into_bytes(),
        ),
        ("multipart", multipart_type, multipart_body),
        (
            "raw JSON under urlencoded",
            "application/x-www-form-urlencoded".into(),
            order.clone().into_bytes(),
        ),
        (
            "JSON",
            "application/json; charset=utf-8".into(),
            order.clone().into_bytes(),
        ),
    ];
    let mut ids = Vec::new();
    for (name, content_type, body) in encodings {
        for path in ["/acme/transcode", "/acme/transcode/"] {
            let a = post(&app, path, &content_type, body.clone()).await;
            assert_eq!(a.status, 201, "{name} at {path}: {}", a.body);
            let location = a.headers[LOCATION].to_str().unwrap().to_owned();
            let id = a.body["id"].as_str().unwrap().to_owned();
            assert_eq!(location, format!("/acme/transcode/{id}"));
            assert_eq!(a.body["status"], "queued");
            assert!(
                a.body["status_url"].as_str().unwrap().ends_with(&location),
                "{}",
                a.body
            );
            assert_eq!(a.body["outputs"][0]["profile_id"], 2);
            assert_eq!(a.body["outputs"][1]["profile_id"], 5);
            assert_eq!(
                a.body["outputs"][1]["profile"],
                "System preset: Web and mobile 360p (H.264 Baseline)"
            );
            // The status URL answers with the same job.
            let again = get(&app, &location, &app.token).await;
            assert_eq!(again.status, 200);
            assert_eq!(again.body["id"], id.as_str());
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "one job per request");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_curl_line_works() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let jdata = seed_order(&app).to_string();
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(["-H", "Content-type: application/x-www-form-urlencoded"])
        .args(["-H", &format!("Authorization: Bearer {}", app.token)])
        .args(["-d", &jdata])
        .arg(format!("{}/{COMPANY}/transcode/", base(&app)))
        .output()
        .await
        .expect("curl runs");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "201", "{body}");
    let job: Value = serde_json::from_str(body).unwrap();
    assert_eq!(job["status"], "queued");
    // curl -F sends multipart/form-data.
    let output = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .args(["-H", &format!("Authorization: Bearer {}", app.token)])
        .args(["-F", &format!("order={jdata}")])
        .arg(format!("{}/{COMPANY}/transcode", base(&app)))
        .output()
        .await
        .expect("curl runs");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "201");
    app.shutdown().await;
}

async fn a_rest_order_runs_to_the_end(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let a = post(
        &app,
        "/acme/transcode",
        "application/json",
        seed_order(&app).to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    app.finish(&id).await;
    let done = get(&app, &format!("/acme/transcode/{id}"), &app.token).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    assert_eq!(done.body["progress"], 100.0);
    for output in done.body["outputs"].as_array().unwrap() {
        assert_eq!(output["status"], "succeeded");
        let url = output["urls"][0].as_str().unwrap();
        assert!(
            url.starts_with("file://") && url.contains("rest-out"),
            "{url}"
        );
        let seconds = output["metadata"]["duration_seconds"].as_f64().unwrap();
        assert!((seconds - 5.0).abs() < 0.2, "{seconds}");
        assert!(output["metadata"]["size_bytes"].as_u64().unwrap() > 0);
    }
    // The thumbnail: 720x480 asked, the source's shape kept by the shared fit rule, never
    // larger than the source.
    let source = transcoder::media::probe::probe_file(&clip_5s(), 30)
        .unwrap()
        .video
        .unwrap();
    let (width, height) =
        transcoder::media::sizing::fit_dimensions(source.width, source.height, 720, 480, false);
    let thumbnails = done.body["thumbnails"].as_array().unwrap();
    assert_eq!(thumbnails.len(), 1, "{}", done.body);
    let thumb = &thumbnails[0];
    assert_eq!(thumb["label"], "poster");
    assert_eq!(thumb["filename"], "thumb.jpg");
    assert_eq!(thumb["status"], "succeeded", "{thumb}");
    assert_eq!(
        (thumb["width"].as_u64(), thumb["height"].as_u64()),
        (Some(width.into()), Some(height.into()))
    );
    let url = thumb["urls"][0].as_str().unwrap();
    assert!(
        url.starts_with("file://") && url.ends_with("rest-out/thumb.jpg"),
        "{url}"
    );
    let image = std::fs::read(url::Url::parse(url).unwrap().to_file_path().unwrap()).unwrap();
    assert!(image.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
    // Billed per output minute, rounded up, money as decimal strings.
    let billing = &done.body["billing"];
    assert_eq!(billing["currency"], "USD");
    assert_eq!(billing["price_per_minute"], "0.0389");
    assert_eq!(billing["billable_minutes"], 2);
    assert_eq!(billing["total"], "0.0778");
    assert_eq!(billing["outputs"][0]["cost"], "0.0389");

    // Usage over a period that holds the job, one after it, and a bad date.
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let usage = get(
        &app,
        &format!("/acme/usage?from={today}&to={tomorrow}"),
        &app.token,
    )
    .await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    assert_eq!(usage.body["billable_minutes"], 2);
    assert_eq!(usage.body["total"], "0.0778");
    assert_eq!(usage.body["outputs"][0]["job_id"], id.as_str());
    let later = get(&app, &format!("/acme/usage?from={tomorrow}"), &app.token).await;
    assert_eq!(later.body["billable_minutes"], 0);
    assert_eq!(later.body["total"], "0");
    let bad = get(&app, "/acme/usage?from=last-tuesday", &app.token).await;
    assert_eq!(bad.status, 400);
    assert_eq!(fields(&bad), vec!["from"]);
    let globex = make_company(app.app(), "globex", false).await;
    assert_eq!(get(&app, "/acme/usage", &globex).await.status, 403);
    let theirs = get(&app, "/globex/usage", &globex).await;
    assert_eq!(theirs.body["billable_minutes"], 0, "usage is per company");
    app.shutdown().await;
}
on_both_backends!(rest_order_succeeds, super::a_rest_order_runs_to_the_end);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_their_status_and_body() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let json_post = |body: &str| {
        post(
            &app,
            "/acme/transcode",
            "application/json",
            body.as_bytes().to_vec(),
        )
    };

    let broken = json_post("{\"origin\": \"x\",\n \"jobs\": [,]}").await;
    assert_eq!(broken.status, 400);
    assert_eq!(fields(&broken), vec!["order"]);
    let said = broken.body["error"]["fields"][0]["description"]
        .as_str()
        .unwrap();
    assert!(said.contains("line 2") && said.contains("column"), "{said}");

    let wrong_type =
        json_post(r#"{"jobs": [{"filename": "a.mp4", "profile_id": {"id": 2}}]}"#).await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(fields(&wrong_type), vec!["jobs[0].profile_id"]);

    let invalid = json_post(
        r#"{"origin": "", "priority": 11,
            "notifications": [{"email": ""}, {"email": "not-an-address"}],
            "destinations": ["", "ftp://x/"],
            "jobs": [{"filename": "../a.mp4", "profile_id": 424242},
                     {"filename": "b.mp4", "profile_id": "no such preset"}],
            "thumbnails": [{"filename": "t.jpg", "width": "720", "height": "480", "time": 0.3}]}"#,
    )
    .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(
        fields(&invalid),
        vec![
            "priority",
            "origin",
            "notifications[1].email",
            "destinations[1]",
            "jobs[0].filename",
            "jobs[0].profile_id",
            "jobs[1].profile_id",
        ]
    );

    // A 10 MiB body is refused from its Content-Length: the answer comes before a byte of
    // the body is sent (a client that kept writing would see the connection close).
    let too_big = announce_huge_body(&app).await;
    assert!(too_big.starts_with("HTTP/1.1 413"), "{too_big}");
    assert!(too_big.contains("LIMIT_EXCEEDED"), "{too_big}");

    let text = post(&app, "/acme/transcode", "text/plain", b"order=1".to_vec()).await;
    assert_eq!(text.status, 415);
    assert_eq!(text.body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");

    let form_without_order = post(
        &app,
        "/acme/transcode",
        "application/x-www-form-urlencoded",
        b"other=1".to_vec(),
    )
    .await;
    assert_eq!(form_without_order.status, 400);
    assert_eq!(fields(&form_without_order), vec!["order"]);

    let anonymous = answer(
        http()
            .post(format!("{}/acme/transcode", base(&app)))
            .json(&seed_order(&app))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    assert_eq!(anonymous.body["error"]["code"], "UNAUTHENTICATED");

    let globex = make_company(app.app(), "globex", false).await;
    let theirs = answer(
        http()
            .post(format!("{}/acme/transcode", base(&app)))
            .bearer_auth(&globex)
            .json(&seed_order(&app))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs.status, 403);
    assert_eq!(theirs.body["error"]["code"], "PERMISSION_DENIED");

    let mine = json_post(&seed_order(&app).to_string()).await;
    let location = mine.headers[LOCATION].to_str().unwrap().to_owned();
    let hidden = get(&app, &location.replace("/acme/", "/globex/"), &globex).await;
    assert_eq!(hidden.status, 404, "another company's job looks missing");
    let missing = get(
        &app,
        &format!("/acme/transcode/{}", uuid::Uuid::now_v7()),
        &app.token,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "NOT_FOUND");

    let priority = json_post(&{
        let mut o = seed_order(&app);
        o["priority"] = json!(9);
        o.to_string()
    })
    .await;
    assert_eq!(priority.status, 403);
    assert_eq!(fields(&priority), vec!["priority"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after() {
    let app = common::spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            paused: true,
            configure: Some(Box::new(|s| {
                s.limits.submit_rate_per_second = 0.5;
                s.limits.submit_burst = 1;
            })),
            ..AppOptions::default()
        },
    )
    .await;
    let body = seed_order(&app).to_string().into_bytes();
    assert_eq!(
        post(&app, "/acme/transcode", "application/json", body.clone())
            .await
            .status,
        201
    );
    let limited = post(&app, "/acme/transcode", "application/json", body).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["error"]["code"], "RATE_LIMITED");
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_listed_with_and_without_the_slash() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let own = app
        .client
        .clone()
        .create_profile(transcoder::proto::CreateProfileRequest {
            company_id: String::new(),
            profile: Some(common::h264_profile("Acme REST", 320, 180)),
        })
        .await
        .unwrap()
        .into_inner();
    for path in ["/acme/transcoding_profiles", "/acme/transcoding_profiles/"] {
        let a = get(&app, path, &app.token).await;
        assert_eq!(a.status, 200);
        let profiles = a.body["profiles"].as_array().unwrap();
        let p720 = profiles.iter().find(|p| p["id"] == 2).unwrap();
        assert_eq!(p720["description"], "System preset: Generic 720p");
        assert_eq!(p720["system"], true);
        assert_eq!(p720["video"]["height"], 720);
        let mine = profiles.iter().find(|p| p["id"] == own.id).unwrap();
        assert_eq!(mine["system"], false);
        assert_eq!(mine["description"], "Acme REST");
    }
    let globex = make_company(app.app(), "globex", false).await;
    assert_eq!(
        get(&app, "/acme/transcoding_profiles/", &globex)
            .await
            .status,
        403
    );
    let theirs = get(&app, "/globex/transcoding_profiles/", &globex).await;
    assert!(
        theirs.body["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != own.id)
    );

    // The OpenAPI description is open and names the routes.
    let doc = answer(
        http()
            .get(format!("{}/openapi.json", base(&app)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/{company_id}/transcode",
        "/{company_id}/transcode/{job_id}",
        "/job",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc.body["components"]["schemas"]["OrderBody"].is_object());
    app.shutdown().await;
}
