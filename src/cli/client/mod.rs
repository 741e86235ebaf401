//! The client commands: a running server's jobs, profiles and usage over gRPC, as a
//! company (its API token). Tables for people, `--json` for scripts, and an exit code
//! per kind of failure ([`error::EXIT_CODES`]).

mod cancel;
mod connect;
mod error;
mod jobs;
mod profiles;
mod progress;
mod submit;
mod table;
mod usage;
mod watch;
mod wire;

/// The demo follows its job with the same bars and table.
pub(super) use watch::follow;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Submit a job to a running server (--watch to follow it).
    Submit(submit::SubmitArgs),
    /// Follow a job: a progress bar per output, then its results.
    Watch(watch::WatchArgs),
    /// List your company's jobs, newest first.
    Jobs(jobs::JobsArgs),
    /// List the profiles you can use: the system presets and your company's own.
    Profiles(profiles::ProfilesArgs),
    /// Cancel a queued or running job.
    Cancel(cancel::CancelArgs),
    /// Billed minutes and cost over a period.
    Usage(usage::UsageArgs),
}

impl ClientCommand {
    fn json(&self) -> bool {
        match self {
            Self::Submit(a) => a.flags.conn.json,
            Self::Watch(a) => a.conn.json,
            Self::Jobs(a) => a.conn.json,
            Self::Profiles(a) => a.conn.json,
            Self::Cancel(a) => a.conn.json,
            Self::Usage(a) => a.conn.json,
        }
    }
}

/// Runs a client command. A failure is reported here (stderr, and stdout with `--json`)
/// and ends the process with its own exit code.
pub async fn run(command: ClientCommand) -> anyhow::Result<()> {
    let json = command.json();
    let result = match command {
        ClientCommand::Submit(args) => submit::run(args).await,
        ClientCommand::Watch(args) => watch::run(args).await,
        ClientCommand::Jobs(args) => jobs::run(args).await,
        ClientCommand::Profiles(args) => profiles::run(args).await,
        ClientCommand::Cancel(args) => cancel::run(args).await,
        ClientCommand::Usage(args) => usage::run(args).await,
    };
    if let Err(e) = result {
        e.report(json);
        std::process::exit(e.exit_code());
    }
    Ok(())
}
