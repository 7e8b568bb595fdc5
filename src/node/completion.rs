//! Settles many promises through one threadsafe function.
//!
//! A per-call `JsDeferred` creates and tears down a threadsafe function (and
//! its libuv handle) for every request. Here each JS environment has one
//! queue: finished calls are pushed to a list, the first push into an empty
//! list wakes the JS thread once, and one callback settles the whole batch.
//! The function is weak (it never holds the event loop); index.js keeps the
//! loop alive while calls are pending.
//!
//! The queue also bounds its calls to the life of its environment: when a
//! worker is terminated (or the process exits) the calls it submitted but
//! had not yet flushed are started and dropped at once, and those in flight
//! are dropped (closing their connections), instead of sitting in the
//! runtime's queue until another thread happens to flush it.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How a call ended; the JS side reads it from the low two bits of its code.
enum Outcome {
    /// Resolve with this text.
    Text(String),
    /// Reject with this error payload (`Error::to_json`).
    Error(String),
    /// Resolve with null (a stream's end).
    End,
}

type Batch = FnArgs<(Vec<u32>, Vec<String>)>;
type Tsfn = ThreadsafeFunction<(), (), Batch, Status, false, true>;

pub struct Queue {
    items: Arc<Mutex<Vec<(u32, Outcome)>>>,
    tsfn: Tsfn,
    /// Cancelled when the environment is torn down.
    closed: CancellationToken,
}

impl Queue {
    /// Runs `work` on the shared runtime (from the next `flush`) and
    /// completes `id` with its result, unless the environment goes first:
    /// then the work is dropped, unstarted or mid-flight.
    pub fn run(
        self: &Arc<Self>,
        id: u32,
        work: impl Future<Output = crate::error::Result<Option<String>>> + Send + 'static,
    ) {
        let q = self.clone();
        crate::runtime::submit(async move {
            tokio::select! {
                biased;
                _ = q.closed.cancelled() => {}
                r = crate::runtime::unpanicked(work) => q.settle(id, r),
            }
        });
    }

    /// The environment is going away: drop its calls, and start any still
    /// queued so that they do (and release what they hold, such as a stream).
    fn close(&self) {
        self.closed.cancel();
        crate::runtime::flush();
    }

    /// Hands a finished call to JS (any thread). The first item into an
    /// empty list schedules one wake-up of the JS thread, after the other
    /// work of this runtime turn, so calls finishing together settle together.
    fn complete(self: &Arc<Self>, id: u32, outcome: Outcome) {
        let first = {
            let mut items = self.items.lock();
            items.push((id, outcome));
            items.len() == 1
        };
        if first {
            let me = self.clone();
            crate::runtime::defer(move || {
                // Fails only while the environment shuts down; nothing is waiting then.
                let _ = me.tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
            });
        }
    }

    /// Completes `id` with the result of a core call.
    fn settle(self: &Arc<Self>, id: u32, r: crate::error::Result<Option<String>>) {
        self.complete(
            id,
            match r {
                Ok(Some(t)) => Outcome::Text(t),
                Ok(None) => Outcome::End,
                Err(e) => Outcome::Error(e.to_json()),
            },
        );
    }
}

/// Starts the calls submitted since the last flush (lib/calls.js calls it
/// once per tick, so a burst of calls costs one wake-up of the I/O thread).
#[napi]
pub fn flush_calls() {
    crate::runtime::flush();
}

/// One per JS environment: `new CompletionQueue((codes, texts) => ...)`,
/// where `codes[i] >>> 2` is the call id and `codes[i] & 3` is 0 (text),
/// 1 (error JSON) or 2 (end).
#[napi]
pub struct CompletionQueue {
    pub(crate) inner: Arc<Queue>,
}

#[napi]
impl CompletionQueue {
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "(codes: number[], texts: string[]) => void")] callback: Function<
            Batch,
            (),
        >,
    ) -> Result<Self> {
        let items: Arc<Mutex<Vec<(u32, Outcome)>>> = Arc::default();
        let taken = items.clone();
        let tsfn = callback
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |_| {
                let batch = std::mem::take(&mut *taken.lock());
                let mut codes = Vec::with_capacity(batch.len());
                let mut texts = Vec::with_capacity(batch.len());
                for (id, outcome) in batch {
                    let (kind, text) = match outcome {
                        Outcome::Text(t) => (0, t),
                        Outcome::Error(e) => (1, e),
                        Outcome::End => (2, String::new()),
                    };
                    codes.push(id << 2 | kind);
                    texts.push(text);
                }
                Ok(FnArgs::from((codes, texts)))
            })?;
        let inner = Arc::new(Queue {
            items,
            tsfn,
            closed: CancellationToken::new(),
        });
        env.add_env_cleanup_hook(inner.clone(), |q| q.close())?;
        Ok(CompletionQueue { inner })
    }
}
