//! A gRPC client that sends an API token with every call (the demo, the benchmarks and
//! the tests use it; so can any Rust program).

use crate::proto::transcoder_service_client::TranscoderServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <token>` to each request.
#[derive(Clone)]
pub struct BearerToken(MetadataValue<Ascii>);

impl BearerToken {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Ok(Self(format!("Bearer {token}").parse()?))
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Client = TranscoderServiceClient<InterceptedService<Channel, BearerToken>>;

/// A client over `channel` that authenticates with `token`.
pub fn with_token(channel: Channel, token: &str) -> anyhow::Result<Client> {
    Ok(TranscoderServiceClient::with_interceptor(
        channel,
        BearerToken::new(token)?,
    ))
}

/// Connects to `url` (e.g. `http://127.0.0.1:50051`) and authenticates with `token`.
pub async fn connect(url: &str, token: &str) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(url.to_owned())?.connect().await?;
    with_token(channel, token)
}
