//! The gRPC contract without media work: validation, listing, profiles, idempotency,
//! health and reflection.

mod common;

use common::{AppOptions, Backend, TestApp, media_dir, order, output, spawn_app_with};
use tonic::Code;
use tonic_types::StatusExt;
use transcoder::proto as pb;

async fn paused_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            paused: true,
            ..AppOptions::default()
        },
    )
    .await
}

use common::bad_fields;

async fn invalid_orders_name_every_field(backend: Backend) {
    let app = paused_app(backend).await;
    let source = media_dir().join("source.mp4");
    let mut bad = order(
        &source,
        vec![
            output("../escape.mp4", "System preset: Generic 360p"),
            output("dir/name.mp4", "System preset: Generic 360p"),
            output("same.mp4", "no such preset"),
            output("same.mp4", "System preset: Generic 720p"),
            pb::OutputSpec {
                label: "unnamed".into(),
                filename: "x.mp4".into(),
                profile: Some(pb::output_spec::Profile::ProfileId(424242)),
                reference: String::new(),
            },
        ],
    );
    bad.priority = Some(11);
    bad.destinations = vec![pb::Destination {
        uri: "file:///etc/".into(),
        ..Default::default()
    }];
    let status = app.submit(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        vec![
            "order.priority",
            "order.destinations[0].uri",
            "order.outputs[0].filename",
            "order.outputs[1].filename",
            "order.outputs[2].preset",
            "order.outputs[3].label",
            "order.outputs[4].profile_id",
        ]
    );

    let empty = pb::Order {
        origin: "::not a uri".into(),
        ..Default::default()
    };
    let status = app.submit(empty).await.unwrap_err();
    assert_eq!(bad_fields(&status), vec!["order.origin", "order.outputs"]);

    let outside = order(
        std::path::Path::new("/etc/passwd"),
        vec![output("a.mp4", "System preset: Generic 360p")],
    );
    let status = app.submit(outside).await.unwrap_err();
    assert_eq!(bad_fields(&status), vec!["order.origin"]);
    assert!(status.message().contains("order.origin"));

    // An empty company_id means the token's company.
    let status = app
        .client
        .clone()
        .submit_job(pb::SubmitJobRequest {
            company_id: String::new(),
            order: None,
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), vec!["order.origin", "order.outputs"]);

    let (jobs, _) = list(&app, 0, "", 0).await;
    assert!(jobs.is_empty(), "nothing invalid was queued");
    app.shutdown().await;
}
on_both_backends!(
    invalid_orders_are_rejected,
    super::invalid_orders_name_every_field
);

async fn list(app: &TestApp, size: u32, token: &str, state: i32) -> (Vec<pb::Job>, String) {
    let r = app
        .client
        .clone()
        .list_jobs(pb::ListJobsRequest {
            company_id: "acme".into(),
            page_size: size,
            page_token: token.into(),
            state,
        })
        .await
        .unwrap()
        .into_inner();
    (r.jobs, r.next_page_token)
}

