//! Settles every asynchronous native call through one threadsafe function.
//!
//! A per-call `JsDeferred` creates and tears down a threadsafe function (and
//! its libuv handle) for every request. Here each JS environment has one
//! queue: finished calls are pushed to a list, the first push into an empty
//! list wakes the JS thread once, and one callback settles the whole batch.
//! The function is weak (it never holds the event loop); lib/calls.js keeps
//! the loop alive while calls are pending. Token fetches, scoring,
//! generation and stream events all go this way (measured against a
//! per-call deferred: bench/ASYNC.md).
//!
//! The queue also bounds its calls to the life of its environment: when a
//! worker is terminated (or the process exits) the calls it submitted but
//! had not yet flushed are started and dropped at once, and those in flight
//! are dropped (closing their connections), instead of sitting in the
//! runtime's queue until another thread happens to flush it.

use super::NativeError;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A value built on the JS thread (a typed result object).
pub trait ToJs: Send {
    fn to_js(self: Box<Self>, env: sys::napi_env) -> Result<sys::napi_value>;
}

impl<T: ToNapiValue + Send> ToJs for T {
    fn to_js(self: Box<Self>, env: sys::napi_env) -> Result<sys::napi_value> {
        // SAFETY: called on the JS thread with its env, in the queue's callback.
        unsafe { T::to_napi_value(env, *self) }
    }
}

/// How a call ended; JS reads the kind from the low two bits of its code.
pub enum Outcome {
    /// Resolve with this text, parsed as JSON by the caller's parser (kind 0).
    Text(String),
    /// Reject with this error (kind 1).
    Error(crate::error::Error),
    /// Resolve with null: a stream's end (kind 2).
    End,
    /// Resolve with this value as is (kind 3).
    Value(Box<dyn ToJs>),
}

impl Outcome {
    fn kind(&self) -> u32 {
        match self {
            Outcome::Text(_) => 0,
            Outcome::Error(_) => 1,
            Outcome::End => 2,
            Outcome::Value(_) => 3,
        }
    }
}

impl ToNapiValue for Outcome {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        match val {
            Outcome::Text(t) => String::to_napi_value(env, t),
            Outcome::Error(e) => NativeError::to_napi_value(env, NativeError::from(e)),
            Outcome::End => Null::to_napi_value(env, Null),
            Outcome::Value(v) => v.to_js(env),
        }
    }
}

impl From<Option<String>> for Outcome {
    /// A stream's next event, or its end.
    fn from(r: Option<String>) -> Self {
        match r {
            Some(t) => Outcome::Text(t),
            None => Outcome::End,
        }
    }
}

type Batch = FnArgs<(Vec<u32>, Vec<Outcome>)>;
type Tsfn = ThreadsafeFunction<(), (), Batch, Status, false, true>;

pub struct Queue {
    items: Arc<Mutex<Vec<(u32, Outcome)>>>,
    /// Spaces the wake-ups of the JS thread under load.
    pacer: crate::runtime::Pacer,
    tsfn: Tsfn,
    /// Cancelled when the environment is torn down.
    closed: CancellationToken,
}

impl Queue {
    /// Runs `work` on the shared runtime (from the next `flush`) and
    /// completes `id` with its outcome, unless the environment goes first:
    /// then the work is dropped, unstarted or mid-flight.
    pub fn run<O: Into<Outcome>, F>(
        self: &Arc<Self>,
        id: u32,
        work: impl FnOnce() -> F + Send + 'static,
    ) where
        F: Future<Output = crate::error::Result<O>> + Send + 'static,
    {
        self.start(id, work, false)
    }

    /// As `run`, for a service call whose time (submission to completion)
    /// tells the pacer how long calls take (not a token wait or a stream's
    /// next event, whose time says nothing of that).
    pub fn run_call<O: Into<Outcome>, F>(
        self: &Arc<Self>,
        id: u32,
        work: impl FnOnce() -> F + Send + 'static,
    ) where
        F: Future<Output = crate::error::Result<O>> + Send + 'static,
    {
        self.start(id, work, true)
    }

    /// `work` builds the call's future on the runtime thread (it is
    /// kilobytes: the JS thread only boxes the small closure).
    fn start<O: Into<Outcome>, F>(
        self: &Arc<Self>,
        id: u32,
        work: impl FnOnce() -> F + Send + 'static,
        timed: bool,
    ) where
        F: Future<Output = crate::error::Result<O>> + Send + 'static,
    {
        let q = self.clone();
        let submitted = timed.then(std::time::Instant::now);
        crate::runtime::submit(move || async move {
            tokio::select! {
                biased;
                _ = q.closed.cancelled() => {}
                r = crate::runtime::unpanicked(work()) => {
                    if let Some(t) = submitted {
                        q.pacer.took(t.elapsed());
                    }
                    q.complete(id, match r {
                        Ok(o) => o.into(),
                        Err(e) => Outcome::Error(e),
                    })
                }
            }
        });
    }

    /// Cancelled when this queue's environment goes away.
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// Whether its environment has gone away.
    pub(super) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// The environment is going away: drop its calls, and start any still
    /// queued so that they do (and release what they hold, such as a stream).
    fn close(&self) {
        self.closed.cancel();
        crate::runtime::flush();
    }

    /// Hands a finished call to JS (any thread). The first item into an
    /// empty list schedules one wake-up of the JS thread, after the other
    /// work of this runtime turn, so calls finishing together settle
    /// together; under load, not before the pacer's window since the last
    /// wake-up has passed (the calls finishing meanwhile join the batch).
    pub(super) fn complete(self: &Arc<Self>, id: u32, outcome: Outcome) {
        let first = {
            let mut items = self.items.lock();
            items.push((id, outcome));
            items.len() == 1
        };
        if !first {
            return;
        }
        let me = self.clone();
        match self.pacer.hold() {
            Some(wait) if tokio::runtime::Handle::try_current().is_ok() => {
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    me.wake_js();
                });
            }
            _ => crate::runtime::defer(move || me.wake_js()),
        }
    }

    fn wake_js(&self) {
        self.pacer.sent();
        // Fails only while the environment shuts down; nothing is waiting then.
        let _ = self.tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
    }
}

impl From<String> for Outcome {
    fn from(t: String) -> Self {
        Outcome::Text(t)
    }
}

/// Starts the calls submitted since the last flush (lib/calls.js calls it
/// once per tick, so a burst of calls costs one wake-up of the I/O thread).
#[napi]
pub fn flush_calls() {
    crate::runtime::flush();
}

/// One per JS environment: `new CompletionQueue((codes, values) => ...)`,
/// where `codes[i] >>> 2` is the call id and `codes[i] & 3` the kind of
/// `values[i]`: 0 text (JSON to parse), 1 a `NativeError`, 2 the end of a
/// stream (null), 3 a value to resolve with as is.
#[napi]
pub struct CompletionQueue {
    pub(crate) inner: Arc<Queue>,
}

#[napi]
impl CompletionQueue {
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "(codes: number[], values: unknown[]) => void")] callback: Function<
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
                let mut values = Vec::with_capacity(batch.len());
                for (id, outcome) in batch {
                    codes.push(id << 2 | outcome.kind());
                    values.push(outcome);
                }
                Ok(FnArgs::from((codes, values)))
            })?;
        let inner = Arc::new(Queue {
            pacer: crate::runtime::Pacer::from_env(),
            items,
            tsfn,
            closed: CancellationToken::new(),
        });
        env.add_env_cleanup_hook(inner.clone(), |q| q.close())?;
        Ok(CompletionQueue { inner })
    }
}
