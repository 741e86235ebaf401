//! `transcoder submit`: queues a job, one output per `--preset`/`--profile`, and with
//! `--watch` follows it to the end.

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::{watch, wire};
use clap::{ArgMatches, Args, Command, FromArgMatches};
use transcoder::client::Client;
use transcoder::domain::profile::normalize_description;
use transcoder::proto as pb;

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct SubmitFlags {
    #[command(flatten)]
    pub conn: Connection,
    /// Where the source video is: file:///..., http(s)://... or s3://bucket/key.
    #[arg(long)]
    origin: String,
    /// An output made with this system preset or profile, named by its description
    /// (case and punctuation ignored) or Elastic Transcoder id. Repeat for more outputs.
    #[arg(
        long = "preset",
        value_name = "NAME",
        required_unless_present = "profiles"
    )]
    presets: Vec<String>,
    /// An output made with the profile of this id. Repeat for more outputs.
    #[arg(long = "profile", value_name = "ID")]
    profiles: Vec<u64>,
    /// The file name of each output, in the order of the --preset and --profile flags
    /// (default: output-N with the profile's extension).
    #[arg(long = "output", value_name = "NAME")]
    outputs: Vec<String>,
    /// 5 (normal) to 10; above 5 needs your company's priority entitlement.
    #[arg(long)]
    priority: Option<i32>,
    /// Submitting the same key again returns the first job instead of a new one.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Follow the job: a progress bar per output, then a table of the results.
    #[arg(long)]
    watch: bool,
}

/// The flags, with the outputs' profiles in the order they were given (clap keeps each
/// flag's values apart; their positions on the command line say how they interleave).
pub struct SubmitArgs {
    pub flags: SubmitFlags,
    choices: Vec<pb::output_spec::Profile>,
}

impl FromArgMatches for SubmitArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        use pb::output_spec::Profile;
        let flags = SubmitFlags::from_arg_matches(matches)?;
        let at =
            |id: &str| -> Vec<usize> { matches.indices_of(id).into_iter().flatten().collect() };
        let mut placed: Vec<(usize, Profile)> = at("presets")
            .into_iter()
            .zip(flags.presets.iter().cloned().map(Profile::Preset))
            .chain(
                at("profiles")
                    .into_iter()
                    .zip(flags.profiles.iter().copied().map(Profile::ProfileId)),
            )
            .collect();
        placed.sort_by_key(|(index, _)| *index);
        let choices = placed.into_iter().map(|(_, choice)| choice).collect();
        Ok(Self { flags, choices })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for SubmitArgs {
    fn group_id() -> Option<clap::Id> {
        SubmitFlags::group_id()
    }

    fn augment_args(cmd: Command) -> Command {
        SubmitFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        SubmitFlags::augment_args_for_update(cmd)
    }
}

pub async fn run(args: SubmitArgs) -> Result<(), ClientError> {
    let SubmitArgs { flags, choices } = args;
    if flags.outputs.len() > choices.len() {
        return Err(ClientError::BadValue {
            flag: "--output",
            value: flags.outputs[choices.len()..].join(", "),
            why: format!(
                "{} names for {} outputs",
                flags.outputs.len(),
                choices.len()
            ),
        });
    }
    let mut client = flags.conn.connect().await?;
    let filenames = filenames(&mut client, &choices, &flags.outputs).await?;
    let outputs = choices
        .into_iter()
        .zip(filenames)
        .map(|(profile, filename)| pb::OutputSpec {
            filename,
            profile: Some(profile),
            ..Default::default()
        })
        .collect();
    let job = client
        .submit_job(request(pb::SubmitJobRequest {
            company_id: String::new(),
            order: Some(pb::Order {
                priority: flags.priority,
                origin: flags.origin,
                outputs,
                ..Default::default()
            }),
            idempotency_key: flags.idempotency_key.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    if flags.watch {
        if !flags.conn.json {
            println!("submitted job {}", job.id);
        }
        return watch::follow(&mut client, job, flags.conn.json).await;
    }
    if flags.conn.json {
        return wire::print(&wire::Job::from(&job));
    }
    println!("submitted job {} ({})", job.id, wire::job_state(job.state));
    println!("follow it with: transcoder watch {}", job.id);
    Ok(())
}

/// The names given, then `output-N.<ext>` for the rest, the extension following the
/// profile's container. A profile not found here keeps a bare name: the server's answer
/// names the unknown profile better than a guess would.
async fn filenames(
    client: &mut Client,
    choices: &[pb::output_spec::Profile],
    given: &[String],
) -> Result<Vec<String>, ClientError> {
    if given.len() == choices.len() {
        return Ok(given.to_vec());
    }
    let profiles = client
        .list_profiles(request(pb::ListProfilesRequest::default()))
        .await?
        .into_inner()
        .profiles;
    let names = choices.iter().enumerate().map(|(i, choice)| {
        if let Some(name) = given.get(i) {
            return name.clone();
        }
        let stem = format!("output-{}", i + 1);
        match find(&profiles, choice).and_then(|p| extension(&p.container)) {
            Some(ext) => format!("{stem}.{ext}"),
            None => stem,
        }
    });
    Ok(names.collect())
}

/// The profile a choice names, looked up as the server does: an Elastic Transcoder id,
/// an id, then a description ignoring case and punctuation.
fn find<'a>(
    profiles: &'a [pb::Profile],
    choice: &pb::output_spec::Profile,
) -> Option<&'a pb::Profile> {
    use pb::output_spec::Profile;
    match choice {
        Profile::ProfileId(id) => profiles.iter().find(|p| p.id == *id),
        Profile::Preset(name) => {
            let name = name.trim();
            let id: Option<u64> = name.parse().ok();
            let wanted = normalize_description(name);
            profiles
                .iter()
                .find(|p| !name.is_empty() && p.elastic_transcoder_id == name)
                .or_else(|| profiles.iter().find(|p| Some(p.id) == id))
                .or_else(|| {
                    profiles
                        .iter()
                        .find(|p| normalize_description(&p.description) == wanted)
                })
        }
    }
}

/// The file extension for a profile's container (a ladder's is its master playlist's).
fn extension(container: &str) -> Option<&'static str> {
    Some(match container {
        "mp4" | "fmp4" => "mp4",
        "webm" => "webm",
        "mkv" => "mkv",
        "ts" => "ts",
        "m4a" => "m4a",
        "mp3" => "mp3",
        "ogg" => "ogg",
        "hls" => "m3u8",
        "dash" => "mpd",
        _ => return None,
    })
}
