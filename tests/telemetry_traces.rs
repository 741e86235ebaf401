//! Issue 18 (traces, JSON logs): real `transcoder serve` processes export their spans by
//! OTLP/gRPC to a trace receiver inside the test, and one trace runs from the client's
//! span through SubmitJob on the API replica to the job's attempt and phases on a worker
//! replica. JSON log lines carry the ids of the span they were written in.

mod common;

use common::procs::{Cluster, JobWatch, Role};
use common::{COMPANY, clip_5s, file_uri, order, output};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use transcoder::domain::JobState;
use transcoder::proto as pb;

const PRESET: &str = "System preset: Generic 360p";
/// The client's own span: the root of the trace the service must continue.
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, Value>,
}

impl Received {
    fn str(&self, key: &str) -> Option<&str> {
        match self.attributes.get(key) {
            Some(Value::StringValue(s)) => Some(s),
            _ => None,
        }
    }
    fn int(&self, key: &str) -> Option<i64> {
        match self.attributes.get(key) {
            Some(Value::IntValue(i)) => Some(*i),
            _ => None,
        }
    }
    fn float(&self, key: &str) -> Option<f64> {
        match self.attributes.get(key) {
            Some(Value::DoubleValue(f)) => Some(*f),
            _ => None,
        }
    }
}

/// An OTLP trace receiver: every exported span lands in a watch channel.
#[derive(Clone)]
struct Receiver {
    spans: watch::Sender<Vec<Received>>,
}

fn attributes(list: Vec<KeyValue>) -> HashMap<String, Value> {
    list.into_iter()
        .filter_map(|kv| Some((kv.key, kv.value?.value?)))
        .collect()
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = attributes(resource_spans.resource.unwrap_or_default().attributes);
            let service = match resource.get("service.name") {
                Some(Value::StringValue(s)) => s.clone(),
                _ => String::new(),
            };
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: attributes(span.attributes),
                    });
                }
            }
        }
        self.spans.send_modify(|spans| spans.extend(received));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the receiver on port 0; returns its endpoint and the spans it gets.
async fn start_receiver() -> (String, watch::Receiver<Vec<Received>>) {
    let (tx, rx) = watch::channel(Vec::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver { spans: tx }))
            .serve_with_incoming(incoming),
    );
    (endpoint, rx)
}

/// Waits until the spans of `trace_id` include every one of `names`.
async fn wait_for_spans(
    rx: &mut watch::Receiver<Vec<Received>>,
    trace_id: &str,
    names: &[&str],
) -> Vec<Received> {
    let wanted = |spans: &Vec<Received>| {
        names
            .iter()
            .all(|n| spans.iter().any(|s| s.trace_id == trace_id && s.name == *n))
    };
    let arrived = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(wanted))
        .await
        .is_ok_and(|waited| waited.is_ok());
    let spans: Vec<Received> = rx.borrow().clone();
    let summary: Vec<_> = spans
        .iter()
        .map(|s| (&s.service, &s.name, &s.trace_id))
        .collect();
    assert!(
        arrived,
        "spans {names:?} of trace {trace_id} did not all arrive in 60 s; got {summary:#?}"
    );
    spans
        .into_iter()
        .filter(|s| s.trace_id == trace_id)
        .collect()
}

fn one<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name} span expected: {spans:#?}");
    found[0]
}

/// Submits `order` as a client whose span is CLIENT_SPAN of CLIENT_TRACE.
async fn submit_traced(client: &common::Client, order: pb::Order) -> pb::Job {
    let mut request = tonic::Request::new(pb::SubmitJobRequest {
        company_id: COMPANY.into(),
        order: Some(order),
        idempotency_key: String::new(),
    });
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    client
        .clone()
        .submit_job(request)
        .await
        .expect("job submitted")
        .into_inner()
}

/// A 5 s clip to one output, with an e-mail notification (so the job has a notify
/// phase; without an SMTP server it is skipped, and nothing leaves the machine).
fn traced_order(cluster: &Cluster, name: &str) -> pb::Order {
    let mut order = order(&clip_5s(), vec![output("out.mp4", PRESET)]);
    order.destinations = vec![pb::Destination {
        uri: format!("{}/", file_uri(&cluster.out_dir(name))),
        ..Default::default()
    }];
    order.notifications = vec![pb::Notification {
        target: Some(pb::notification::Target::Email("ops@example.com".into())),
    }];
    order
}

