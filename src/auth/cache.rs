//! The process-wide token cache, for every kind of credential.
//!
//! - One entry per `SourceKey` (kind, credential, settings). The index holds
//!   a keyed 128-bit SipHash of the key; the entry keeps the key itself
//!   (needed to refresh), compares it in constant time on every lookup, and
//!   zeroizes it on drop. Callers whose settings differ in anything never
//!   share an entry, and an entry's requests always go out with its own
//!   settings.
//! - Single flight: however many callers wait, one request runs per entry.
//! - Past 80% of a token's life, callers get the cached token at once while
//!   one background refresh runs; within the expiry margin (10 s, or a tenth
//!   of the lifetime for tokens shorter than 100 s) callers wait for a new one.
//! - A token's life is judged on the issuer's clock (see `Token::new`) and
//!   counted on the local monotonic clock, so local clock skew never matters.
//! - A failed background refresh keeps the valid token and backs off.
//! - Bounded: least recently used entries go first.
//! - With a token store (`set_store`), a fetch goes through it first, so
//!   that every process sharing the store asks once (see `fleet`).
//!
//! `peek_entry` is the hot path: no allocation, no async, one uncontended lock.

use super::jwt::{self, wall_secs};
use super::source::{Fetched, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::log::debug;
use crate::runtime::unpanicked;
use crate::secret::Secret;
use crate::store::Store;
use crate::telemetry;
use lru::LruCache;
use parking_lot::Mutex;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

/// Default bound on the number of cached credentials.
pub const DEFAULT_CAPACITY: usize = 10_000;
const REFRESH_FRACTION: f64 = 0.8;
const EXPIRY_MARGIN_MS: i64 = 10_000;
/// Token times are whole seconds: up to this much of the life may already
/// be gone when the clock we judge by says a second has not passed.
const TIMESTAMP_ROUNDING_MS: i64 = 1_000;
const REFRESH_BACKOFF_BASE_MS: u64 = 1_000;
const REFRESH_BACKOFF_CAP_MS: u64 = 60_000;
/// What a fetch nobody waits for is called (in logs and telemetry).
const BACKGROUND: &str = "background refresh";

/// Milliseconds on a monotonic clock; replaceable in tests.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

pub struct SystemClock(Instant);

impl SystemClock {
    pub fn new() -> Self {
        SystemClock(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// A clock tests move by hand.
#[cfg(test)]
#[derive(Default)]
pub struct ManualClock(AtomicU64);

#[cfg(test)]
impl ManualClock {
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A token and the times (on the cache's clock) that govern it.
pub struct Token {
    /// Unique per token in this process (never 0): lets a caller that kept
    /// the token's text know it is still the current one.
    pub serial: u32,
    pub access_token: Secret,
    /// `Bearer <token>`, built once, marked sensitive.
    pub bearer: reqwest::header::HeaderValue,
    pub token_type: String,
    pub expires_in: i64,
    /// Epoch seconds of expiry.
    pub expiration: i64,
    pub scope: Option<String>,
    pub refresh_token: Option<Secret>,
    pub ims_user_id: Option<i64>,
    /// The whole life (expiry minus issue), ms.
    pub life_ms: u64,
    refresh_at: u64,
    usable_until: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// When a token's life ends and when to refresh it, on the local monotonic
/// clock (ms), from what its issuer said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub life_ms: u64,
    pub refresh_at: u64,
    pub usable_until: u64,
    /// Epoch seconds of expiry: the token's `exp`, else the service's
    /// `expiration`, else the local wall clock plus the life.
    pub expiration: i64,
}

impl Schedule {
    /// The token's life judged against the issuer's clock: what remains is
    /// `exp` minus the issuer's time when it answered (its `Date` header,
    /// else the token's `iat`), counted from `arrived_ms`, the moment the
    /// answer arrived. It is never counted as more than the whole life from
    /// `sent_ms` either, and a second is taken off for whole-second
    /// timestamps. So a token issued some time before it was handed to us
    /// (a caching proxy) is refreshed that much earlier, and clock skew
    /// between us and the issuer plays no part: both times are its own.
    /// Refresh at 80% of the life; never usable within the margin of its end.
    pub fn new(f: &Fetched, sent_ms: u64, arrived_ms: u64, wall_secs: i64) -> Result<Schedule> {
        let claims = jwt::claims(f.access_token.expose()).unwrap_or_default();
        let exp = claims.exp.or(f.expiration.map(|e| e as i64));
        let life_secs = claims
            .life_secs()
            .or_else(|| f.expires_in.map(|s| s as i64).filter(|s| *s > 0))
            .or_else(|| exp.map(|e| e.saturating_sub(f.server_date.unwrap_or(wall_secs))))
            .filter(|s| *s > 0)
        .ok_or_else(|| Error::BadResponse {
            status: 200,
            message: "the token service's token has no usable lifetime (no exp/iat, expires_in or expiration)".into(),
        })?;
        let issuer_now = f.server_date.or(claims.iat);
        let remaining_secs = match (exp, issuer_now) {
            (Some(exp), Some(now)) => exp.saturating_sub(now).min(life_secs),
            _ => life_secs,
        };
        let life_ms = life_secs.saturating_mul(1000);
        let rounding = TIMESTAMP_ROUNDING_MS.min(life_ms / 2);
        let end = (arrived_ms as i64)
            .saturating_add(remaining_secs.saturating_mul(1000))
            .min((sent_ms as i64).saturating_add(life_ms))
            .saturating_sub(rounding);
        let margin = EXPIRY_MARGIN_MS.min(life_ms / 10);
        let usable_until = end.saturating_sub(margin);
        if usable_until <= arrived_ms as i64 {
            return Err(Error::BadResponse {
                status: 200,
                message: format!(
                    "the token service answered with a token that expires in {} s (by its own clock), too soon to use; a caching proxy in front of it may be serving old tokens",
                    remaining_secs.max(0)
                ),
            });
        }
        let start = end - life_ms;
        let refresh_at = start + (life_ms as f64 * REFRESH_FRACTION) as i64;
        Ok(Schedule {
            life_ms: life_ms as u64,
            refresh_at: refresh_at.max(0) as u64,
            usable_until: usable_until as u64,
            expiration: exp.unwrap_or(wall_secs.saturating_add(life_secs)),
        })
    }
}

impl Token {
    pub fn new(f: Fetched, s: Schedule) -> Result<Token> {
        let bearer =
            super::bearer::authorization(&f.access_token).ok_or_else(|| Error::BadResponse {
                status: 200,
                message: "the access token has characters not allowed in a header".into(),
            })?;
        let life_secs = (s.life_ms / 1000) as i64;
        Ok(Token {
            serial: next_serial(),
            bearer,
            expiration: s.expiration,
            expires_in: f.expires_in.map(|s| s as i64).unwrap_or(life_secs),
            token_type: f.token_type.clone().unwrap_or_else(|| "Bearer".into()),
            scope: f.scope.clone(),
            refresh_token: f.refresh_token.clone(),
            ims_user_id: f.ims_user_id,
            access_token: f.access_token,
            life_ms: s.life_ms,
            refresh_at: s.refresh_at,
            usable_until: s.usable_until,
        })
    }

    /// How long from `now` it may be handed out without asking the cache
    /// again (until its refresh point).
    pub fn fresh_for_ms(&self, now: u64) -> u64 {
        self.refresh_at.min(self.usable_until).saturating_sub(now)
    }

    /// How long from `now` it stays usable (until the expiry margin).
    pub fn usable_for_ms(&self, now: u64) -> u64 {
        self.usable_until.saturating_sub(now)
    }

    /// Whether it may still be handed out at `now`.
    fn usable(&self, now: u64) -> bool {
        now < self.usable_until
    }
}

type Waiter = oneshot::Sender<Result<Arc<Token>>>;

struct State {
    token: Option<Arc<Token>>,
    fetching: bool,
    waiters: Vec<Waiter>,
    /// The source the next request uses: the latest caller's. All sources
    /// of an entry have equal keys; they differ at most in timeouts and
    /// retries.
    source: Arc<dyn TokenSource>,
    /// No background refresh before this time (backoff after a failure).
    retry_at: u64,
    failures: u32,
    /// SHA-256 of the last token dropped by `invalidate` (the service
    /// refused it): never taken from the store again.
    refused: Option<[u8; 32]>,
}

pub struct Entry {
    key: SourceKey,
    state: Mutex<State>,
    evicted: AtomicBool,
}

impl Entry {
    /// True once the cache has dropped this entry (LRU or `clear`).
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    pub fn key(&self) -> &SourceKey {
        &self.key
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.key.kind)
            .finish_non_exhaustive()
    }
}

/// Counters bumped whenever any cached token is replaced or dropped, so a
/// layer that memoises token texts (the JS hot path) knows to look again.
/// One cell per subscriber: each JS environment has its own.
#[derive(Default)]
pub struct Changes {
    cells: Mutex<Vec<Arc<dyn ChangeCell>>>,
}

/// Where a change count is kept: an atomic of ours, or memory the JS engine
/// owns (see the napi layer).
pub trait ChangeCell: Send + Sync {
    fn bump(&self);
}

impl ChangeCell for AtomicU32 {
    fn bump(&self) {
        self.fetch_add(1, Ordering::Release);
    }
}

impl Changes {
    pub fn subscribe(&self, cell: Arc<dyn ChangeCell>) {
        self.cells.lock().push(cell);
    }

    pub fn unsubscribe(&self, cell: &Arc<dyn ChangeCell>) {
        self.cells.lock().retain(|c| !Arc::ptr_eq(c, cell));
    }

    fn bump(&self) {
        for c in self.cells.lock().iter() {
            c.bump();
        }
    }
}

pub struct TokenCache {
    pub changes: Changes,
    fleet: fleet::Fleet,
    clock: Arc<dyn Clock>,
    runtime: tokio::runtime::Handle,
    hash_keys: (u64, u64),
    map: Mutex<LruCache<u128, Arc<Entry>>>,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl TokenCache {
    pub fn new(
        clock: Arc<dyn Clock>,
        capacity: usize,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Arc::new(TokenCache {
            changes: Changes::default(),
            fleet: fleet::Fleet::default(),
            clock,
            runtime,
            hash_keys: (
                getrandom::u64().unwrap_or(0x243f_6a88_85a3_08d3),
                getrandom::u64().unwrap_or(0x1319_8a2e_0370_7344),
            ),
            map: Mutex::new(LruCache::new(cap)),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    fn hash(&self, k: &SourceKey) -> u128 {
        let mut h = SipHasher13::new_with_keys(self.hash_keys.0, self.hash_keys.1);
        for part in [k.kind, k.credential.expose(), k.settings.expose()] {
            h.write_usize(part.len());
            h.write(part.as_bytes());
        }
        h.finish128().as_u128()
    }

    /// The entry for `k`, if cached.
    pub fn lookup(&self, k: &SourceKey) -> Option<Arc<Entry>> {
        let hash = self.hash(k);
        let entry = self.map.lock().get(&hash).cloned()?;
        entry.key.matches(k).then_some(entry)
    }

    /// A usable cached token for `k`, starting a background refresh when one
    /// is due. `None` means the caller must `get` (and wait).
    pub fn peek(self: &Arc<Self>, k: &SourceKey) -> Option<Arc<Token>> {
        self.peek_entry(&self.lookup(k)?)
    }

    /// Hot path for a caller that already holds its entry.
    pub fn peek_entry(self: &Arc<Self>, entry: &Arc<Entry>) -> Option<Arc<Token>> {
        let now = self.clock.now_ms();
        let mut st = entry.state.lock();
        let token = st.token.as_ref().filter(|t| t.usable(now))?.clone();
        if now >= token.refresh_at && now >= st.retry_at {
            self.start_fetch(entry, &mut st, BACKGROUND);
        }
        Some(token)
    }

    /// The entry for `source`'s key, created if new. An existing entry takes
    /// `source` for its next request (its timeouts and retries; everything
    /// else is equal, as the keys are).
    pub fn entry(self: &Arc<Self>, source: Arc<dyn TokenSource>) -> Arc<Entry> {
        let hash = self.hash(source.key());
        let mut map = self.map.lock();
        if let Some(e) = map.get(&hash).filter(|e| e.key.matches(source.key())) {
            let e = e.clone();
            drop(map);
            e.state.lock().source = source;
            return e;
        }
        let entry = Arc::new(Entry {
            key: source.key().clone(),
            state: Mutex::new(State {
                token: None,
                fetching: false,
                waiters: Vec::new(),
                source,
                retry_at: 0,
                failures: 0,
                refused: None,
            }),
            evicted: AtomicBool::new(false),
        });
        if let Some((_, old)) = map.push(hash, entry.clone()) {
            old.evicted.store(true, Ordering::Relaxed);
        }
        entry
    }

    /// A usable token for `entry`, waiting for the service when there is none.
    pub async fn get(self: &Arc<Self>, entry: &Arc<Entry>) -> Result<Arc<Token>> {
        if let Some(t) = self.peek_entry(entry) {
            return Ok(t);
        }
        let rx = {
            let mut st = entry.state.lock();
            let now = self.clock.now_ms();
            if let Some(t) = st.token.as_ref().filter(|t| t.usable(now)) {
                return Ok(t.clone());
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.push(tx);
            self.start_fetch(entry, &mut st, "token request");
            rx
        };
        rx.await
            .unwrap_or_else(|_| Err(Error::internal("the token request task went away")))
    }

    /// Drops the entry's token so the next call fetches a new one. With
    /// `only` set, only if that is still the current token (so that many
    /// callers rejecting one token cause one refresh).
    pub fn invalidate(&self, entry: &Entry, only: Option<&Arc<Token>>) {
        let mut st = entry.state.lock();
        let same = match (only, &st.token) {
            (Some(o), Some(cur)) => Arc::ptr_eq(o, cur),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if same {
            if let Some(t) = st.token.take() {
                st.refused = Some(fleet::digest(&t.access_token));
            }
            st.retry_at = 0;
            drop(st);
            self.changes.bump();
        }
    }

    /// Empties the cache; entries nobody else holds are freed (and their keys zeroized).
    pub fn clear(&self) {
        let mut map = self.map.lock();
        for (_, e) in map.iter() {
            e.evicted.store(true, Ordering::Relaxed);
        }
        map.clear();
        self.changes.bump();
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.map.lock().cap().get()
    }

    /// The bound a caller asked for (`maxEntries`): a whole number >= 1.
    pub fn capacity_from(n: f64) -> Result<usize> {
        if n.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(&n) {
            Ok(n as usize)
        } else {
            Err(Error::invalid(
                "options.maxEntries must be a whole number >= 1",
            ))
        }
    }

    /// Changes the bound; shrinking evicts the least recently used entries.
    pub fn set_capacity(&self, capacity: usize) {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        let mut map = self.map.lock();
        while map.len() > cap.get() {
            if let Some((_, e)) = map.pop_lru() {
                e.evicted.store(true, Ordering::Relaxed);
            }
        }
        map.resize(cap);
    }

    /// `Token::fresh_for_ms` on this cache's clock.
    pub fn fresh_for_ms(&self, t: &Token) -> u64 {
        t.fresh_for_ms(self.clock.now_ms())
    }

    /// Shares tokens through `store` from now on (None: stops). Fetches
    /// under way finish with the store they started with.
    pub fn set_store(&self, store: Option<Store>) {
        self.fleet.set(store);
    }

    /// Where the token store is (`redis://host:port/db`), if one is set.
    pub fn store_target(&self) -> Option<String> {
        self.fleet.store().map(|s| s.target())
    }

    /// What this cache did with the token store.
    pub fn fleet_stats(&self) -> fleet::FleetStats {
        self.fleet.stats()
    }

    /// Token requests this cache sent to a token service (each may make
    /// several attempts); tokens taken from the store are not counted.
    pub fn requests_started(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Token requests that failed (after their retries).
    pub fn requests_failed(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn start_fetch(self: &Arc<Self>, entry: &Arc<Entry>, st: &mut State, why: &'static str) {
        if st.fetching {
            return;
        }
        st.fetching = true;
        let source = st.source.clone();
        debug!(
            "{why} for {}{}",
            source.describe(),
            telemetry::Tag(telemetry::current().as_deref())
        );
        // Telemetry (only when someone listens): heard before the waiters
        // are. The call that caused the fetch is known here; the request's
        // time starts in `fetch_direct`, after any wait on the token store.
        let watch =
            telemetry::FetchWatch::start(source.key().kind, source.endpoint(), why == BACKGROUND);
        let known = fleet::Known {
            held: st.token.clone(),
            refused: st.refused,
        };
        let (cache, entry) = (self.clone(), entry.clone());
        self.runtime.spawn(async move {
            // A panic must not leave the entry marked as fetching forever.
            // The watch ends with a request to the service; a token taken
            // from the store drops it (no span for what was not fetched).
            let res = unpanicked(cache.obtain(source.clone(), known, watch)).await;
            cache.settle(&entry, &*source, res);
        });
    }

    /// One request to the token service, its answer judged (`Schedule`);
    /// `watch` (telemetry, when someone listens) hears how it went.
    async fn fetch_direct(
        &self,
        source: &dyn TokenSource,
        watch: Option<telemetry::FetchWatch>,
    ) -> Result<Arc<Token>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let watch = watch.map(telemetry::FetchWatch::begin);
        let sent = self.clock.now_ms();
        let res = unpanicked(source.fetch()).await;
        let arrived = self.clock.now_ms();
        let res = res.and_then(|f| {
            let s = Schedule::new(&f, sent, arrived, wall_secs())?;
            Token::new(f, s).map(Arc::new)
        });
        if let Some(w) = watch {
            w.finish(res.as_ref().err());
        }
        res
    }

    fn settle(&self, entry: &Entry, source: &dyn TokenSource, res: Result<Arc<Token>>) {
        let now = self.clock.now_ms();
        let waiters = {
            let mut st = entry.state.lock();
            st.fetching = false;
            match &res {
                Ok(t) => {
                    st.token = Some(t.clone());
                    st.failures = 0;
                    st.retry_at = 0;
                }
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    st.failures = st.failures.saturating_add(1);
                    let backoff = (REFRESH_BACKOFF_BASE_MS
                        << st.failures.min(16).saturating_sub(1))
                    .min(REFRESH_BACKOFF_CAP_MS);
                    st.retry_at = now + backoff;
                    debug!(
                        "token request for {} failed ({}); background retry in {backoff} ms",
                        source.describe(),
                        e.code()
                    );
                }
            }
            std::mem::take(&mut st.waiters)
        };
        if res.is_ok() {
            self.changes.bump();
        }
        for w in waiters {
            let _ = w.send(res.clone());
        }
    }
}

fn next_serial() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let s = NEXT.fetch_add(1, Ordering::Relaxed);
        if s != 0 {
            return s;
        }
    }
}

pub mod fleet;
#[cfg(test)]
mod tests;
