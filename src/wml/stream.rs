//! Streamed calls (Server-Sent Events): the request goes out at once, and
//! the events (or the error that ended the stream, including a refused
//! request) arrive in order through `EventStream::next`. Closing or dropping
//! the stream at any point, even before the service has answered, stops the
//! request or closes the connection at once (generation stops server-side
//! and is not billed further).

use super::client::{Op, WmlClient};
use super::{calls::guard, errors, sse, CallOptions};
use crate::auth::caller::{Caller, Presented};
use crate::error::{Error, Result};
use crate::http;
use crate::secret::Secret;
use crate::telemetry::within;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest silence tolerated between two events of a stream.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A stream of events: each item is one event's `data` (a JSON object).
/// Dropping or closing it ends the request or closes the connection.
pub struct EventStream {
    rx: mpsc::Receiver<Result<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventStream {
    /// The next event, or `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<String>> {
        match self.rx.recv().await {
            Some(Ok(s)) => Ok(Some(s)),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    /// A handle that closes the stream from elsewhere (a pending `next`
    /// then ends with `None`).
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WmlClient {
    /// Starts a streamed call on the shared runtime; `stop` (besides the
    /// caller's own cancel in `o`) ends it silently, as when the JS
    /// environment that made it goes away.
    pub fn open_stream(
        self: &Arc<Self>,
        op: Op,
        id: &str,
        body: Bytes,
        o: CallOptions,
        stop: CancellationToken,
    ) -> Result<EventStream> {
        let (url, body) = self.request(op, id, body)?;
        let (tx, rx) = mpsc::channel(32);
        let me = self.clone();
        let trace = o.trace.clone();
        let task = crate::runtime::handle().spawn(async move {
            let run = async {
                // The caller's own timeout bounds the whole stream; the client's
                // default bounds only the opening (a long generation may run on).
                let deadline = o.timeout.map(|t| tokio::time::Instant::now() + t);
                let connect = me.send_with_token(op, &url, &body, &o);
                let (resp, bearer) = match guard(connect, o.cancel.as_ref(), me.deadline(&o)).await
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                pump(
                    resp,
                    &tx,
                    o.cancel.clone().unwrap_or_default(),
                    deadline,
                    (&me.auth, &bearer),
                )
                .await
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => {}
                _ = crate::runtime::unpanicked(async { within(trace.as_ref(), run).await; Ok(()) }) => {}
            }
        });
        Ok(EventStream { rx, task })
    }
}

/// Reads the response, parses events and hands them over, until the end,
/// an error event, a cancel, the deadline, or the reader going away. An
/// error event refusing the token `presented` drops it from the cache.
async fn pump(
    mut resp: reqwest::Response,
    tx: &mpsc::Sender<Result<String>>,
    cancel: CancellationToken,
    deadline: Option<tokio::time::Instant>,
    (auth, presented): (&Caller, &Presented),
) {
    let token = presented.secret();
    let mut parser = sse::Parser::new();
    let mut events = Vec::new();
    loop {
        let idle = tokio::time::Instant::now() + STREAM_IDLE_TIMEOUT;
        let chunk = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Aborted),
            _ = tx.closed() => return,
            r = tokio::time::timeout_at(deadline.map_or(idle, |d| d.min(idle)), resp.chunk()) => match r {
                Err(_) if deadline.is_none_or(|d| idle <= d) => Err(Error::Timeout("the stream went quiet for too long".into())),
                Err(_) => Err(Error::Timeout("the stream did not finish in time".into())),
                Ok(Err(e)) => Err(http::transport_error(&e, "WML stream")),
                Ok(Ok(c)) => Ok(c),
            },
        };
        let done = match chunk {
            Ok(Some(bytes)) => {
                if parser.push(&bytes, &mut events).is_err() {
                    let _ = tx
                        .send(Err(Error::BadResponse {
                            status: 200,
                            message: "a stream event exceeded 16 MiB".into(),
                        }))
                        .await;
                    return;
                }
                false
            }
            Ok(None) => {
                parser.finish(&mut events);
                true
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        for ev in events.drain(..) {
            if ev.data.trim() == "[DONE]" {
                return;
            }
            let item = match errors::from_event(&ev, token.as_ref().map(Secret::expose)) {
                Some(err) => {
                    if errors::token_rejected(&err) {
                        auth.refuse(presented);
                    }
                    let _ = tx.send(Err(err)).await;
                    return;
                }
                None => Ok(ev.data),
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
        if done {
            return;
        }
    }
}
