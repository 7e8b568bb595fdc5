//! What the JS layer needs for its OpenTelemetry spans and metrics: the
//! story of a traced call (token wait, retries, the 401 refresh, the last
//! status), and the token fetches that went to the network.
//!
//! Nothing here runs unless asked. A call is traced only when it carries a
//! `CallTrace` (lib/ makes one only while a tracer or meter provider is
//! registered); token fetches are timed only while an `Observer` is set or
//! when a traced call started them. Times are ms on one monotonic clock
//! (`now_ms`), which the JS layer maps onto its own once.
//!
//! Nothing recorded here holds a secret: statuses, error codes, the kind of
//! credential, the token service's origin.

use crate::error::Error;
use parking_lot::{Mutex, RwLock};
use reqwest::header::{HeaderName, HeaderValue};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn anchor() -> Instant {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    *ANCHOR.get_or_init(Instant::now)
}

/// Now, in ms since this process's telemetry clock started.
pub fn now_ms() -> f64 {
    ms(Instant::now())
}

/// `t` on the telemetry clock (ms).
pub fn ms(t: Instant) -> f64 {
    t.saturating_duration_since(anchor()).as_secs_f64() * 1000.0
}

/// Something that happened during a traced call.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `retry`, `token.wait` or `token.refresh`.
    pub name: &'static str,
    pub at_ms: f64,
    /// The HTTP status that caused it (a retried 429, the 401 refused token).
    pub status: Option<u16>,
    /// Our error code, for a failure without a status (`ERR_NETWORK`, ...).
    pub error: Option<&'static str>,
    /// `retry`: the delay before it; `token.wait`: how long the call waited.
    pub ms: Option<f64>,
}

/// A token request that went to the network.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetch {
    /// The kind of credential (`iam`, `cp4d`, ...).
    pub kind: &'static str,
    /// The token service's origin (`https://iam.cloud.ibm.com`), when known.
    pub endpoint: Option<String>,
    /// A refresh nobody waited for.
    pub background: bool,
    pub start_ms: f64,
    pub end_ms: f64,
    pub status: Option<u16>,
    pub error: Option<&'static str>,
}

/// What a traced call did, as the JS layer reads it once the call is over.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub events: Vec<Event>,
    /// Token fetches this call started and waited for.
    pub fetches: Vec<Fetch>,
    /// The last HTTP status the service answered with.
    pub status: Option<u16>,
    /// Requests sent again (retries, and the one after a refused token).
    pub resends: u32,
    /// The kind of credential the call authenticated with.
    pub auth_kind: Option<&'static str>,
    /// Token lookups answered by the cache at once, and those that waited.
    pub token_hits: u32,
    pub token_misses: u32,
}

/// A traced call: the trace context headers it sends, its trace id for log
/// lines, and its report.
pub struct CallTrace {
    pub trace_id: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    report: Mutex<Option<Report>>,
}

impl std::fmt::Debug for CallTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTrace")
            .field("trace_id", &self.trace_id)
            .finish_non_exhaustive()
    }
}

/// Headers a propagator may not set: they are the request's own.
const RESERVED: [&str; 6] = [
    "authorization",
    "content-type",
    "content-length",
    "accept",
    "host",
    "x-global-transaction-id",
];

impl CallTrace {
    /// A trace for one call; `headers` as a propagator wrote them. Names or
    /// values that are not valid in a header, or that would replace one of
    /// the request's own, are left out.
    pub fn new(trace_id: String, headers: &[(String, String)]) -> Self {
        let mut valid = Vec::with_capacity(headers.len());
        for (k, v) in headers {
            let name = match HeaderName::from_bytes(k.as_bytes()) {
                Ok(n) if !RESERVED.contains(&n.as_str()) => n,
                _ => {
                    crate::log::debug!(
                        "trace context header {k:?} left out: not a header we may send"
                    );
                    continue;
                }
            };
            match crate::http::header_value(v, "trace context") {
                Ok(mut value) => {
                    value.set_sensitive(false);
                    valid.push((name, value));
                }
                Err(_) => crate::log::debug!("trace context header {k:?} left out: invalid value"),
            }
        }
        CallTrace {
            trace_id,
            headers: valid,
            report: Mutex::new(Some(Report::default())),
        }
    }

