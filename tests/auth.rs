//! Companies and API tokens on the real servers: revocation, disabled and deleted
//! companies, the priority entitlement, secrets at rest and the rate limit. (The auth
//! matrix and isolation are in `auth_matrix.rs`.)

mod common;

use common::{AppOptions, Backend, COMPANY, TestApp, clip_5s, make_company, order, output};
use std::time::{Duration, Instant};
use tonic::Code;
use transcoder::proto as pb;

/// Polls until `client` is refused, for at most 5 s (the revocation promise).
async fn refused_within_5s(client: &mut common::Client) -> Duration {
    let started = Instant::now();
    loop {
        match client.list_jobs(pb::ListJobsRequest::default()).await {
            Err(status) if status.code() == Code::Unauthenticated => return started.elapsed(),
            Err(status) => panic!("unexpected {status:?}"),
            Ok(_) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepted 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn revocation_disabling_and_deletion(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let admin = app.app().admin.clone();
    // A second API replica on the same database, as another pod would be.
    let sibling = app.start_sibling(transcoder::config::Role::Api).await;
    let (token, secret) = admin.create_token(COMPANY, Some("ci")).await.unwrap();
    let mut here = common::connect(app.app(), &secret).await;
    let mut there = common::connect(&sibling, &secret).await;
    here.list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap();
    there
        .list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap();
    let listed = admin.tokens(COMPANY).await.unwrap();
    let used = listed.iter().find(|t| t.id == token.id).unwrap();
    assert!(used.last_used_at.is_some(), "last use recorded");
    assert_eq!(used.name, "ci");

    admin.revoke_token(&token.id).await.unwrap();
    refused_within_5s(&mut here).await;
    refused_within_5s(&mut there).await;
    let again = admin.revoke_token(&token.id).await.unwrap_err();
    assert_eq!(again.code, transcoder::error::ErrorCode::FailedPrecondition);
    assert!(
        admin.revoke_token("tok_nope").await.unwrap_err().code
            == transcoder::error::ErrorCode::NotFound
    );

    // Disabling a company stops its tokens; enabling it brings them back.
    let mut acme = app.client.clone();
    acme.list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap();
    let disable = |disabled| transcoder::admin::CompanyChanges {
        disabled: Some(disabled),
        ..Default::default()
    };
    admin.update_company(COMPANY, disable(true)).await.unwrap();
    refused_within_5s(&mut acme).await;
    admin.update_company(COMPANY, disable(false)).await.unwrap();
    let started = Instant::now();
    while acme
        .list_jobs(pb::ListJobsRequest::default())
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not back after enabling"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A deleted company's tokens stop, and its slug is not given out again.
    admin.delete_company(COMPANY).await.unwrap();
    refused_within_5s(&mut acme).await;
    let reuse = admin
        .create_company(transcoder::admin::NewCompany {
            slug: COMPANY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code, transcoder::error::ErrorCode::AlreadyExists);
    let unknown = admin
        .create_token("no-such-company", None)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, transcoder::error::ErrorCode::NotFound);
    sibling.shutdown().await;
    app.shutdown().await;
}
on_both_backends!(
    revoked_disabled_and_deleted_stop_working,
    super::revocation_disabling_and_deletion
);

async fn priority_needs_the_entitlement(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let urgent = |priority| {
        let mut o = order(
            &clip_5s(),
            vec![output("u.mp4", "System preset: Generic 360p")],
        );
        o.priority = Some(priority);
        o
    };
    let status = app.submit(urgent(8)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("priority-transcoding"),
        "{}",
        status.message()
    );
    use tonic_types::StatusExt;
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, vec!["order.priority"]);
    assert_eq!(app.submit(urgent(5)).await.unwrap().priority, 5);
    assert_eq!(
        app.submit(urgent(11)).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    let vip_token = make_company(app.app(), "vip", true).await;
    let vip = common::connect(app.app(), &vip_token).await;
    let job = vip
        .clone()
        .submit_job(pb::SubmitJobRequest {
            company_id: "vip".into(),
            order: Some(urgent(10)),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.priority, 10);
    assert_eq!(job.company_id, "vip");
    app.shutdown().await;
}
on_both_backends!(priority_entitlement, super::priority_needs_the_entitlement);

/// Every stored row, as text, for the secrets-at-rest check.
async fn database_text(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Database, Statement};
    match app.backend {
        Backend::Sqlite => {
            let mut text = String::new();
            for suffix in ["", "-wal"] {
                let path = app.data_dir.path().join(format!("transcoder.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&path) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            assert!(text.contains("api_tokens"), "the database file was read");
            text
        }
        Backend::Postgres => {
            let url = app.settings().database.url.clone().unwrap();
            let db = Database::connect(url).await.unwrap();
            let backend = db.get_database_backend();
            let tables = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                ))
                .await
                .unwrap();
            let mut text = String::new();
            for table in tables {
                let name: String = table.try_get("", "table_name").unwrap();
                let rows = db
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!("SELECT CAST(t AS TEXT) AS row FROM \"{name}\" t"),
                    ))
                    .await
                    .unwrap();
                for row in rows {
                    let row: String = row.try_get("", "row").unwrap();
                    text.push_str(&row);
                    text.push('\n');
                }
            }
            assert!(text.contains("globex"), "the rows were read");
            text
        }
    }
}

async fn secrets_are_stored_hashed(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let admin = &app.app().admin;
    let (_, application_id) = admin
        .create_company(transcoder::admin::NewCompany {
            slug: "globex".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, token) = admin.create_token("globex", None).await.unwrap();
    let rotated = admin.rotate_application_id("globex").await.unwrap();
    // Used once, so the token's row has been read and written since.
    common::connect(app.app(), &token)
        .await
        .list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap();
    let stored = database_text(&app).await;
    for secret in [&token, &app.token, &application_id, &rotated] {
        assert!(
            !stored.contains(secret.as_str()),
            "{secret} is stored in plain text"
        );
        let tail = &secret[secret.len() - 20..];
        assert!(!stored.contains(tail), "part of {secret} is stored");
    }
    assert!(stored.contains(&transcoder::auth::secrets::hash_secret(&token)));
    // The application id identifies its company; the rotated-away one no longer does.
    assert_eq!(
        admin
            .company_by_application_id(&rotated)
            .await
            .unwrap()
            .id
            .as_str(),
        "globex"
    );
    assert!(
        admin
            .company_by_application_id(&application_id)
            .await
            .is_err()
    );
    app.shutdown().await;
}
on_both_backends!(
    no_plaintext_secrets_at_rest,
    super::secrets_are_stored_hashed
);

async fn submissions_are_rate_limited(backend: Backend) {
    let app = common::spawn_app_with(
        backend,
        AppOptions {
            paused: true,
            configure: Some(Box::new(|s| {
                s.limits.submit_rate_per_second = 1.0;
                s.limits.submit_burst = 2;
            })),
            ..AppOptions::default()
        },
    )
    .await;
    let one = || {
        order(
            &clip_5s(),
            vec![output("r.mp4", "System preset: Generic 360p")],
        )
    };
    app.submit(one()).await.unwrap();
    app.submit(one()).await.unwrap();
    let limited = app.submit(one()).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    let retry_after: u64 = limited
        .metadata()
        .get("retry-after")
        .expect("retry-after")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    use tonic_types::StatusExt;
    let delay = limited
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(delay <= Duration::from_secs(retry_after));
    // Other operations are not limited; the bucket refills at the advertised time.
    app.client
        .clone()
        .list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    app.submit(one()).await.expect("accepted after retry-after");

    // A company's own limit replaces the default (0: none).
    let globex_token = make_company(app.app(), "globex", false).await;
    app.app()
        .admin
        .update_company(
            "globex",
            transcoder::admin::CompanyChanges {
                rate_limit: Some(Some(transcoder::domain::RateLimit {
                    per_second: 0.0,
                    burst: 1,
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let globex = common::connect(app.app(), &globex_token).await;
    for _ in 0..10 {
        globex
            .clone()
            .submit_job(pb::SubmitJobRequest {
                company_id: String::new(),
                order: Some(one()),
                idempotency_key: String::new(),
            })
            .await
            .expect("no limit for globex");
    }
    app.shutdown().await;
}
on_both_backends!(
    rate_limit_answers_with_retry_after,
    super::submissions_are_rate_limited
);
