//! The tower layer in front of both servers: open paths pass; every other request needs
//! a valid Bearer token and carries the [`Caller`] in its extensions, or is answered by
//! the transport's own rejection (gRPC status or HTTP 401).

use super::Authenticator;
use crate::error::Error;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// How a transport answers a request that did not authenticate, and which of its paths
/// need no token.
pub trait Rejection: Clone + Send + Sync + 'static {
    type Body: Send + 'static;
    fn is_open(&self, path: &str) -> bool;
    fn reject(&self, error: Error) -> http::Response<Self::Body>;
}

#[derive(Clone)]
pub struct AuthLayer<R> {
    authenticator: Arc<Authenticator>,
    rejection: R,
}

impl<R> AuthLayer<R> {
    pub fn new(authenticator: Arc<Authenticator>, rejection: R) -> Self {
        Self {
            authenticator,
            rejection,
        }
    }
}

impl<S, R: Clone> Layer<S> for AuthLayer<R> {
    type Service = Authenticated<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            authenticator: self.authenticator.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticated<S, R> {
    inner: S,
    authenticator: Arc<Authenticator>,
    rejection: R,
}

impl<S, R, B> Service<http::Request<B>> for Authenticated<S, R>
where
    S: Service<http::Request<B>, Response = http::Response<R::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: Rejection,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if self.rejection.is_open(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The clone that was made ready is the one to call; leave a fresh one behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let authenticator = self.authenticator.clone();
        let rejection = self.rejection.clone();
        Box::pin(async move {
            let header = request.headers().get(http::header::AUTHORIZATION);
            match authenticator.authenticate(header).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => Ok(rejection.reject(error)),
            }
        })
    }
}
