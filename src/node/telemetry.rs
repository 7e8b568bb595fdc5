//! Telemetry for lib/telemetry.js: `NativeTrace` (one per traced call: its
//! trace context headers in, its report out), the clock the reports use,
//! and the token fetches no traced call waited for, which arrive on a
//! completion queue as call id 0.

use super::completion::{CompletionQueue, Outcome, Queue};
use crate::telemetry::{self, CallTrace, Event, Fetch, Observer, Report};
use napi_derive::napi;
use std::sync::Arc;

/// One traced call's trace context and report.
#[napi]
pub struct NativeTrace {
    pub(crate) inner: Arc<CallTrace>,
}

#[napi]
impl NativeTrace {
    /// `headers`: `[name, value, name, value, ...]` as the propagator wrote
    /// them (invalid ones, and any that would replace one of the request's
    /// own headers, are left out); `traceId` goes into the debug log lines.
    #[napi(constructor)]
    pub fn new(trace_id: String, headers: Vec<String>) -> Self {
        let mut flat = headers.into_iter();
        let pairs: Vec<(String, String)> =
            std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect();
        NativeTrace {
            inner: Arc::new(CallTrace::new(trace_id, &pairs)),
        }
    }

    /// What the call did; once (later calls get an empty report).
    #[napi]
    pub fn report(&self) -> TraceReport {
        TraceReport::from(self.inner.take())
    }
}

#[napi(object)]
pub struct TraceEvent {
    /// `retry`, `token.wait` or `token.refresh`.
    pub name: String,
    /// On the `telemetryNow()` clock.
    pub at_ms: f64,
    pub status: Option<u32>,
    pub error: Option<String>,
    /// `retry`: the delay before it; `token.wait`: how long the call waited.
    pub ms: Option<f64>,
}

impl From<Event> for TraceEvent {
    fn from(e: Event) -> Self {
        TraceEvent {
            name: e.name.to_string(),
            at_ms: e.at_ms,
            status: e.status.map(u32::from),
            error: e.error.map(str::to_string),
            ms: e.ms,
        }
    }
}

/// A token request that went to the network.
#[napi(object)]
pub struct TokenFetch {
    pub kind: String,
    /// The token service's origin.
    pub endpoint: Option<String>,
    pub background: bool,
    pub start_ms: f64,
    pub end_ms: f64,
    pub status: Option<u32>,
    pub error: Option<String>,
}

impl From<Fetch> for TokenFetch {
    fn from(f: Fetch) -> Self {
        TokenFetch {
            kind: f.kind.to_string(),
            endpoint: f.endpoint,
            background: f.background,
            start_ms: f.start_ms,
            end_ms: f.end_ms,
            status: f.status.map(u32::from),
            error: f.error.map(str::to_string),
        }
    }
}

#[napi(object)]
pub struct TraceReport {
    pub events: Vec<TraceEvent>,
    /// Token requests this call started and waited for.
    pub fetches: Vec<TokenFetch>,
    /// The last HTTP status the service answered with.
    pub status: Option<u32>,
    pub resends: u32,
    pub auth_kind: Option<String>,
    pub token_hits: u32,
    pub token_misses: u32,
}

impl From<Report> for TraceReport {
    fn from(r: Report) -> Self {
        TraceReport {
            events: r.events.into_iter().map(TraceEvent::from).collect(),
            fetches: r.fetches.into_iter().map(TokenFetch::from).collect(),
            status: r.status.map(u32::from),
            resends: r.resends,
            auth_kind: r.auth_kind.map(str::to_string),
            token_hits: r.token_hits,
            token_misses: r.token_misses,
        }
    }
}

/// Now on the clock of every time in a report (ms; monotonic).
#[napi]
pub fn telemetry_now() -> f64 {
    telemetry::now_ms()
}

/// Token fetches no traced call waited for (background refreshes, fetches
/// for untraced callers) complete call id 0 on `queue` with a `TokenFetch`,
/// from now on: unless another live environment listens already.
#[napi]
pub fn observe_token_fetches(queue: &CompletionQueue) {
    telemetry::observe(Some(Arc::new(QueueObserver(queue.inner.clone()))));
}

struct QueueObserver(Arc<Queue>);

impl Observer for QueueObserver {
    fn fetched(&self, f: Fetch) {
        self.0
            .complete(0, Outcome::Value(Box::new(TokenFetch::from(f))));
    }

    fn alive(&self) -> bool {
        !self.0.is_closed()
    }
}
