//! `server.tls`: where the certificate, key and client CA live.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// PEM files for TLS on the gRPC and HTTP ports (`src/tls/`). Both `cert` and `key`, or
/// neither (plain text, the default); they are read again when they change. From the
/// environment: `TRANSCODER__SERVER__TLS__CERT`, `..._KEY`, `..._CLIENT_CA`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TlsSettings {
    /// The certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// CA certificates that sign client certificates: when set, every client must show
    /// one (mutual TLS).
    pub client_ca: Option<PathBuf>,
}
