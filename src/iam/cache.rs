//! The process-wide token cache.
//!
//! - One entry per (IAM URL, API key, client id, scope). The index holds a
//!   keyed 128-bit SipHash of those; the entry keeps the key itself (needed to
//!   refresh), compares it in constant time on every hit, and zeroizes it on drop.
//! - Single flight: however many callers wait, one IAM request runs per entry.
//! - Past 80% of a token's life, callers get the cached token at once while
//!   one background refresh runs; within the expiry margin (10 s, or a tenth
//!   of the lifetime for tokens shorter than 100 s) callers wait for a new one.
//! - A failed background refresh keeps the valid token and backs off.
//! - Bounded: least recently used entries go first.
//!
//! `peek` is the hot path: no allocation, no async, two uncontended locks.

use super::exchange::{self, IamConfig, TokenResponse};
use super::jwt;
use crate::error::{Error, Result};
use crate::log::debug;
use crate::runtime::unpanicked;
use crate::secret::Secret;
use lru::LruCache;
use parking_lot::Mutex;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Default bound on the number of cached keys.
pub const DEFAULT_CAPACITY: usize = 10_000;
const REFRESH_FRACTION: f64 = 0.8;
const EXPIRY_MARGIN_MS: u64 = 10_000;
/// IAM's `iat`/`exp` are whole seconds: up to this much of the lifetime may
/// be gone when the token is issued.
const TIMESTAMP_ROUNDING_MS: u64 = 1_000;
const REFRESH_BACKOFF_BASE_MS: u64 = 1_000;
const REFRESH_BACKOFF_CAP_MS: u64 = 60_000;

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
#[derive(Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What identifies a cache entry.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec<'a> {
    /// `exchange::canonical_base` of the IAM URL.
    pub base_url: &'a str,
    pub apikey: &'a str,
    pub client_id: Option<&'a str>,
    pub scope: Option<&'a str>,
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
    /// Epoch seconds of `exp`.
    pub expiration: i64,
    pub scope: Option<String>,
    pub refresh_token: Option<Secret>,
    pub ims_user_id: Option<i64>,
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

impl Token {
    /// `sent_ms`: when the request that brought `r` was sent. The token's
    /// clock starts there (it cannot have been issued earlier), less a second
    /// because IAM's `iat`/`exp` are whole seconds.
    fn from_response(r: TokenResponse, sent_ms: u64, wall_secs: i64) -> Result<Token> {
        let claims = jwt::lifetime(&r.access_token);
        let lifetime = claims
            .map(|l| l.exp - l.iat)
            .or_else(|| r.expires_in.map(|s| s as i64).filter(|s| *s > 0))
            .or_else(|| r.expiration.map(|e| e as i64 - wall_secs))
            .filter(|s| *s > 0)
            .ok_or_else(|| Error::BadResponse {
                status: 200,
                message:
                    "IAM's token has no usable lifetime (no exp/iat, expires_in or expiration)"
                        .into(),
            })?;
        let mut bearer =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", r.access_token)).map_err(
                |_| Error::BadResponse {
                    status: 200,
                    message: "IAM's access_token has characters not allowed in a header".into(),
                },
            )?;
        bearer.set_sensitive(true);
        let full_ms = (lifetime as u64).saturating_mul(1000);
        let life_ms = full_ms
            .saturating_sub(TIMESTAMP_ROUNDING_MS)
            .max(full_ms / 2);
        let margin = EXPIRY_MARGIN_MS.min(life_ms / 10);
        Ok(Token {
            serial: next_serial(),
            bearer,
            expiration: claims
                .map(|l| l.exp)
                .or(r.expiration.map(|e| e as i64))
                .unwrap_or(wall_secs + lifetime),
            expires_in: r.expires_in.map(|s| s as i64).unwrap_or(lifetime),
            token_type: r.token_type.clone().unwrap_or_else(|| "Bearer".into()),
            scope: r.scope.clone(),
            refresh_token: r.refresh_token.clone().map(Secret::new),
            ims_user_id: r.ims_user_id.as_ref().and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
            access_token: Secret::new(r.access_token.clone()),
            refresh_at: sent_ms + (life_ms as f64 * REFRESH_FRACTION) as u64,
            usable_until: sent_ms + life_ms - margin,
        })
    }

    /// How long from `now` it may be handed out without asking the cache
    /// again (until its refresh point).
    pub fn fresh_for_ms(&self, now: u64) -> u64 {
        self.refresh_at.min(self.usable_until).saturating_sub(now)
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
    /// The settings the next request uses (the latest caller's).
    cfg: Arc<IamConfig>,
    /// No background refresh before this time (backoff after a failure).
    retry_at: u64,
    failures: u32,
}

pub struct Entry {
    base_url: String,
    apikey: Secret,
    client_id: Option<String>,
    scope: Option<String>,
    state: Mutex<State>,
    evicted: AtomicBool,
}

impl Entry {
    fn matches(&self, k: &KeySpec) -> bool {
        self.base_url == k.base_url
            && self.client_id.as_deref() == k.client_id
            && self.scope.as_deref() == k.scope
            && self.apikey.matches(k.apikey)
    }

    /// True once the cache has dropped this entry (LRU or `clear`).
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("base_url", &self.base_url)
            .field("apikey", &self.apikey)
            .finish_non_exhaustive()
    }
}

/// Counters bumped whenever any cached token is replaced or dropped, so a
/// layer that memoises token texts (the JS hot path) knows to look again.
/// One cell per subscriber: each JS environment maps its own cell.
#[derive(Default)]
pub struct Changes {
    cells: Mutex<Vec<Arc<AtomicU32>>>,
}

