//! The flags every client command shares (server, token, `--json`) and the connection
//! they make.

use super::error::ClientError;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use transcoder::client::Client;

/// How long connecting to the server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The deadline of each unary call (a `watch` stream has none: a job may run for hours).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Clone)]
pub struct Connection {
    /// The server's gRPC address.
    #[arg(long, env = "TRANSCODER_URL", default_value = "http://127.0.0.1:50051")]
    pub url: String,
    /// An API token of your company (`transcoder token create COMPANY` makes one).
    #[arg(long, env = "TRANSCODER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print one JSON document on stdout (JSON lines for a watch) instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl Connection {
    /// Connects to the server, authenticated with the token.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        let token = self
            .token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or(ClientError::NoToken)?;
        let unreachable = |source: tonic::transport::Error| ClientError::Connect {
            url: self.url.clone(),
            source,
        };
        let endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(unreachable)?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel: Channel = endpoint.connect().await.map_err(unreachable)?;
        transcoder::client::with_token(channel, token).map_err(|_| ClientError::BadToken)
    }
}

/// A unary request with the call deadline.
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}