async fn jobs_are_listed_newest_first_in_pages(backend: Backend) {
    let app = paused_app(backend).await;
    let source = media_dir().join("source.mp4");
    let mut submitted = Vec::new();
    for i in 0..5 {
        let job = app
            .submit(order(
                &source,
                vec![output(&format!("{i}.mp4"), "System preset: Generic 360p")],
            ))
            .await
            .unwrap();
        submitted.push(job.id);
    }
    submitted.reverse();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (jobs, next) = list(&app, 2, &token, 0).await;
        pages += 1;
        seen.extend(jobs.into_iter().map(|j| j.id));
        if next.is_empty() {
            break;
        }
        token = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, submitted);

    let (queued, _) = list(&app, 100, "", pb::JobState::Queued as i32).await;
    assert_eq!(queued.len(), 5);
    let (succeeded, _) = list(&app, 100, "", pb::JobState::Succeeded as i32).await;
    assert!(succeeded.is_empty());

    let err = app
        .client
        .clone()
        .list_jobs(pb::ListJobsRequest {
            company_id: "acme".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Another company sees none of them.
    let mut globex = app.client_of("globex").await;
    let other = globex
        .get_job(pb::GetJobRequest {
            company_id: String::new(),
            job_id: submitted[0].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    let (theirs, _) = {
        let r = globex
            .list_jobs(pb::ListJobsRequest::default())
            .await
            .unwrap()
            .into_inner();
        (r.jobs, r.next_page_token)
    };
    assert!(theirs.is_empty());
    app.shutdown().await;
}
on_both_backends!(
    list_jobs_pages,
    super::jobs_are_listed_newest_first_in_pages
);

async fn get_job_errors(backend: Backend) {
    let app = paused_app(backend).await;
    let mut client = app.client.clone();
    let missing = client
        .get_job(pb::GetJobRequest {
            company_id: "acme".into(),
            job_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = client
        .get_job(pb::GetJobRequest {
            company_id: "acme".into(),
            job_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&malformed), vec!["job_id"]);
    let watch = client
        .watch_job(pb::WatchJobRequest {
            company_id: "acme".into(),
            job_id: uuid::Uuid::now_v7().to_string(),
            after_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::NotFound);
    let cancel = client
        .cancel_job(pb::CancelJobRequest {
            company_id: "acme".into(),
            job_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::NotFound);
    app.shutdown().await;
}
on_both_backends!(unknown_jobs_are_not_found, super::get_job_errors);

async fn same_idempotency_key_same_job(backend: Backend) {
    let app = paused_app(backend).await;
    let request = pb::SubmitJobRequest {
        company_id: "acme".into(),
        order: Some(order(
            &media_dir().join("source.mp4"),
            vec![output("a.mp4", "System preset: Generic 360p")],
        )),
        idempotency_key: "order-123".into(),
    };
    let first = app
        .client
        .clone()
        .submit_job(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .client
        .clone()
        .submit_job(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.id, second.id);
    let (jobs, _) = list(&app, 0, "", 0).await;
    assert_eq!(jobs.len(), 1);
    app.shutdown().await;
}
on_both_backends!(
    idempotency_key_deduplicates,
    super::same_idempotency_key_same_job
);

/// Submissions arriving together are stored together (group commit): a key repeated
/// within one burst still yields one job, keys are scoped to their company, and every
/// keyless submission gets its own job with its QUEUED event.
async fn concurrent_submissions_group_commit(backend: Backend) {
    let app = paused_app(backend).await;
    let request = |company: &str, key: &str| pb::SubmitJobRequest {
        company_id: company.into(),
        order: Some(order(
            &media_dir().join("source.mp4"),
            vec![output("a.mp4", "System preset: Generic 360p")],
        )),
        idempotency_key: key.into(),
    };
    let globex = app.client_of("globex").await;
    let mut calls = Vec::new();
    for i in 0..60 {
        let (company, key) = match i % 3 {
            0 => ("acme", "burst-key"),
            1 => ("acme", ""),
            _ => ("globex", "burst-key"),
        };
        let mut client = if company == "acme" {
            app.client.clone()
        } else {
            globex.clone()
        };
        let req = request(company, key);
        calls.push(tokio::spawn(async move {
            (
                i % 3,
                client.submit_job(req).await.map(|r| r.into_inner().id),
            )
        }));
    }
    let mut ids: [Vec<String>; 3] = Default::default();
    for call in calls {
        let (kind, id) = call.await.unwrap();
        ids[kind].push(id.expect("submission accepted"));
    }
    for keyed in [&ids[0], &ids[2]] {
        assert_eq!(keyed.len(), 20);
        assert!(
            keyed.iter().all(|id| id == &keyed[0]),
            "one job per key: {keyed:?}"
        );
    }
    assert_ne!(ids[0][0], ids[2][0], "keys are scoped to their company");
    let mut keyless = ids[1].clone();
    keyless.sort();
    keyless.dedup();
    assert_eq!(keyless.len(), 20, "every keyless submission is its own job");
    let (acme_jobs, _) = list(&app, 100, "", 0).await;
    assert_eq!(acme_jobs.len(), 21);
    for id in ids[1].iter().chain([&ids[0][0]]) {
        let mut events = app
            .client
            .clone()
            .watch_job(pb::WatchJobRequest {
                company_id: "acme".into(),
                job_id: id.clone(),
                after_sequence: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let first = events.message().await.unwrap().expect("first event");
        assert_eq!(first.sequence, 1);
        assert_eq!(first.job_id, *id);
    }
    app.shutdown().await;
}
on_both_backends!(
    concurrent_submissions_are_stored_once_each,
    super::concurrent_submissions_group_commit
);

async fn profiles_list_fetch_and_name_presets(backend: Backend) {
    let app = paused_app(backend).await;
    let mut client = app.client.clone();
    let profiles = client
        .list_profiles(pb::ListProfilesRequest {
            company_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .profiles;
    let names: Vec<&str> = profiles.iter().map(|p| p.description.as_str()).collect();
    for wanted in [
        "Generic 1080p",
        "Generic 720p",
        "Generic 480p",
        "Generic 360p",
        "Baseline",
        "Audio only",
    ] {
        assert!(
            names.iter().any(|n| n.contains(wanted)),
            "{wanted} missing from {names:?}"
        );
    }
    assert!(
        profiles
            .iter()
            .all(|p| p.system && p.description.starts_with("System preset: "))
    );
    let audio_only = profiles
        .iter()
        .find(|p| p.description.contains("Audio only"))
        .unwrap();
    assert!(audio_only.video.is_none() && audio_only.audio.is_some());

    let p720 = client
        .get_profile(pb::GetProfileRequest {
            company_id: "acme".into(),
            profile_id: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p720.description, "System preset: Generic 720p");
    assert_eq!(p720.elastic_transcoder_id, "1351620000001-000010");
    assert_eq!(p720.video.unwrap().height, 720);

    // The Elastic Transcoder presets the engine can produce are listed with their ET id
    // (the six originals above are still there, with their own ids).
    let listed_720 = profiles.iter().find(|p| p.id == 2).unwrap();
    assert_eq!(listed_720.elastic_transcoder_id, "1351620000001-000010");
    let web = profiles
        .iter()
        .find(|p| p.elastic_transcoder_id == "1351620000001-100070")
        .expect("System preset: Web is listed");
    assert_eq!(web.description, "System preset: Web");
    assert!(web.id < 100 && web.system);
    assert!(
        profiles
            .iter()
            .all(|p| !p.description.contains("Webm 720p")),
        "presets the engine cannot write (ET's VP8 WebM) are not offered"
    );
    let vp9 = profiles
        .iter()
        .find(|p| p.elastic_transcoder_id == "1351620000001-100250")
        .expect("ET's WebM VP9 720p is producible now");
    assert_eq!(
        (
            vp9.container.as_str(),
            vp9.video.as_ref().unwrap().codec.as_str()
        ),
        ("webm", "vp9")
    );
    let av1 = profiles.iter().find(|p| p.id == 82).unwrap();
    assert!(av1.slow && !vp9.slow);
    assert_eq!(profiles.len(), 6 + 23 + 6);

    // An output may name a preset by its ET id (the app is paused: the job only queues).
    let job = app
        .submit(order(
            &media_dir().join("source.mp4"),
            vec![output("et.mp4", "1351620000001-000010")],
        ))
        .await
        .unwrap();
    assert_eq!(job.state, pb::JobState::Queued as i32);
    assert_eq!(job.outputs[0].profile_id, 2);
    assert_eq!(
        job.outputs[0].profile_description,
        "System preset: Generic 720p"
    );
    // A known ET preset the engine cannot write yet is refused, saying so.
    let status = app
        .submit(order(
            &media_dir().join("source.mp4"),
            vec![output("et.webm", "1351620000001-100240")],
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), vec!["order.outputs[0].preset"]);
    let why = &status.get_details_bad_request().unwrap().field_violations[0];
    assert!(why.description.contains("cannot produce yet"), "{why:?}");

    let missing = client
        .get_profile(pb::GetProfileRequest {
            company_id: "acme".into(),
            profile_id: 999,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    app.shutdown().await;
}
on_both_backends!(
    profiles_are_listed_and_fetched,
    super::profiles_list_fetch_and_name_presets
);

#[tokio::test]
async fn health_reflection_and_healthz_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1 as reflection;

    let app = paused_app(Backend::Sqlite).await;
    let grpc = format!("http://{}", app.app().grpc_addr.unwrap());

    let channel = tonic::transport::Endpoint::from_shared(grpc)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "transcoder.v1.TranscoderService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut client = reflection::server_reflection_client::ServerReflectionClient::new(channel);
    let request = reflection::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            reflection::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("no reflection answer")
    };
    let Some(reflection::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection answer")
    };
    let services: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        services.contains(&"transcoder.v1.TranscoderService".to_string()),
        "{services:?}"
    );
    assert!(
        services.contains(&"grpc.health.v1.Health".to_string()),
        "{services:?}"
    );

    // Error details are described too, so grpcurl prints BadRequest's fields by name.
    let request = reflection::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            reflection::server_reflection_request::MessageRequest::FileContainingSymbol(
                "google.rpc.BadRequest".into(),
            ),
        ),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("no reflection answer")
    };
    assert!(
        matches!(
            response.message_response,
            Some(
                reflection::server_reflection_response::MessageResponse::FileDescriptorResponse(_)
            )
        ),
        "{:?}",
        response.message_response
    );

    let mut stream = tokio::net::TcpStream::connect(app.app().http_addr)
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    app.shutdown().await;
}

#[tokio::test]
async fn destination_options_are_checked_not_dropped() {
    let app = paused_app(Backend::Sqlite).await;
    let mut o = order(
        &media_dir().join("source.mp4"),
        vec![output("a.mp4", "System preset: Generic 360p")],
    );
    let destination = |uri: &str, acl: &str, storage_class: &str| pb::Destination {
        uri: uri.into(),
        acl: acl.into(),
        storage_class: storage_class.into(),
    };
    let local = url::Url::from_directory_path(app.data_dir.path())
        .unwrap()
        .to_string();
    o.destinations = vec![
        destination("s3://bucket/out/", "public-read", "STANDARD_IA"),
        destination(&local, "private", ""),
        destination("s3://bucket/other/", "everyone", "COLD"),
    ];
    let status = app.submit(o.clone()).await.unwrap_err();
    assert_eq!(
        bad_fields(&status),
        vec![
            "order.destinations[1].acl",
            "order.destinations[2].acl",
            "order.destinations[2].storage_class",
        ]
    );
    o.destinations.truncate(1);
    let job = app.submit(o).await.unwrap();
    let kept = &job.order.unwrap().destinations[0];
    assert_eq!(
        (kept.acl.as_str(), kept.storage_class.as_str()),
        ("public-read", "STANDARD_IA")
    );
    app.shutdown().await;
}
