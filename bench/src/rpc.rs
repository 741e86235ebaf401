//! The bench as a gRPC client of the service: its company, orders and event streams.

use std::path::Path;
use transcoder::proto as pb;

pub use transcoder::client::Client;

/// The company every bench job belongs to (created with no rate limit: the bench
/// measures the server, not its limiter).
pub const COMPANY: &str = "bench";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// An order for `source` with the given system presets, delivered to the default place.
pub fn order(source: &Path, presets: &[&str]) -> pb::Order {
    let origin = url::Url::from_file_path(source).expect("absolute path");
    pb::Order {
        origin: origin.to_string(),
        outputs: presets
            .iter()
            .enumerate()
            .map(|(i, preset)| pb::OutputSpec {
                label: format!("out{i}"),
                filename: format!("out{i}.mp4"),
                profile: Some(pb::output_spec::Profile::Preset((*preset).into())),
                reference: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

pub fn submit_request(order: pb::Order) -> pb::SubmitJobRequest {
    pb::SubmitJobRequest {
        company_id: COMPANY.into(),
        order: Some(order),
        idempotency_key: String::new(),
    }
}

/// Submits `order` and opens its event stream from the first event.
pub async fn submit_and_watch(
    client: &mut Client,
    order: pb::Order,
) -> anyhow::Result<(pb::Job, tonic::Streaming<pb::JobEvent>)> {
    let job = client.submit_job(submit_request(order)).await?.into_inner();
    let events = watch(client, &job.id).await?;
    Ok((job, events))
}

/// Opens `job_id`'s event stream from its first event.
pub async fn watch(
    client: &mut Client,
    job_id: &str,
) -> anyhow::Result<tonic::Streaming<pb::JobEvent>> {
    Ok(client
        .watch_job(pb::WatchJobRequest {
            company_id: COMPANY.into(),
            job_id: job_id.into(),
            after_sequence: 0,
        })
        .await?
        .into_inner())
}

pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .unwrap_or_default()
}
