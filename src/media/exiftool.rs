//! A written file's metadata exactly as exiftool prints it (`exiftool -json`, default print
//! conversion: `"FileSize": "11 MB"`, `"Duration": "0:00:35"`, `"AvgBitrate": "2.51 Mbps"`).
//! The preset dialect's postback carries this map as `meta`; running exiftool itself is the
//! one way to match its keys and formats exactly.

use crate::error::{Error, ErrorCode};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// exiftool's keys and values for one file.
pub type FileMetadata = BTreeMap<String, serde_json::Value>;

/// The program run, looked up on `PATH` (Debian: `libimage-exiftool-perl`).
pub const PROGRAM: &str = "exiftool";

/// How long one run may take before it is killed. Reading an MP4's boxes takes well
/// under a second; the margin is for a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Keys that describe the local copy rather than the media, dropped from the map: the
/// tool's own version, where the file sat in the work dir, and its file-system dates and
/// permissions. They would differ between the worker's copy and the delivered object.
pub const LOCAL_FILE_KEYS: &[&str] = &[
    "SourceFile",
    "ExifToolVersion",
    "FileName",
    "Directory",
    "FileModifyDate",
    "FileAccessDate",
    "FileInodeChangeDate",
    "FilePermissions",
];

/// Why exiftool gave no metadata.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExiftoolError {
    #[error(
        "exiftool is not installed (Debian package libimage-exiftool-perl; \
         scripts/install-system-deps.sh installs it)"
    )]
    Missing,
    #[error("exiftool did not finish within {0} s")]
    Timeout(u64),
    #[error("exiftool failed: {0}")]
    Failed(String),
    #[error("exiftool printed something other than one JSON object: {0}")]
    BadOutput(String),
}

impl ExiftoolError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Missing => ErrorCode::MissingPlugin,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::Failed(_) | Self::BadOutput(_) => ErrorCode::Internal,
        }
    }
}

impl From<ExiftoolError> for Error {
    fn from(e: ExiftoolError) -> Self {
        // Installing the tool is an operator's fix, not something a retry brings.
        let retryable = !matches!(e, ExiftoolError::Missing);
        Error::new(e.code(), e.to_string()).retryable(retryable)
    }
}

/// Runs `exiftool -json` on `path` with [`TIMEOUT`] and returns its keys, without
/// [`LOCAL_FILE_KEYS`].
#[tracing::instrument(skip_all, fields(path = %path.display()))]
pub async fn read_metadata(path: &Path) -> Result<FileMetadata, ExiftoolError> {
    read_metadata_with(PROGRAM, path, TIMEOUT).await
}

/// [`read_metadata`] with another program and deadline (tests use a missing program).
pub async fn read_metadata_with(
    program: &str,
    path: &Path,
    timeout: Duration,
) -> Result<FileMetadata, ExiftoolError> {
    let mut command = tokio::process::Command::new(program);
    command
        .arg("-json")
        // Files over 2 GB are read whole rather than refused.
        .args(["-api", "LargeFileSupport=1"])
        .arg(argument_path(path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ExiftoolError::Missing,
        _ => ExiftoolError::Failed(format!("starting {program}: {e}")),
    })?;
    // Dropping the pending output on timeout kills the child (kill_on_drop).
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| ExiftoolError::Timeout(timeout.as_secs()))?
        .map_err(|e| ExiftoolError::Failed(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ExiftoolError::Failed(format!(
            "{} ({})",
            stderr.trim(),
            output.status
        )));
    }
    parse_output(&output.stdout)
}

/// exiftool reads an argument starting with `-` as an option; such a relative path is
/// given as `./-name`.
fn argument_path(path: &Path) -> PathBuf {
    if path.as_os_str().as_encoded_bytes().starts_with(b"-") {
        Path::new(".").join(path)
    } else {
        path.to_owned()
    }
}

