//! `transcoder watch JOB`: a job's progress until it ends, then its results (also what
//! `submit --watch` does after submitting).

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::progress::Progress;
use super::{table, wire};
use transcoder::client::Client;
use transcoder::proto as pb;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct WatchArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The job's id.
    job: String,
}

pub async fn run(args: WatchArgs) -> Result<(), ClientError> {
    let mut client = args.conn.connect().await?;
    let job = get(&mut client, &args.job).await?;
    follow(&mut client, job, args.conn.json).await
}

pub async fn get(client: &mut Client, job_id: &str) -> Result<pb::Job, ClientError> {
    let job = client
        .get_job(request(pb::GetJobRequest {
            company_id: String::new(),
            job_id: job_id.to_owned(),
        }))
        .await?;
    Ok(job.into_inner())
}

/// Shows `job`'s events from its first until its last, then the job as it ended. A job
/// that did not succeed is an error, so the exit code tells.
pub async fn follow(client: &mut Client, job: pb::Job, json: bool) -> Result<(), ClientError> {
    let mut progress = Progress::new(&job, json);
    let mut events = client
        .watch_job(pb::WatchJobRequest {
            company_id: String::new(),
            job_id: job.id.clone(),
            after_sequence: 0,
        })
        .await?
        .into_inner();
    let mut ended = false;
    while let Some(event) = events.message().await? {
        progress.event(&event)?;
        if let Some(pb::job_event::Kind::JobFinished(_)) = event.kind {
            ended = true;
            break;
        }
    }
    if !ended {
        return Err(ClientError::WatchCut(job.id));
    }
    let job = get(client, &job.id).await?;
    if json {
        wire::print(&wire::Job::from(&job))?;
    } else {
        println!("{}", table::results(&job));
    }
    if job.state == pb::JobState::Succeeded as i32 {
        Ok(())
    } else {
        Err(ClientError::JobEnded {
            job_id: job.id,
            state: wire::job_state(job.state),
            error: job.error.map(Box::new),
        })
    }
}
