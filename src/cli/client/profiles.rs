//! `transcoder profiles`: the system presets and the company's own profiles.

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::{table, wire};
use serde::Serialize;
use transcoder::proto as pb;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct ProfilesArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Serialize)]
struct Listing {
    profiles: Vec<Profile>,
}

#[derive(Serialize)]
struct Profile {
    id: u64,
    description: String,
    system: bool,
    container: String,
    /// e.g. "h264 1280x720 2500 kbit/s"; empty for audio-only profiles.
    video: String,
    /// e.g. "aac 128 kbit/s 2 ch"; empty without audio.
    audio: String,
    restrict_bitrate: bool,
    elastic_transcoder_id: Option<String>,
}

impl From<&pb::Profile> for Profile {
    fn from(p: &pb::Profile) -> Self {
        let video = p.video.as_ref().filter(|v| !v.codec.is_empty()).map(|v| {
            let rate = if v.bitrate_kbps > 0 {
                format!("{} kbit/s", v.bitrate_kbps)
            } else {
                format!("quality {}", v.quality)
            };
            format!("{} {}x{} {rate}", v.codec, v.width, v.height)
        });
        let audio = p
            .audio
            .as_ref()
            .filter(|a| !a.codec.is_empty())
            .map(|a| format!("{} {} kbit/s {} ch", a.codec, a.bitrate_kbps, a.channels));
        Self {
            id: p.id,
            description: p.description.clone(),
            system: p.system,
            container: p.container.clone(),
            video: video.unwrap_or_default(),
            audio: audio.unwrap_or_default(),
            restrict_bitrate: p.restrict_bitrate,
            elastic_transcoder_id: Some(p.elastic_transcoder_id.clone())
                .filter(|id| !id.is_empty()),
        }
    }
}

pub async fn run(args: ProfilesArgs) -> Result<(), ClientError> {
    let mut client = args.conn.connect().await?;
    let profiles = client
        .list_profiles(request(pb::ListProfilesRequest::default()))
        .await?
        .into_inner()
        .profiles;
    let profiles: Vec<Profile> = profiles.iter().map(Profile::from).collect();
    if args.conn.json {
        return wire::print(&Listing { profiles });
    }
    let mut rows = table::new(&[
        "id",
        "description",
        "container",
        "video",
        "audio",
        "restrict bitrate",
    ]);
    for p in profiles {
        rows.add_row(vec![
            p.id.to_string(),
            p.description,
            p.container,
            p.video,
            p.audio,
            if p.restrict_bitrate { "yes" } else { "no" }.to_owned(),
        ]);
    }
    println!("{rows}");
    Ok(())
}