async fn run_to_success(
    cluster: &Cluster,
    api: &common::procs::ServeProcess,
    order: pb::Order,
) -> pb::Job {
    let client = cluster.client(api).await;
    let job = submit_traced(&client, order).await;
    let mut watch = JobWatch::start(client, &job.id);
    let state = watch.until_finished(Duration::from_secs(120)).await;
    assert_eq!(
        state,
        pb::JobState::Succeeded,
        "events: {:#?}",
        watch.events()
    );
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_submit_job_through_a_worker_on_another_replica() {
    let (endpoint, mut spans) = start_receiver().await;
    let cluster = Cluster::new(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    let api = cluster
        .spawn(
            "api",
            Role::Api,
            0,
            &[("OTEL_SERVICE_NAME", "transcoder-api")],
        )
        .await;
    let _worker = cluster
        .spawn(
            "worker",
            Role::Worker,
            1,
            &[("OTEL_SERVICE_NAME", "transcoder-worker")],
        )
        .await;

    let job = run_to_success(&cluster, &api, traced_order(&cluster, "traced")).await;
    let trace = wait_for_spans(
        &mut spans,
        CLIENT_TRACE,
        &[
            "transcoder.v1.TranscoderService/SubmitJob",
            "submit_job",
            "job.attempt",
            "download",
            "probe",
            "transcode",
            "upload",
            "notify",
        ],
    )
    .await;

    // The API replica: the RPC span continues the client's span; the service's span
    // is its child.
    let rpc = one(&trace, "transcoder.v1.TranscoderService/SubmitJob");
    assert_eq!(rpc.service, "transcoder-api");
    assert_eq!(
        rpc.parent_span_id, CLIENT_SPAN,
        "the client's span is the parent"
    );
    assert_eq!(rpc.str("rpc.method"), Some("SubmitJob"));
    assert_eq!(rpc.int("rpc.grpc.status_code"), Some(0));
    let submit = one(&trace, "submit_job");
    assert_eq!(submit.service, "transcoder-api");
    assert_eq!(submit.parent_span_id, rpc.span_id);

    // The worker replica, later: the attempt is a child of the submitting span.
    let attempt = one(&trace, "job.attempt");
    assert_eq!(attempt.service, "transcoder-worker");
    assert_eq!(attempt.parent_span_id, submit.span_id);
    assert_eq!(attempt.str("job.id"), Some(job.id.as_str()));
    assert_eq!(attempt.str("job.company"), Some(COMPANY));
    assert_eq!(attempt.int("job.outputs"), Some(1));
    assert_eq!(attempt.int("job.attempt"), Some(1));
    assert_eq!(attempt.str("job.state"), Some(JobState::Succeeded.as_str()));
    assert_eq!(
        attempt.str("error.code"),
        None,
        "a success has no error code"
    );

    // Each phase is a child of the attempt, on the worker.
    for phase in ["download", "probe", "transcode", "upload", "notify"] {
        let span = one(&trace, phase);
        assert_eq!(span.service, "transcoder-worker", "{phase}");
        assert_eq!(
            span.parent_span_id, attempt.span_id,
            "{phase} is the attempt's child"
        );
    }
    let source_bytes = std::fs::metadata(clip_5s()).unwrap().len() as i64;
    assert_eq!(
        one(&trace, "download").int("job.bytes_in"),
        Some(source_bytes)
    );
    let media_seconds = one(&trace, "probe")
        .float("media.duration_seconds")
        .unwrap();
    assert!(
        (media_seconds - 5.0).abs() < 0.2,
        "probed {media_seconds} s"
    );
    let transcode = one(&trace, "transcode");
    let factor = transcode
        .float("job.realtime_factor")
        .expect("a realtime factor");
    assert!(factor > 0.0, "realtime factor {factor}");
    let upload = one(&trace, "upload");
    assert!(upload.int("job.bytes_out").unwrap_or(0) > 0, "{upload:#?}");
    // Each file delivered is a span of its own under the upload.
    let deliveries: Vec<_> = trace.iter().filter(|s| s.name == "deliver").collect();
    assert!(!deliveries.is_empty(), "no deliver span: {trace:#?}");
    assert!(
        deliveries
            .iter()
            .all(|d| d.parent_span_id == upload.span_id)
    );
}

/// The JSON object on one log line.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn message(line: &serde_json::Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_trace_id_of_the_request_they_were_written_in() {
    // No OTLP endpoint: the ids exist for the logs even when nothing is exported.
    let cluster = Cluster::new(&[("TRANSCODER_LOG_FORMAT", "json")]).await;
    let all = cluster.spawn("all", Role::All, 1, &[]).await;
    let job = run_to_success(&cluster, &all, traced_order(&cluster, "logged")).await;
    let finished = all
        .wait_for_log(&["job finished", &job.id], Duration::from_secs(30))
        .await;
    let lines = json_lines(&all.log());
    assert!(lines.len() > 3, "the log is JSON lines: {}", all.log());

    // Inside SubmitJob: the RPC span and the service's span, in the client's trace.
    let queued = lines
        .iter()
        .find(|l| message(l) == "job queued" && l["fields"]["job_id"] == job.id.as_str())
        .unwrap_or_else(|| panic!("no 'job queued' line for {}: {lines:#?}", job.id));
    assert_eq!(queued["trace_id"], CLIENT_TRACE, "{queued}");
    let span_id = queued["span_id"].as_str().expect("a span id");
    assert!(
        span_id.len() == 16 && span_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{span_id}"
    );
    assert_ne!(span_id, CLIENT_SPAN, "the line's span is the service's own");
    let spans: Vec<&str> = queued["spans"]
        .as_array()
        .expect("the span list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(spans, ["rpc", "submit_job"], "{queued}");

    // The worker's line in the job's attempt continues the same trace.
    let finished: serde_json::Value = serde_json::from_str(&finished).unwrap();
    assert_eq!(finished["trace_id"], CLIENT_TRACE, "{finished}");
    assert_eq!(finished["span"]["name"], "job.attempt", "{finished}");

    // A line outside any span carries no ids.
    let listening = lines
        .iter()
        .find(|l| message(l) == "HTTP listening")
        .expect("the HTTP listening line");
    assert!(listening.get("trace_id").is_none(), "{listening}");
}
