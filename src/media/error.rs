use crate::error::{Error, ErrorCode};

/// What can go wrong in the media engine, split by whose fault it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediaError {
    /// The source is not media we can decode, or it is broken.
    #[error("the source is not valid media: {0}")]
    InvalidMedia(String),
    /// The source is valid but breaks a limit or cannot feed an output.
    #[error("{0}")]
    Unsupported(String),
    #[error("GStreamer element '{0}' is not installed")]
    MissingElement(String),
    #[error("{0} did not finish within {1} s")]
    Timeout(String, u64),
    #[error("the pipeline made no progress for {0} s")]
    Stalled(u64),
    #[error("canceled")]
    Canceled,
    /// Anything else: our side failed (I/O, negotiation, an encoder).
    #[error("media pipeline failed: {0}")]
    System(String),
}

impl MediaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidMedia(_) => ErrorCode::InvalidMedia,
            Self::Unsupported(_) => ErrorCode::InvalidMedia,
            Self::MissingElement(_) => ErrorCode::MissingPlugin,
            Self::Timeout(..) | Self::Stalled(_) => ErrorCode::Timeout,
            Self::Canceled => ErrorCode::Canceled,
            Self::System(_) => ErrorCode::Internal,
        }
    }

    pub fn is_client_error(&self) -> bool {
        self.code().is_client_error()
    }
}

/// Retries are for causes outside the file. A source that stalls the pipeline, fails to
/// decode or breaks a limit would do the same on every attempt, so those fail on the
/// first. Our own side's failures (I/O, an encoder that could not start) may pass and
/// are retried, and so is a probe that timed out: Discoverer has been seen to time out
/// on a small broken file under load that it refuses at once on the next try.
impl From<MediaError> for Error {
    fn from(e: MediaError) -> Self {
        let retryable = matches!(e, MediaError::System(_) | MediaError::Timeout(..));
        Error::new(e.code(), e.to_string()).retryable(retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_failures_are_retried() {
        let final_on_first: [MediaError; 5] = [
            MediaError::Stalled(60),
            MediaError::InvalidMedia("bad".into()),
            MediaError::Unsupported("no video".into()),
            MediaError::MissingElement("x264enc".into()),
            MediaError::Canceled,
        ];
        for e in final_on_first {
            let error = Error::from(e.clone());
            assert!(!error.retryable, "{e:?}");
        }
        let stalled = Error::from(MediaError::Stalled(60));
        assert_eq!(stalled.code, ErrorCode::Timeout);
        assert!(Error::from(MediaError::System("disk full".into())).retryable);
        assert!(Error::from(MediaError::Timeout("probing the source".into(), 30)).retryable);
    }
}
