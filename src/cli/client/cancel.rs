//! `transcoder cancel JOB`: stops a queued or running job.

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::wire;
use transcoder::proto as pb;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct CancelArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The job's id.
    job: String,
}

pub async fn run(args: CancelArgs) -> Result<(), ClientError> {
    let mut client = args.conn.connect().await?;
    let job = client
        .cancel_job(request(pb::CancelJobRequest {
            company_id: String::new(),
            job_id: args.job,
        }))
        .await?
        .into_inner();
    if args.conn.json {
        return wire::print(&wire::Job::from(&job));
    }
    // A queued job is canceled at once; a running one once its worker has stopped it.
    if job.state == pb::JobState::Canceled as i32 {
        println!("canceled job {}", job.id);
    } else {
        let state = wire::job_state(job.state);
        println!(
            "job {} ({state}) is being stopped; `transcoder watch {}` shows it end",
            job.id, job.id
        );
    }
    Ok(())
}