    /// The report so far; later records go nowhere (a fetch still running
    /// goes to the observer instead).
    pub fn take(&self) -> Report {
        self.report.lock().take().unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut Report)) {
        if let Some(r) = self.report.lock().as_mut() {
            f(r);
        }
    }

    fn event(
        &self,
        name: &'static str,
        status: Option<u16>,
        error: Option<&'static str>,
        ms: Option<f64>,
    ) {
        let at_ms = now_ms();
        self.with(|r| {
            r.events.push(Event {
                name,
                at_ms,
                status,
                error,
                ms,
            })
        });
    }

    /// The service answered with `status`.
    pub fn answered(&self, status: u16) {
        self.with(|r| r.status = Some(status));
    }

    /// Attempt `n` failed with `e` and goes again in `delay`.
    pub fn retry(&self, e: &Error, delay: Duration) {
        let (status, error) = status_or_code(e);
        self.event("retry", status, error, Some(delay.as_secs_f64() * 1000.0));
        self.with(|r| r.resends += 1);
    }

    /// The service refused the token: a new one, and one more request.
    pub fn refresh(&self) {
        self.event("token.refresh", Some(401), None, None);
        self.with(|r| r.resends += 1);
    }

    /// The cache had a token at once.
    pub fn token_hit(&self, kind: &'static str) {
        self.with(|r| {
            r.auth_kind = Some(kind);
            r.token_hits += 1;
        });
    }

    /// The call waited for a token since `since` (the wait ended now, with
    /// `error` if it failed).
    pub fn token_waited(&self, kind: &'static str, since: Instant, error: Option<&Error>) {
        let waited = since.elapsed().as_secs_f64() * 1000.0;
        let (status, code) = error.map(status_or_code).unwrap_or((None, None));
        self.event("token.wait", status, code, Some(waited));
        self.with(|r| {
            r.auth_kind = Some(kind);
            r.token_misses += 1;
        });
    }

    /// A call that authenticates without the cache (a caller's token, none).
    pub fn auth(&self, kind: &'static str) {
        self.with(|r| r.auth_kind = Some(kind));
    }
}

fn status_or_code(e: &Error) -> (Option<u16>, Option<&'static str>) {
    match e.status() {
        Some(s) => (Some(s), None),
        None => (None, Some(e.code())),
    }
}

/// ` trace=<id>` for a log line of a traced call, nothing otherwise.
pub struct Tag<'a>(pub Option<&'a CallTrace>);

impl std::fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(t) if !t.trace_id.is_empty() => write!(f, " trace={}", t.trace_id),
            _ => Ok(()),
        }
    }
}

tokio::task_local! {
    /// The traced call a task works for (so that a token fetch it starts
    /// can be reported to that call).
    static CURRENT: Arc<CallTrace>;
}

/// Runs `f` as the work of the traced call `trace`, if any.
pub async fn within<F: Future>(trace: Option<&Arc<CallTrace>>, f: F) -> F::Output {
    match trace {
        Some(t) => CURRENT.scope(t.clone(), f).await,
        None => f.await,
    }
}

/// The traced call the current task works for, if any.
pub fn current() -> Option<Arc<CallTrace>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Hears the token fetches no traced call waited for (background refreshes,
/// fetches for untraced callers).
pub trait Observer: Send + Sync {
    fn fetched(&self, f: Fetch);
    /// False once it can no longer deliver (its JS environment went away).
    fn alive(&self) -> bool;
}

static OBSERVING: AtomicBool = AtomicBool::new(false);
static OBSERVER: RwLock<Option<Arc<dyn Observer>>> = RwLock::new(None);

/// Sets the observer of token fetches, unless a live one is set already
/// (`None`: removes it).
pub fn observe(o: Option<Arc<dyn Observer>>) {
    let mut slot = OBSERVER.write();
    match o {
        Some(o) if slot.as_ref().is_some_and(|cur| cur.alive()) => drop(o),
        o => {
            OBSERVING.store(o.is_some(), Ordering::Relaxed);
            *slot = o;
        }
    }
}

fn deliver(f: Fetch) {
    let observer = OBSERVER.read().clone();
    match observer {
        Some(o) if o.alive() => o.fetched(f),
        Some(_) => observe(None),
        None => {}
    }
}

/// Times one token request: made by the cache when it starts a fetch (that
/// is when the traced call that caused it is known), timed from `begin`
/// (the request to the service, after any wait on the token store),
/// finished when the answer is in. `None` (nothing to do) unless someone
/// listens.
pub struct FetchWatch {
    origin: Option<Arc<CallTrace>>,
    fetch: Fetch,
}

impl FetchWatch {
    /// A fetch of `kind` from the service at `endpoint` (a URL). A
    /// foreground fetch started by a traced call is reported to that call.
    pub fn start(kind: &'static str, endpoint: Option<&str>, background: bool) -> Option<Self> {
        let origin = if background { None } else { current() };
        if origin.is_none() && !OBSERVING.load(Ordering::Relaxed) {
            return None;
        }
        Some(FetchWatch {
            origin,
            fetch: Fetch {
                kind,
                endpoint: endpoint.and_then(origin_of),
                background,
                start_ms: now_ms(),
                end_ms: 0.0,
                status: None,
                error: None,
            },
        })
    }

    /// The request to the token service goes out now: its time counts from
    /// here.
    pub fn begin(mut self) -> Self {
        self.fetch.start_ms = now_ms();
        self
    }

    pub fn finish(mut self, error: Option<&Error>) {
        self.fetch.end_ms = now_ms();
        if let Some(e) = error {
            self.fetch.status = e.status();
            self.fetch.error = Some(e.code());
        }
        let fetch = self.fetch;
        match self.origin {
            Some(o) => {
                let mut spare = Some(fetch);
                o.with(|r| r.fetches.extend(spare.take()));
                if let Some(f) = spare {
                    deliver(f);
                }
            }
            None => deliver(fetch),
        }
    }
}

/// The origin of a token service's URL (`TokenSource::endpoint`).
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.has_host().then(|| u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests;