impl Changes {
    pub fn subscribe(&self) -> Arc<AtomicU32> {
        let cell = Arc::new(AtomicU32::new(0));
        self.cells.lock().push(cell.clone());
        cell
    }

    pub fn unsubscribe(&self, cell: &Arc<AtomicU32>) {
        self.cells.lock().retain(|c| !Arc::ptr_eq(c, cell));
    }

    fn bump(&self) {
        for c in self.cells.lock().iter() {
            c.fetch_add(1, Ordering::Release);
        }
    }
}

pub struct TokenCache {
    pub changes: Changes,
    clock: Arc<dyn Clock>,
    runtime: tokio::runtime::Handle,
    hash_keys: (u64, u64),
    map: Mutex<LruCache<u128, Arc<Entry>>>,
    requests: AtomicU64,
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
            clock,
            runtime,
            hash_keys: (
                getrandom::u64().unwrap_or(0x243f_6a88_85a3_08d3),
                getrandom::u64().unwrap_or(0x1319_8a2e_0370_7344),
            ),
            map: Mutex::new(LruCache::new(cap)),
            requests: AtomicU64::new(0),
        })
    }

    fn hash(&self, k: &KeySpec) -> u128 {
        let mut h = SipHasher13::new_with_keys(self.hash_keys.0, self.hash_keys.1);
        for part in [Some(k.base_url), Some(k.apikey), k.client_id, k.scope] {
            match part {
                Some(s) => {
                    h.write_u8(1);
                    h.write_usize(s.len());
                    h.write(s.as_bytes());
                }
                None => h.write_u8(0),
            }
        }
        h.finish128().as_u128()
    }

    /// Hot path: a usable cached token for `k`, starting a background refresh
    /// when one is due. `None` means the caller must `get` (and wait).
    pub fn peek(self: &Arc<Self>, k: &KeySpec) -> Option<Arc<Token>> {
        let hash = self.hash(k);
        let entry = self.map.lock().get(&hash).cloned()?;
        if !entry.matches(k) {
            return None;
        }
        self.peek_entry(&entry)
    }

    /// Hot path for a caller that already holds its entry.
    pub fn peek_entry(self: &Arc<Self>, entry: &Arc<Entry>) -> Option<Arc<Token>> {
        let now = self.clock.now_ms();
        let mut st = entry.state.lock();
        let token = st.token.as_ref().filter(|t| t.usable(now))?.clone();
        if now >= token.refresh_at && now >= st.retry_at {
            self.start_fetch(entry, &mut st, "background refresh");
        }
        Some(token)
    }

    /// The entry for `k`, created with `cfg` if new. An existing entry takes
    /// `cfg` for its next request (timeouts, TLS) when `update` is set.
    pub fn entry(self: &Arc<Self>, k: &KeySpec, cfg: &Arc<IamConfig>) -> Arc<Entry> {
        let hash = self.hash(k);
        let mut map = self.map.lock();
        if let Some(e) = map.get(&hash).filter(|e| e.matches(k)) {
            let e = e.clone();
            drop(map);
            e.state.lock().cfg = cfg.clone();
            return e;
        }
        let entry = Arc::new(Entry {
            base_url: k.base_url.to_string(),
            apikey: Secret::new(k.apikey),
            client_id: k.client_id.map(str::to_string),
            scope: k.scope.map(str::to_string),
            state: Mutex::new(State {
                token: None,
                fetching: false,
                waiters: Vec::new(),
                cfg: cfg.clone(),
                retry_at: 0,
                failures: 0,
            }),
            evicted: AtomicBool::new(false),
        });
        if let Some((_, old)) = map.push(hash, entry.clone()) {
            old.evicted.store(true, Ordering::Relaxed);
        }
        entry
    }

    /// A usable token for `entry`, waiting for IAM when there is none.
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
            .unwrap_or_else(|_| Err(Error::Network("the token request was cancelled".into())))
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
            st.token = None;
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

    /// IAM requests started by this cache (each may make several attempts).
    pub fn requests_started(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn start_fetch(self: &Arc<Self>, entry: &Arc<Entry>, st: &mut State, why: &'static str) {
        if st.fetching {
            return;
        }
        st.fetching = true;
        self.requests.fetch_add(1, Ordering::Relaxed);
        debug!(
            "{why} for {} (key {})",
            entry.base_url,
            fingerprint(&entry.apikey)
        );
        let cfg = st.cfg.clone();
        let (cache, entry) = (self.clone(), entry.clone());
        let sent = self.clock.now_ms();
        self.runtime.spawn(async move {
            // A panic must not leave the entry marked as fetching forever.
            let res = unpanicked(exchange::request_token(&cfg, &entry.apikey)).await;
            cache.settle(&entry, sent, res);
        });
    }

    fn settle(&self, entry: &Entry, sent: u64, res: Result<TokenResponse>) {
        let now = self.clock.now_ms();
        let res = res.and_then(|r| Token::from_response(r, sent, wall_secs()).map(Arc::new));
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
                    st.failures = st.failures.saturating_add(1);
                    let backoff = (REFRESH_BACKOFF_BASE_MS
                        << st.failures.min(16).saturating_sub(1))
                    .min(REFRESH_BACKOFF_CAP_MS);
                    st.retry_at = now + backoff;
                    debug!(
                        "token request for key {} failed ({}); background retry in {backoff} ms",
                        fingerprint(&entry.apikey),
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

fn wall_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A short, one-way label for a key in log lines: the first 6 hex digits of
/// its SHA-256 (the JS layer prints the same label).
fn fingerprint(key: &Secret) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key.expose().as_bytes());
    format!("#{:02x}{:02x}{:02x}", d[0], d[1], d[2])
}

#[cfg(test)]
mod tests;
