//! A connection whose writes wait one scheduler turn, so frames of many HTTP/2 streams
//! leave in one write.
//!
//! hyper drives each HTTP/2 stream's body in a task of its own and the connection's
//! frames in another. When one job event wakes thousands of WatchJob streams, each
//! stream's send wakes the connection task and tokio runs it next (its LIFO slot): one
//! write syscall, and one wake-up of the reader, per stream and event. Deferring the
//! first write of each flush by one turn lets the stream tasks already queued add their
//! frames first. A lone response waits for nothing: with an empty run queue the turn is
//! immediate.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, TcpConnectInfo};

pub struct CoalescedWrites<T> {
    inner: T,
    /// Set once this flush has yielded its turn; cleared when the flush completes.
    yielded: bool,
}

impl<T> CoalescedWrites<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            yielded: false,
        }
    }

    /// True if the caller must return `Pending`: the task was woken to run again after
    /// the tasks queued before it.
    fn yield_turn(&mut self, cx: &mut Context<'_>) -> bool {
        if self.yielded {
            return false;
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.yield_turn(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.yield_turn(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if flushed.is_ready() {
            self.yielded = false;
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CoalescedWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Connected<ConnectInfo = TcpConnectInfo>> Connected for CoalescedWrites<T> {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_first_write_of_each_flush_waits_one_turn() {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = CoalescedWrites::new(Vec::<u8>::new());
        let mut io = Pin::new(&mut io);

        assert!(io.as_mut().poll_write(&mut cx, b"one").is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "woken to run again");
        assert!(io.inner.is_empty(), "nothing written before the turn");

        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"one"),
            Poll::Ready(Ok(3))
        ));
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"two"),
            Poll::Ready(Ok(3))
        ));
        assert_eq!(
            io.inner, b"onetwo",
            "later writes of the same flush go straight on"
        );
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());

        let vectored = [IoSlice::new(b"three")];
        assert!(
            io.as_mut()
                .poll_write_vectored(&mut cx, &vectored)
                .is_pending()
        );
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            2,
            "the next flush waits again"
        );
        assert!(
            io.as_mut()
                .poll_write_vectored(&mut cx, &vectored)
                .is_ready()
        );
        assert_eq!(io.inner, b"onetwothree");
    }
}
