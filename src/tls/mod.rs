//! TLS on the gRPC and HTTP ports without a proxy (rustls, aws-lc-rs).
//!
//! Off unless `server.tls.cert` and `server.tls.key` (or `serve --tls-cert/--tls-key`)
//! name PEM files. Both servers share one certificate, held by a [`ReloadingCert`]
//! resolver: a task reads the files every [`RELOAD_POLL`] and swaps in a new
//! certificate when their content changed and the pair loads (a half-written pair is
//! retried on the next poll; the old certificate serves meanwhile). `server.tls.client_ca`
//! turns on mutual TLS: every client must show a certificate signed by one of those CAs
//! (read once, at start).
//!
//! The gRPC config offers ALPN `h2` only; the HTTP one `h2` and `http/1.1`.

mod listen;

pub use listen::{Conn, HttpListener, grpc_incoming};

use crate::config::TlsSettings;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the certificate and key files are read again.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);
/// A client that has not finished its TLS handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("server.tls.cert and server.tls.key go together: {missing} is not set")]
    Incomplete { missing: &'static str },
    #[error("server.tls.client_ca is set, but TLS is off (no server.tls.cert and key)")]
    ClientCaWithoutTls,
    #[error("{setting}: cannot read {}: {source}", path.display())]
    Unreadable {
        setting: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting}: {} holds no usable PEM {what}: {detail}", path.display())]
    Pem {
        setting: &'static str,
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error("server.tls.key {} does not fit server.tls.cert {}: {source}", key.display(), cert.display())]
    KeyRejected {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("server.tls.client_ca {}: {detail}", path.display())]
    ClientCa { path: PathBuf, detail: String },
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

impl TlsError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Incomplete { .. } | Self::ClientCaWithoutTls => "TLS_SETTINGS_INCOMPLETE",
            Self::Unreadable { .. } => "TLS_FILE_UNREADABLE",
            Self::Pem { .. } => "TLS_PEM_INVALID",
            Self::KeyRejected { .. } => "TLS_KEY_REJECTED",
            Self::ClientCa { .. } => "TLS_CLIENT_CA_INVALID",
            Self::Config(_) => "TLS_CONFIG_INVALID",
        }
    }
}

/// The server side of TLS: one config per port, sharing a reloading certificate.
#[derive(Clone)]
pub struct TlsServer {
    grpc: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
    mutual: bool,
}

impl TlsServer {
    /// `None` when TLS is off. Otherwise loads the certificate, key and client CA (errors
    /// name the setting and the file) and starts the reload task, which ends on
    /// `shutdown`.
    pub fn start(
        settings: &TlsSettings,
        shutdown: CancellationToken,
    ) -> Result<Option<(Self, JoinHandle<()>)>, TlsError> {
        let (cert, key) = match (&settings.cert, &settings.key) {
            (None, None) if settings.client_ca.is_some() => {
                return Err(TlsError::ClientCaWithoutTls);
            }
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(TlsError::Incomplete { missing: "key" }),
            (None, Some(_)) => return Err(TlsError::Incomplete { missing: "cert" }),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let files = KeyFiles { cert, key };
        let (pem, certified) = files.load(&provider)?;
        let resolver = Arc::new(ReloadingCert {
            current: RwLock::new(Arc::new(certified)),
        });
        let verifier = match &settings.client_ca {
            None => None,
            Some(path) => Some(client_verifier(path, &provider)?),
        };
        let config = |alpn: &[&[u8]]| -> Result<Arc<ServerConfig>, TlsError> {
            let builder = ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(TlsError::Config)?;
            let builder = match &verifier {
                Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
                None => builder.with_no_client_auth(),
            };
            let mut config = builder.with_cert_resolver(resolver.clone());
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(Arc::new(config))
        };
        let server = Self {
            grpc: config(&[b"h2"])?,
            http: config(&[b"h2", b"http/1.1"])?,
            mutual: verifier.is_some(),
        };
        tracing::info!(
            cert = %files.cert.display(),
            mutual = server.mutual,
            "TLS on for gRPC and HTTP"
        );
        let task = tokio::spawn(reload_on_change(files, pem, resolver, provider, shutdown));
        Ok(Some((server, task)))
    }

    /// Whether clients must show a certificate.
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }
}

/// Hands every handshake the certificate loaded last.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("not poisoned").clone())
    }
}

#[derive(Clone)]
struct KeyFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// The two files' bytes, to see whether they changed.
type Pem = (Vec<u8>, Vec<u8>);

impl KeyFiles {
    fn load(&self, provider: &CryptoProvider) -> Result<(Pem, CertifiedKey), TlsError> {
        let cert_pem = read("server.tls.cert", &self.cert)?;
        let key_pem = read("server.tls.key", &self.key)?;
        let certified = self.parse(&cert_pem, &key_pem, provider)?;
        Ok(((cert_pem, key_pem), certified))
    }

    fn parse(
        &self,
        cert_pem: &[u8],
        key_pem: &[u8],
        provider: &CryptoProvider,
    ) -> Result<CertifiedKey, TlsError> {
        let chain = certificates("server.tls.cert", &self.cert, cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
            setting: "server.tls.key",
            path: self.key.clone(),
            what: "private key",
            detail: e.to_string(),
        })?;
        CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::KeyRejected {
            cert: self.cert.clone(),
            key: self.key.clone(),
            source,
        })
    }
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        setting,
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file; at least one.
fn certificates(
    setting: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |detail: String| TlsError::Pem {
        setting,
        path: path.to_owned(),
        what: "certificate",
        detail,
    };
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid("no CERTIFICATE section".into()));
    }
    Ok(chain)
}

/// Requires a client certificate signed by one of the CAs in `path`.
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let pem = read("server.tls.client_ca", path)?;
    let mut roots = RootCertStore::empty();
    for ca in certificates("server.tls.client_ca", path, &pem)? {
        roots.add(ca).map_err(|e| TlsError::ClientCa {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::ClientCa {
            path: path.to_owned(),
            detail: e.to_string(),
        })
}

/// Every [`RELOAD_POLL`], reads the files; when their content changed and the new pair
/// loads, swaps it in. A pair that does not load is reported once and retried.
async fn reload_on_change(
    files: KeyFiles,
    mut loaded: Pem,
    resolver: Arc<ReloadingCert>,
    provider: Arc<CryptoProvider>,
    shutdown: CancellationToken,
) {
    let mut reported: Option<Pem> = None;
    let mut ticks = tokio::time::interval(RELOAD_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let (cert, key) =
            match tokio::try_join!(tokio::fs::read(&files.cert), tokio::fs::read(&files.key)) {
                Ok(pair) => pair,
                // Mid-rotation (a secret's symlinks being swapped): try again next poll.
                Err(e) => {
                    tracing::debug!(error = %e, "TLS files unreadable for now");
                    continue;
                }
            };
        if (&cert, &key) == (&loaded.0, &loaded.1) {
            continue;
        }
        let pem = (cert, key);
        match files.parse(&pem.0, &pem.1, &provider) {
            Ok(certified) => {
                *resolver.current.write().expect("not poisoned") = Arc::new(certified);
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                loaded = pem;
                reported = None;
            }
            Err(e) => {
                if reported.as_ref() != Some(&pem) {
                    tracing::warn!(error = %e, code = e.code(), "TLS files changed but do not load; keeping the old certificate");
                    reported = Some(pem);
                }
            }
        }
    }
}
