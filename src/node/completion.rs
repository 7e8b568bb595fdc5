//! Settles many promises through one threadsafe function.
//!
//! A per-call `JsDeferred` creates and tears down a threadsafe function (and
//! its libuv handle) for every request. Here each JS environment has one
//! queue: finished calls are pushed to a list, the first push into an empty
//! list wakes the JS thread once, and one callback settles the whole batch.
//! The function is weak (it never holds the event loop); index.js keeps the
//! loop alive while calls are pending.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use std::sync::Arc;

/// How a call ended; the JS side reads it from the low two bits of its code.
pub enum Outcome {
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
}

impl Queue {
    /// Hands a finished call to JS (any thread). The first item into an
    /// empty list schedules one wake-up of the JS thread, after the other
    /// work of this runtime turn, so calls finishing together settle together.
    pub fn complete(self: &Arc<Self>, id: u32, outcome: Outcome) {
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
    pub fn settle(self: &Arc<Self>, id: u32, r: crate::error::Result<Option<String>>) {
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
        Ok(CompletionQueue {
            inner: Arc::new(Queue { items, tsfn }),
        })
    }
}
