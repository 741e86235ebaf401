//! Finishing an HLS ladder once its rungs are written: a probe and measurement of every
//! rung, the master playlist, and the list of files to deliver.
//!
//! Keys: the master playlist sits at the order's filename ("video.m3u8"), the rungs in a
//! directory beside it named after it ("video/720p/index.m3u8", "video/720p/segment_00000.ts"),
//! so the master's variant URIs are relative ("video/720p/index.m3u8").

use super::MediaError;
use super::hls_rung::{WrittenRung, read_rung};
use super::master_playlist::master_playlist;
use super::plan::{LadderPlan, Rendition, Sink, ladder_dir_name};
use super::segments::MEDIA_PLAYLIST;
use crate::domain::encode_settings::RenditionResult;
use crate::domain::profile::Container;
use std::path::PathBuf;

pub struct FinishedLadder {
    /// Every file of the tree with its key under the destination, playlists last (so a
    /// player never finds a playlist naming a segment not yet uploaded). The first is the
    /// top rung's first file.
    pub files: Vec<(PathBuf, String)>,
    /// The master playlist's key.
    pub master_key: String,
    /// The rungs, largest first (audio last), each with its media playlist's key.
    pub renditions: Vec<(RenditionResult, String)>,
}

/// Measures and probes the rungs and writes the master playlist. Blocking.
pub fn finish(
    ladder: &LadderPlan,
    renditions: &[Rendition],
    probe_timeout_secs: u64,
) -> Result<FinishedLadder, MediaError> {
    if ladder.container != Container::Hls {
        return Err(MediaError::Unsupported(format!(
            "{} ladders are not supported",
            ladder.container.as_str()
        )));
    }
    let tree = ladder_dir_name(&ladder.master);
    let mut rungs = Vec::new();
    for &index in &ladder.renditions {
        let rendition = renditions.get(index).ok_or_else(|| {
            MediaError::System(format!(
                "ladder names rendition {index}, which is not planned"
            ))
        })?;
        let Sink::Segments { dir, .. } = &rendition.sink else {
            return Err(MediaError::System(format!(
                "rendition '{}' of a ladder writes no segments",
                rendition.label
            )));
        };
        rungs.push((read_rung(dir, probe_timeout_secs)?, rendition));
    }
    let key_of = |rung: &WrittenRung, file: &str| format!("{tree}/{}/{file}", rung.name);

    let written: Vec<WrittenRung> = rungs.iter().map(|(r, _)| r.clone()).collect();
    let master = master_playlist(&written, |rung| key_of(rung, MEDIA_PLAYLIST));
    let master_path = ladder.dir.with_file_name(&ladder.master);
    let mut text = Vec::new();
    master
        .write_to(&mut text)
        .and_then(|()| std::fs::write(&master_path, &text))
        .map_err(|e| MediaError::System(format!("writing {}: {e}", master_path.display())))?;

    let mut files = Vec::new();
    for (rung, _) in &rungs {
        for file in &rung.media_files {
            files.push((rung.dir.join(file), key_of(rung, file)));
        }
    }
    let mut results = Vec::new();
    for (rung, rendition) in rungs {
        let playlist_key = key_of(&rung, MEDIA_PLAYLIST);
        files.push((rung.dir.join(MEDIA_PLAYLIST), playlist_key.clone()));
        results.push((
            RenditionResult {
                name: rung.name,
                urls: Vec::new(),
                media: Some(rung.media),
                encoded: rendition.encode_settings(),
                segments: rung.segments,
                max_segment_seconds: rung.max_segment_seconds,
            },
            playlist_key,
        ));
    }
    files.push((master_path, ladder.master.clone()));
    Ok(FinishedLadder {
        files,
        master_key: ladder.master.clone(),
        renditions: results,
    })
}
