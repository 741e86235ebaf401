//! The `transcoder` binary: `serve`, `demo`, and client commands.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Inside the runtime: the OTLP exporter's gRPC channel spawns its connection task.
    let telemetry = {
        let _inside = runtime.enter();
        transcoder::telemetry::init(args.log_format, args.default_log_filter())?
    };
    let outcome = runtime.block_on(cli::run(args));
    // After the drain (serve) or the command: the last spans leave, within a deadline.
    runtime.block_on(telemetry.shutdown());
    outcome
}
