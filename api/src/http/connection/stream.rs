//! An accepted connection as the HTTP server reads and writes it, with
//! the deadlines the server's own dispatcher does not keep:
//!
//! - every request's head must arrive within the header timeout of its
//!   first byte (the dispatcher times only a connection's first request);
//!   a connection that sends nothing at all is closed at the same time;
//! - a client that takes none of an answer for the send timeout is cut off.
//!
//! To end a connection the stream reports the end of the client's data:
//! the dispatcher then finishes what is in flight and shuts the
//! connection down, and the shutdown sends the stream's own answer
//! (`408`, or a refusal) after everything the dispatcher wrote.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::answers;
use super::framing::{Framing, Phase};
use super::limits::{AddressHold, SlotHandle};

/// A connection's stream, with its deadlines and its place in the limits.
#[derive(Debug)]
pub struct Guarded<S> {
    io: S,
    framing: Framing,
    /// The head the deadline is for (see [`Framing::heads`]).
    timed_head: u64,
    /// When the head being read must be complete, while `armed`.
    deadline: Pin<Box<Sleep>>,
    armed: bool,
    timeouts: Timeouts,
    /// Since when writes have made no progress, while they make none.
    stalled: Option<Pin<Box<Sleep>>>,
    closing: Closing,
    slot: SlotHandle,
    _address: Option<AddressHold>,
}

/// The two deadlines of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a request's head, from its first byte.
    pub header: Duration,
    /// For an answer the client takes none of.
    pub send: Duration,
}

/// Whether, and how, the connection is ending.
#[derive(Debug)]
enum Closing {
    Open,
    /// Without a word: nothing was asked, or the connection was idle.
    Quietly,
    /// With an answer of its own, written when the dispatcher is done.
    Answering {
        answer: Bytes,
        written: usize,
    },
}

impl<S> Guarded<S> {
    /// A connection just accepted: its first head is due within the header
    /// timeout. `refused` ends it at once, with that answer.
    pub fn new(
        io: S,
        timeouts: Timeouts,
        slot: SlotHandle,
        address: Option<AddressHold>,
        refused: Option<Bytes>,
    ) -> Self {
        Self {
            io,
            framing: Framing::default(),
            timed_head: 1,
            deadline: Box::pin(tokio::time::sleep(timeouts.header)),
            armed: true,
            timeouts,
            stalled: None,
            closing: match refused {
                Some(answer) => Closing::Answering { answer, written: 0 },
                None => Closing::Open,
            },
            slot,
            _address: address,
        }
    }

    /// Follows bytes just read: a new head arms the deadline, the end of a
    /// head disarms it; the worker learns when the connection is idle.
    fn follow(&mut self, bytes: &[u8]) {
        self.framing.read(bytes);
        match self.framing.phase() {
            Phase::Head => {
                if self.framing.heads() != self.timed_head {
                    self.timed_head = self.framing.heads();
                    let due = Instant::now() + self.timeouts.header;
                    self.deadline.as_mut().reset(due);
                    self.armed = true;
                }
                self.slot.busy();
            }
            Phase::Body => {
                self.armed = false;
                self.slot.busy();
            }
            Phase::Idle => {
                self.armed = false;
                self.slot.idle();
            }
            // Keeps the deadline it had: see `framing`.
            Phase::Lost => self.slot.busy(),
        }
    }

    fn end(&mut self, answer: Option<Bytes>, reason: &'static str) {
        quotes_core::metrics::record_connection_closed(reason);
        self.closing = match answer {
            None => Closing::Quietly,
            Some(answer) => Closing::Answering { answer, written: 0 },
        };
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    /// Reads, unless the connection must end: then it reports the end of
    /// the client's data.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.read(cx, buf)
    }
}

impl<S: AsyncRead + Unpin> Guarded<S> {
    fn read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !matches!(self.closing, Closing::Open) {
            return Poll::Ready(Ok(()));
        }
        if self.slot.must_close() {
            self.end(None, "idle_under_pressure");
            return Poll::Ready(Ok(()));
        }
        if self.armed && self.deadline.as_mut().poll(cx).is_ready() {
            // A request begun and not finished gets its `408`; a
            // connection that never asked anything is simply closed.
            if self.framing.mid_request() {
                let answer = answers::header_timeout(self.timeouts.header);
                self.end(Some(answer), "header_timeout");
            } else {
                self.end(None, "no_request");
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    self.follow(read);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                self.slot.park(cx.waker());
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        }
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Times a write that made no progress; an error once it has waited
    /// the send timeout.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let send = self.timeouts.send;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(send)));
        ready!(stalled.as_mut().poll(cx));
        quotes_core::metrics::record_connection_closed("send_timeout");
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took none of the answer within the send timeout",
        ))
    }

    fn poll_write_inner(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, data) {
            Poll::Ready(Ok(written)) => {
                self.stalled = None;
                Poll::Ready(Ok(written))
            }
            Poll::Pending => self.stall(cx).map(Err),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        }
    }

    /// Shuts the connection down, after the connection's own answer.
    fn shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Closing::Answering { answer, written } = &self.closing {
            if *written >= answer.len() {
                break;
            }
            let answer = answer.clone();
            let from = *written;
            match ready!(self.poll_write_inner(cx, &answer[from..])) {
                Ok(0) | Err(_) => {
                    self.closing = Closing::Quietly;
                    break;
                }
                Ok(sent) => {
                    if let Closing::Answering { written, .. } = &mut self.closing {
                        *written += sent;
                    }
                }
            }
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.slot.answered();
        this.poll_write_inner(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.stall(cx).map(Err),
            ready @ Poll::Ready(_) => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().shutdown(cx)
    }
}
