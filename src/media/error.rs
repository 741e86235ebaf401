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

impl From<MediaError> for Error {
    fn from(e: MediaError) -> Self {
        let retryable = matches!(
            e,
            MediaError::Timeout(..) | MediaError::Stalled(_) | MediaError::System(_)
        );
        Error::new(e.code(), e.to_string()).retryable(retryable)
    }
}
