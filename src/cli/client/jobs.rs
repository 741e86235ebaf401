//! `transcoder jobs`: the company's jobs, newest first.

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::{table, wire};
use transcoder::proto as pb;

/// The most jobs one listing fetches (the server pages them 100 at a time).
const MAX_LIMIT: usize = 1000;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct JobsArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Only the jobs in this state.
    #[arg(long, value_enum)]
    state: Option<State>,
    /// How many jobs to show, newest first (at most 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=MAX_LIMIT as i64))]
    limit: u16,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl From<State> for pb::JobState {
    fn from(s: State) -> Self {
        match s {
            State::Queued => Self::Queued,
            State::Running => Self::Running,
            State::Succeeded => Self::Succeeded,
            State::Failed => Self::Failed,
            State::Canceled => Self::Canceled,
        }
    }
}

#[derive(serde::Serialize)]
struct Listing {
    jobs: Vec<wire::Job>,
}

pub async fn run(args: JobsArgs) -> Result<(), ClientError> {
    let mut client = args.conn.connect().await?;
    let limit = usize::from(args.limit);
    let state = args.state.map(pb::JobState::from).unwrap_or_default();
    let mut jobs = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_jobs(request(pb::ListJobsRequest {
                company_id: String::new(),
                page_size: (limit - jobs.len()).min(100) as u32,
                page_token,
                state: state as i32,
            }))
            .await?
            .into_inner();
        jobs.extend(page.jobs);
        page_token = page.next_page_token;
        if page_token.is_empty() || jobs.len() >= limit {
            break;
        }
    }
    jobs.truncate(limit);
    if args.conn.json {
        return wire::print(&Listing {
            jobs: jobs.iter().map(wire::Job::from).collect(),
        });
    }
    let mut rows = table::new(&[
        "id", "state", "phase", "progress", "priority", "outputs", "created",
    ]);
    for job in jobs.iter().map(wire::Job::from) {
        let outputs: Vec<_> = job.outputs.iter().map(|o| o.label.as_str()).collect();
        // The phase a finished job ended in says little in a list.
        let phase = if job.state == "running" {
            job.phase
        } else {
            "-".into()
        };
        rows.add_row(vec![
            job.id,
            job.state,
            phase,
            format!("{:.0}%", job.progress_percent),
            job.priority.to_string(),
            outputs.join(", "),
            job.created_at.unwrap_or_default(),
        ]);
    }
    println!("{rows}");
    Ok(())
}
