//! SubmitJob's idempotency key: within the window the same key and order give the first
//! job and another order is ALREADY_EXISTS (gRPC and REST 409); past the window the key
//! is free; racing submissions give one job; rows stored before fingerprints count as
//! the same order.

mod common;

use common::{AppOptions, Backend, COMPANY, TestApp, bad_fields, media_dir, order, output};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::time::Duration;
use tonic::Code;
use transcoder::proto as pb;

/// Every gRPC call of these tests is answered well within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

async fn paused_app(backend: Backend, window_seconds: u64) -> TestApp {
    common::spawn_app_with(
        backend,
        AppOptions {
            paused: true,
            ..AppOptions::configured(move |s| s.limits.idempotency_window_seconds = window_seconds)
        },
    )
    .await
}

/// One output written as `filename`: orders differing only in it are different orders.
fn order_writing(filename: &str) -> pb::Order {
    order(
        &media_dir().join("source.mp4"),
        vec![output(filename, "System preset: Generic 360p")],
    )
}

async fn submit_keyed(
    app: &TestApp,
    order: pb::Order,
    key: &str,
) -> Result<pb::Job, tonic::Status> {
    let mut client = app.client.clone();
    let call = client.submit_job(pb::SubmitJobRequest {
        company_id: COMPANY.into(),
        order: Some(order),
        idempotency_key: key.into(),
    });
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .expect("SubmitJob answered in time")
        .map(|r| r.into_inner())
}

/// The ids of every job of [`COMPANY`], newest first.
async fn listed_ids(app: &TestApp) -> Vec<String> {
    let mut client = app.client.clone();
    let call = client.list_jobs(pb::ListJobsRequest {
        company_id: COMPANY.into(),
        page_size: 100,
        page_token: String::new(),
        state: 0,
    });
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .expect("ListJobs answered in time")
        .unwrap()
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| j.id)
        .collect()
}

async fn same_key_and_order_give_the_first_job(backend: Backend) {
    let app = paused_app(backend, 86_400).await;
    let first = submit_keyed(&app, order_writing("a.mp4"), "order-1")
        .await
        .unwrap();
    let again = submit_keyed(&app, order_writing("a.mp4"), "order-1")
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    // Surrounding whitespace is not part of the key.
    let padded = submit_keyed(&app, order_writing("a.mp4"), "  order-1 ")
        .await
        .unwrap();
    assert_eq!(padded.id, first.id);
    assert_eq!(listed_ids(&app).await, vec![first.id]);
    app.shutdown().await;
}
on_both_backends!(
    same_key_same_order,
    super::same_key_and_order_give_the_first_job
);

