//! Accepting connections, in plain text or TLS, for tonic (an incoming stream) and axum
//! (a [`Listener`]).
//!
//! With TLS, one task accepts TCP and starts a handshake task per connection (bounded by
//! [`HANDSHAKE_TIMEOUT`]), so a slow or silent client never holds up the others; the
//! finished streams reach the server through a channel. Failed handshakes (no client
//! certificate under mutual TLS, a client that does not trust us, plain text on a TLS
//! port) are logged at debug and dropped: the server never sees them.

use super::{HANDSHAKE_TIMEOUT, TlsServer};
use axum::serve::Listener;
use futures::Stream;
use futures::future::Either;
use rustls::ServerConfig;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// Finished handshakes waiting for the server to take them.
const BACKLOG: usize = 128;

/// An accepted connection: plain TCP, or TLS over TCP.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The gRPC server's connections: plain (`TcpIncoming`, TCP_NODELAY) without TLS.
pub fn grpc_incoming(
    listener: TcpListener,
    tls: Option<&TlsServer>,
    shutdown: CancellationToken,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    match tls {
        None => Either::Left(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(|stream| stream.map(Conn::Plain)),
        ),
        Some(tls) => {
            let accepted = accept_tls(listener, tls.grpc.clone(), shutdown);
            Either::Right(ReceiverStream::new(accepted).map(|(conn, _)| Ok(conn)))
        }
    }
}

/// The HTTP server's listener.
pub enum HttpListener {
    Plain(TcpListener),
    Tls {
        accepted: mpsc::Receiver<(Conn, SocketAddr)>,
        local: SocketAddr,
    },
}

impl HttpListener {
    pub fn new(
        listener: TcpListener,
        tls: Option<&TlsServer>,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        Ok(match tls {
            None => Self::Plain(listener),
            Some(tls) => Self::Tls {
                local: listener.local_addr()?,
                accepted: accept_tls(listener, tls.http.clone(), shutdown),
            },
        })
    }
}

impl Listener for HttpListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self {
            Self::Plain(listener) => {
                let (stream, peer) = Listener::accept(listener).await;
                (Conn::Plain(stream), peer)
            }
            Self::Tls { accepted, .. } => match accepted.recv().await {
                Some(next) => next,
                // The acceptor stopped: shutdown, which ends the server too.
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Plain(listener) => listener.local_addr(),
            Self::Tls { local, .. } => Ok(*local),
        }
    }
}

/// Accepts TCP on `listener` until `shutdown` (or until nobody takes connections), and
/// hands over each connection whose handshake succeeds.
fn accept_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
) -> mpsc::Receiver<(Conn, SocketAddr)> {
    let (send, accepted) = mpsc::channel(BACKLOG);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = send.closed() => return,
                next = listener.accept() => match next {
                    Ok(next) => next,
                    Err(e) => {
                        // Out of file descriptors and the like: back off a little
                        // rather than spin.
                        tracing::warn!(error = %e, "accepting a TCP connection failed");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        }
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, send) = (acceptor.clone(), send.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = send.send((Conn::Tls(Box::new(stream)), peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    accepted
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match self {
            Self::Plain(s) => s.connect_info(),
            Self::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}