/// Parses `exiftool -json` output for one file: an array holding one object.
pub fn parse_output(stdout: &[u8]) -> Result<FileMetadata, ExiftoolError> {
    let mut files: Vec<FileMetadata> =
        serde_json::from_slice(stdout).map_err(|e| ExiftoolError::BadOutput(e.to_string()))?;
    if files.len() != 1 {
        return Err(ExiftoolError::BadOutput(format!(
            "{} objects for one file",
            files.len()
        )));
    }
    let mut meta = files.remove(0);
    for key in LOCAL_FILE_KEYS {
        meta.remove(*key);
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::clip::{ClipSpec, generate_clip};

    #[test]
    fn parsing_drops_the_local_file_keys_and_keeps_the_rest() {
        let stdout = br#"[{"SourceFile": "/w/a.mp4", "ExifToolVersion": 12.57,
            "FileName": "a.mp4", "Directory": "/w", "FileSize": "11 MB",
            "FileModifyDate": "x", "FileAccessDate": "x", "FileInodeChangeDate": "x",
            "FilePermissions": "-rw-r--r--", "Duration": "0:00:35", "ImageWidth": 1280,
            "CompatibleBrands": ["isom", "avc1"]}]"#;
        let meta = parse_output(stdout).unwrap();
        assert_eq!(
            meta.keys().collect::<Vec<_>>(),
            ["CompatibleBrands", "Duration", "FileSize", "ImageWidth"]
        );
        assert_eq!(meta["FileSize"], "11 MB");
        assert_eq!(meta["ImageWidth"], 1280);
        assert_eq!(
            meta["CompatibleBrands"],
            serde_json::json!(["isom", "avc1"])
        );
    }

    #[test]
    fn output_that_is_not_one_object_is_a_typed_error() {
        assert!(matches!(
            parse_output(b"[]"),
            Err(ExiftoolError::BadOutput(_))
        ));
        assert!(matches!(
            parse_output(b"not json"),
            Err(ExiftoolError::BadOutput(_))
        ));
    }

    #[test]
    fn paths_that_look_like_options_are_made_explicit() {
        assert_eq!(argument_path(Path::new("-x.mp4")), Path::new("./-x.mp4"));
        assert_eq!(
            argument_path(Path::new("/w/-x.mp4")),
            Path::new("/w/-x.mp4")
        );
    }

    #[tokio::test]
    async fn a_missing_exiftool_is_a_missing_plugin_error() {
        let err = read_metadata_with(
            "exiftool-not-installed-here",
            Path::new("/nonexistent.mp4"),
            TIMEOUT,
        )
        .await
        .unwrap_err();
        assert_eq!(err, ExiftoolError::Missing);
        let err = Error::from(err);
        assert_eq!(err.code, ErrorCode::MissingPlugin);
        assert!(!err.retryable);
        assert!(
            err.message.contains("libimage-exiftool-perl"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn a_generated_clip_reads_as_an_mp4_with_its_dimensions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        let spec = ClipSpec {
            seconds: 2,
            width: 320,
            height: 240,
            ..ClipSpec::default()
        };
        let clip = path.clone();
        tokio::task::spawn_blocking(move || generate_clip(&clip, &spec))
            .await
            .unwrap()
            .unwrap();

        let meta = read_metadata(&path).await.unwrap();
        assert_eq!(meta["FileType"], "MP4");
        assert_eq!(meta["MIMEType"], "video/mp4");
        assert_eq!(meta["ImageWidth"], 320);
        assert_eq!(meta["ImageHeight"], 240);
        assert_eq!(meta["ImageSize"], "320x240");
        assert_eq!(meta["CompressorID"], "avc1");
        assert_eq!(meta["AudioChannels"], 2);
        assert_eq!(meta["AudioSampleRate"], 48000);
        // The default print conversion: sizes and rates with units, not raw numbers.
        let size = meta["FileSize"].as_str().unwrap();
        assert!(size.ends_with("kB") || size.ends_with("MB"), "{size}");
        assert!(meta["Duration"].is_string(), "{:?}", meta["Duration"]);
        for key in LOCAL_FILE_KEYS {
            assert!(!meta.contains_key(*key), "{key} was kept");
        }
    }
}