async fn same_key_with_another_order_is_refused(backend: Backend) {
    let app = paused_app(backend, 86_400).await;
    let first = submit_keyed(&app, order_writing("a.mp4"), "order-2")
        .await
        .unwrap();
    let refused = submit_keyed(&app, order_writing("b.mp4"), "order-2")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    assert!(
        refused.message().contains("order-2"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains(&first.id),
        "{}",
        refused.message()
    );
    assert_eq!(bad_fields(&refused), ["idempotency_key"]);
    // The refusal changed nothing: the first order still gets its job, and a new key
    // takes the other order.
    let again = submit_keyed(&app, order_writing("a.mp4"), "order-2")
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    let other = submit_keyed(&app, order_writing("b.mp4"), "order-3")
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(listed_ids(&app).await, vec![other.id, first.id]);
    app.shutdown().await;
}
on_both_backends!(
    same_key_other_order,
    super::same_key_with_another_order_is_refused
);

/// With a window of 0 every key has already outlived it: each submission is a new job,
/// whatever its order, and the earlier jobs stay.
async fn a_key_past_its_window_is_free(backend: Backend) {
    let app = paused_app(backend, 0).await;
    let first = submit_keyed(&app, order_writing("a.mp4"), "order-4")
        .await
        .unwrap();
    let second = submit_keyed(&app, order_writing("a.mp4"), "order-4")
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    let third = submit_keyed(&app, order_writing("b.mp4"), "order-4")
        .await
        .unwrap();
    assert_ne!(third.id, second.id);
    assert_eq!(
        listed_ids(&app).await,
        vec![third.id.clone(), second.id.clone(), first.id.clone()]
    );
    for id in [&first.id, &second.id, &third.id] {
        assert_eq!(&app.get(id).await.id, id);
    }
    app.shutdown().await;
}
on_both_backends!(window_passed, super::a_key_past_its_window_is_free);

/// Submissions racing with one key: identical orders give one job; of two different
/// orders exactly one is stored and the other refused.
async fn racing_submissions_give_one_job(backend: Backend) {
    let app = paused_app(backend, 86_400).await;
    let (a, b) = tokio::join!(
        submit_keyed(&app, order_writing("a.mp4"), "race-same"),
        submit_keyed(&app, order_writing("a.mp4"), "race-same"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(listed_ids(&app).await, vec![a.id.clone()]);

    let (x, y) = tokio::join!(
        submit_keyed(&app, order_writing("x.mp4"), "race-other"),
        submit_keyed(&app, order_writing("y.mp4"), "race-other"),
    );
    let (stored, refused) = match (x, y) {
        (Ok(job), Err(status)) | (Err(status), Ok(job)) => (job, status),
        (x, y) => panic!("expected one job and one refusal, got {x:?} and {y:?}"),
    };
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    assert!(
        refused.message().contains(&stored.id),
        "{}",
        refused.message()
    );
    assert_eq!(listed_ids(&app).await, vec![stored.id, a.id]);
    app.shutdown().await;
}
on_both_backends!(racing, super::racing_submissions_give_one_job);

/// A job stored before orders had fingerprints holds its key for any order.
async fn rows_without_a_fingerprint_count_as_the_same_order(backend: Backend) {
    let app = paused_app(backend, 86_400).await;
    let first = submit_keyed(&app, order_writing("a.mp4"), "legacy")
        .await
        .unwrap();
    let db = Database::connect(app.settings().database_url())
        .await
        .unwrap();
    let cleared = db
        .execute_unprepared("UPDATE jobs SET idempotency_fingerprint = NULL")
        .await
        .unwrap();
    assert_eq!(cleared.rows_affected(), 1);
    db.close().await.unwrap();
    let again = submit_keyed(&app, order_writing("b.mp4"), "legacy")
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(listed_ids(&app).await, vec![first.id]);
    app.shutdown().await;
}
on_both_backends!(
    legacy_rows,
    super::rows_without_a_fingerprint_count_as_the_same_order
);

async fn post_keyed(app: &TestApp, order: &Value, key: &str) -> (u16, Value) {
    let response = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .unwrap()
        .post(format!(
            "http://{}/{COMPANY}/transcode",
            app.app().http_addr
        ))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", key)
        .json(order)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The order dialect takes the key as an `Idempotency-Key` header.
async fn rest_answers_409_for_another_order(backend: Backend) {
    let app = paused_app(backend, 86_400).await;
    let rest_order = |filename: &str| {
        json!({
            "origin": common::file_uri(&media_dir().join("source.mp4")),
            "jobs": [{"filename": filename, "profile_id": "2"}],
        })
    };
    let (status, first) = post_keyed(&app, &rest_order("a.mp4"), "rest-1").await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = post_keyed(&app, &rest_order("a.mp4"), "rest-1").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (status, refused) = post_keyed(&app, &rest_order("b.mp4"), "rest-1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ALREADY_EXISTS");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("rest-1"), "{message}");
    assert!(message.contains(first["id"].as_str().unwrap()), "{message}");
    assert_eq!(refused["error"]["fields"][0]["field"], "idempotency_key");
    assert_eq!(listed_ids(&app).await.len(), 1);
    app.shutdown().await;
}
on_both_backends!(rest_conflict, super::rest_answers_409_for_another_order);
