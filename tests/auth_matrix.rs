//! The auth matrix on the real servers: every RPC (listed from the service descriptor)
//! and every HTTP route x {no token, malformed header, unknown token, revoked token,
//! another company's token, own token}, each with its expected code.

mod common;

use common::{Backend, COMPANY, TestApp, clip_5s, make_company, order, output};
use prost::Message;
use std::time::Duration;
use tonic::Code;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use transcoder::proto as pb;
use transcoder::proto::transcoder_service_client::TranscoderServiceClient;

/// Sends an `authorization` header exactly as given (or none).
#[derive(Clone)]
struct RawAuthorization(Option<String>);

impl Interceptor for RawAuthorization {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        Ok(request)
    }
}

type RawClient = TranscoderServiceClient<InterceptedService<Channel, RawAuthorization>>;

async fn raw_client(app: &TestApp, authorization: Option<String>) -> RawClient {
    let channel = Channel::from_shared(format!("http://{}", app.app().grpc_addr.unwrap()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TranscoderServiceClient::with_interceptor(channel, RawAuthorization(authorization))
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// The RPCs of `transcoder.v1.TranscoderService`, from the descriptor the server
/// reflects: a new RPC without a case in [`call`] fails the matrix.
fn rpc_names() -> Vec<String> {
    let set =
        prost_types::FileDescriptorSet::decode(transcoder::proto::FILE_DESCRIPTOR_SET).unwrap();
    let service = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "TranscoderService")
        .expect("the service is described");
    service.method.iter().map(|m| m.name().to_owned()).collect()
}

/// What one matrix call acts on: the company it names and acme's resources.
struct Target<'a> {
    company_id: &'a str,
    job_id: &'a str,
    /// A profile to read and update, and another one to delete.
    profile_id: u64,
    doomed_profile_id: u64,
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// Calls `method` once; the code it answered.
async fn call(client: &mut RawClient, method: &str, t: &Target<'_>) -> Code {
    let company_id = t.company_id.to_owned();
    match method {
        "SubmitJob" => code(
            client
                .submit_job(pb::SubmitJobRequest {
                    company_id,
                    order: Some(order(
                        &clip_5s(),
                        vec![output("m.mp4", "System preset: Generic 360p")],
                    )),
                    idempotency_key: String::new(),
                })
                .await,
        ),
        "GetJob" => code(
            client
                .get_job(pb::GetJobRequest {
                    company_id,
                    job_id: t.job_id.into(),
                })
                .await,
        ),
        "ListJobs" => code(
            client
                .list_jobs(pb::ListJobsRequest {
                    company_id,
                    ..Default::default()
                })
                .await,
        ),
        "CancelJob" => code(
            client
                .cancel_job(pb::CancelJobRequest {
                    company_id,
                    job_id: t.job_id.into(),
                })
                .await,
        ),
        "WatchJob" => code(
            client
                .watch_job(pb::WatchJobRequest {
                    company_id,
                    job_id: t.job_id.into(),
                    after_sequence: 0,
                })
                .await,
        ),
        "ListProfiles" => code(
            client
                .list_profiles(pb::ListProfilesRequest { company_id })
                .await,
        ),
        "GetProfile" => code(
            client
                .get_profile(pb::GetProfileRequest {
                    company_id,
                    profile_id: t.profile_id,
                })
                .await,
        ),
        "CreateProfile" => code(
            client
                .create_profile(pb::CreateProfileRequest {
                    company_id,
                    profile: Some(common::h264_profile(
                        &format!("matrix {}", uuid::Uuid::now_v7()),
                        320,
                        180,
                    )),
                })
                .await,
        ),
        "UpdateProfile" => {
            let mut p = common::h264_profile("matrix updated", 320, 180);
            p.id = t.profile_id;
            code(
                client
                    .update_profile(pb::UpdateProfileRequest {
                        company_id,
                        profile: Some(p),
                    })
                    .await,
            )
        }
        "DeleteProfile" => code(
            client
                .delete_profile(pb::DeleteProfileRequest {
                    company_id,
                    profile_id: t.doomed_profile_id,
                })
                .await,
        ),
        "GetUsage" => code(
            client
                .get_usage(pb::GetUsageRequest {
                    company_id,
                    ..Default::default()
                })
                .await,
        ),
        "RotateWebhookSecret" => code(
            client
                .rotate_webhook_secret(pb::RotateWebhookSecretRequest { company_id })
                .await,
        ),
        other => panic!("no auth case for RPC {other}: add one to tests/auth.rs"),
    }
}

/// What the caller's own token gets, and what another company's token gets when it
/// names acme's job or profile (ids of another company look like missing ones).
fn expected(method: &str) -> (Code, Code) {
    match method {
        "GetJob" | "WatchJob" | "CancelJob" | "GetProfile" | "UpdateProfile" | "DeleteProfile" => {
            (Code::Ok, Code::NotFound)
        }
        "GetUsage" => (Code::Ok, Code::Ok),
        _ => (Code::Ok, Code::Ok),
    }
}

async fn create_profile(client: &mut common::Client, p: pb::Profile) -> pb::Profile {
    client
        .create_profile(pb::CreateProfileRequest {
            company_id: String::new(),
            profile: Some(p),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn auth_matrix(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let job = app
        .submit(order(
            &clip_5s(),
            vec![output("a.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let mut acme = app.client.clone();
    let kept = create_profile(&mut acme, common::h264_profile("acme kept", 320, 180)).await;
    let doomed = create_profile(&mut acme, common::h264_profile("acme doomed", 320, 180)).await;
    assert!(
        kept.id >= 100 && doomed.id > kept.id,
        "{} {}",
        kept.id,
        doomed.id
    );

    let globex_token = make_company(app.app(), "globex", false).await;
    let (revoked, revoked_token) = app
        .app()
        .admin
        .create_token(COMPANY, Some("to revoke"))
        .await
        .unwrap();
    app.app().admin.revoke_token(&revoked.id).await.unwrap();
    let unknown = transcoder::auth::secrets::new_api_token();

    let acme_target = Target {
        company_id: COMPANY,
        job_id: &job.id,
        profile_id: kept.id,
        doomed_profile_id: doomed.id,
    };
    let own_company_implied = Target {
        company_id: "",
        ..acme_target
    };
    let methods = rpc_names();
    assert!(methods.len() >= 12, "{methods:?}");
    for method in &methods {
        let (own, foreign_resource) = expected(method);
        let refused: [(&str, Option<String>); 4] = [
            ("no token", None),
            ("malformed header", Some(format!("Token {}", app.token))),
            ("unknown token", bearer(&unknown)),
            ("revoked token", bearer(&revoked_token)),
        ];
        for (case, header) in refused {
            let mut client = raw_client(&app, header).await;
            assert_eq!(
                call(&mut client, method, &acme_target).await,
                Code::Unauthenticated,
                "{method} with {case}"
            );
        }
        let mut globex = raw_client(&app, bearer(&globex_token)).await;
        assert_eq!(
            call(&mut globex, method, &acme_target).await,
            Code::PermissionDenied,
            "{method}: another company's token naming acme"
        );
        assert_eq!(
            call(&mut globex, method, &own_company_implied).await,
            foreign_resource,
            "{method}: another company's token on acme's ids"
        );
        let mut acme_client = raw_client(&app, bearer(&app.token)).await;
        assert_eq!(
            call(&mut acme_client, method, &acme_target).await,
            own,
            "{method}: own token"
        );
    }

    // The refusal says how to authenticate.
    let status = raw_client(&app, None)
        .await
        .list_jobs(pb::ListJobsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.metadata().get("www-authenticate").unwrap(), "Bearer");
    assert!(
        status.message().contains("Authorization"),
        "{}",
        status.message()
    );
    app.shutdown().await;
}
on_both_backends!(every_rpc_checks_the_token, super::auth_matrix);

/// One HTTP route of the matrix: method, path on acme, and a body.
struct Route {
    method: reqwest::Method,
    path: String,
    body: Option<serde_json::Value>,
    /// The status acme's own token gets.
    own: u16,
    /// The status another company's token gets on acme's path (its ids look missing).
    foreign: u16,
}

async fn http_matrix(backend: Backend) {
    use reqwest::Method;
    let app = common::spawn_paused(backend).await;
    let globex_token = make_company(app.app(), "globex", false).await;
    let (revoked, revoked_token) = app.app().admin.create_token(COMPANY, None).await.unwrap();
    app.app().admin.revoke_token(&revoked.id).await.unwrap();
    let job = app
        .submit(order(
            &clip_5s(),
            vec![output("a.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let base = format!("http://{}", app.app().http_addr);
    let http = reqwest::Client::new();
    let send = |method: &Method,
                path: &str,
                body: Option<&serde_json::Value>,
                authorization: Option<String>| {
        let mut request = http
            .request(method.clone(), format!("{base}{path}"))
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let an_order = serde_json::json!({
        "origin": common::file_uri(&clip_5s()),
        "jobs": [{"filename": "m.mp4", "profile_id": 4}]
    });
    let route =
        |method: Method, path: String, body: Option<serde_json::Value>, own, foreign| Route {
            method,
            path,
            body,
            own,
            foreign,
        };
    let routes = [
        route(
            Method::POST,
            "/acme/transcode".into(),
            Some(an_order.clone()),
            201,
            403,
        ),
        route(
            Method::POST,
            "/acme/transcode/".into(),
            Some(an_order.clone()),
            201,
            403,
        ),
        route(
            Method::GET,
            format!("/acme/transcode/{}", job.id),
            None,
            200,
            403,
        ),
        route(
            Method::DELETE,
            format!("/acme/transcode/{}", job.id),
            None,
            200,
            403,
        ),
        route(
            Method::GET,
            "/acme/transcoding_profiles".into(),
            None,
            200,
            403,
        ),
        route(
            Method::GET,
            "/acme/transcoding_profiles/".into(),
            None,
            200,
            403,
        ),
        route(Method::GET, "/acme/usage".into(), None, 200, 403),
        route(Method::GET, "/v1/me".into(), None, 200, 200),
    ];
    let refused = [
        ("no token", None),
        ("malformed header", Some(format!("Basic {}", app.token))),
        (
            "unknown token",
            bearer(&transcoder::auth::secrets::new_api_token()),
        ),
        ("revoked token", bearer(&revoked_token)),
    ];
    for r in &routes {
        for (case, header) in &refused {
            let response = send(&r.method, &r.path, r.body.as_ref(), header.clone())
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                401,
                "{} {} with {case}",
                r.method,
                r.path
            );
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
        }
        let foreign = send(&r.method, &r.path, r.body.as_ref(), bearer(&globex_token))
            .await
            .unwrap();
        assert_eq!(
            foreign.status(),
            r.foreign,
            "{} {} with globex's token",
            r.method,
            r.path
        );
        let own = send(&r.method, &r.path, r.body.as_ref(), bearer(&app.token))
            .await
            .unwrap();
        assert_eq!(
            own.status(),
            r.own,
            "{} {} with acme's token",
            r.method,
            r.path
        );
    }
    // On its own path, another company's token finds acme's job missing.
    let hidden = send(
        &Method::GET,
        &format!("/globex/transcode/{}", job.id),
        None,
        bearer(&globex_token),
    )
    .await
    .unwrap();
    assert_eq!(hidden.status(), 404);
    // Open routes answer whatever is sent; POST /job authenticates in its handler.
    for (_, header) in &refused {
        for path in ["/healthz", "/openapi.json"] {
            assert_eq!(
                send(&Method::GET, path, None, header.clone())
                    .await
                    .unwrap()
                    .status(),
                200
            );
        }
        let preset_job = serde_json::json!({"src": "https://example.com/a.mp4", "pre_process": []});
        let response = send(&Method::POST, "/job", Some(&preset_job), header.clone())
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "POST /job with {header:?}");
    }
    for (token, company) in [(&app.token, COMPANY), (&globex_token, "globex")] {
        let response = send(&Method::GET, "/v1/me", None, bearer(token))
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["company_id"], company, "{body}");
    }
    app.shutdown().await;
}
on_both_backends!(http_routes_check_the_token, super::http_matrix);
