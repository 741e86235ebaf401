//! What a job's pipeline wrote, output by output, once it has been probed: the files to
//! deliver (one, or a ladder's tree), the output's media and settings, and its rungs.

use crate::domain::MediaInfo;
use crate::domain::encode_settings::{EncodeSettings, RenditionResult};
use crate::error::Error;
use crate::media::plan::JobPlan;
use crate::media::{ladder, probe};
use std::path::{Path, PathBuf};

pub struct WrittenOutput {
    /// Index into the order's outputs.
    pub index: usize,
    /// Each local file and its key under the destination ("clip.mp4",
    /// "video/720p/index.m3u8").
    pub files: Vec<(PathBuf, String)>,
    /// The key whose URL is the output's (the file, or the master playlist).
    pub main_key: String,
    pub media: MediaInfo,
    pub encoded: EncodeSettings,
    /// A ladder's rungs, with the key of each one's media playlist.
    pub renditions: Vec<(RenditionResult, String)>,
}

/// Probes every file output and finishes every ladder (master playlist, rung probes), in
/// output order. Blocking work runs on the blocking pool.
pub async fn collect(
    plan: &JobPlan,
    filenames: &[String],
    probe_timeout_secs: u64,
) -> Result<Vec<WrittenOutput>, Error> {
    let mut written = Vec::new();
    for rendition in &plan.renditions {
        let Some(path) = rendition.path() else {
            continue;
        };
        written.push(WrittenOutput {
            index: rendition.output,
            files: vec![(path.to_owned(), filenames[rendition.output].clone())],
            main_key: filenames[rendition.output].clone(),
            media: probe_blocking(path, probe_timeout_secs).await?,
            encoded: rendition.encode_settings(),
            renditions: Vec::new(),
        });
    }
    for plan_of_ladder in &plan.ladders {
        let ladder_plan = plan_of_ladder.clone();
        let renditions = plan.renditions.clone();
        let finished = tokio::task::spawn_blocking(move || {
            ladder::finish(&ladder_plan, &renditions, probe_timeout_secs)
        })
        .await
        .map_err(|e| Error::internal(format!("ladder task: {e}")))??;
        let top = finished
            .renditions
            .first()
            .map(|(r, _)| (r.media.clone().unwrap_or_default(), r.encoded.clone()))
            .unwrap_or_default();
        written.push(WrittenOutput {
            index: plan_of_ladder.output,
            files: finished.files,
            main_key: finished.master_key,
            media: top.0,
            encoded: top.1,
            renditions: finished.renditions,
        });
    }
    written.sort_by_key(|w| w.index);
    Ok(written)
}

pub async fn probe_blocking(path: &Path, timeout_secs: u64) -> Result<MediaInfo, Error> {
    let path: PathBuf = path.to_owned();
    tokio::task::spawn_blocking(move || probe::probe_file(&path, timeout_secs))
        .await
        .map_err(|e| Error::internal(format!("probe task: {e}")))?
        .map_err(Error::from)
}
