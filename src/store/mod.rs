//! The fleet token store: IAM tokens shared by every process of a fleet
//! through Redis (or Valkey), so that the whole fleet asks IAM once per
//! (identity, settings) per token life instead of once per process.
//!
//! Opt-in (`configureTokenCache({ store: 'redis://host:6379/0' })`, or
//! `rediss://` for TLS). Nothing usable is ever put into Redis, and the
//! store never fails a call: any trouble means "go to IAM yourself".
//!
//! # How the token cache uses it
//!
//! (`crate::auth::cache::fleet` is the real thing.)
//!
//! ```text
//! let slot = store.slot(credential_bytes, canonical_settings);  // per identity
//! on a miss in memory:
//!     read(&slot)            Ok(Some(s)) -> use s.record if it suits (s.ttl: Redis's
//!                                           remaining life, counted from s.asked_at)
//!                            otherwise   -> try_lease(&slot, lease_ttl)
//!                                             Ok(Some(lease)) -> fetch from IAM (renew(lease)
//!                                                 every so often meanwhile),
//!                                                 publish(&slot, record, token_ttl), release(lease)
//!                                             Ok(None) -> another process is fetching:
//!                                                 wait(&slot, max_wait, accept): Some(what
//!                                                 accept took from it) -> use it,
//!                                                 None (it failed, or too slow) -> fetch yourself
//!     any Err(_)             -> fetch from IAM as if there were no store
//! ```
//!
//! A short `lease_ttl`, renewed by its holder while its fetch runs, lets a
//! holder that dies free the slot soon (the waiters see the lease gone and
//! fetch by themselves); `max_wait` should cover one whole IAM fetch (its
//! timeout and retries) of a holder that lives. `accept` lets a waiter pass
//! over an entry it cannot use (the very token it already holds, due for
//! refresh) while the holder fetches the next one.
//!
//! `record` is opaque bytes chosen by the cache. It should carry the token's
//! own expiry and the cache should check it: Redis (or whoever can write to
//! it) controls the TTL, and an entry that opens is one this credential
//! sealed, but not necessarily the newest one.
//!
//! # What is in Redis, and how it is derived
//!
//! For a credential `ikm` (the API key's bytes, ...) used with the settings
//! `context` (the canonical bytes of IAM URL, client id, scope, TLS
//! settings..., given by the cache):
//!
//! ```text
//! PRK  = HKDF-Extract(salt = "wml-native token store v1", ikm)            (SHA-256)
//! id   = HKDF-Expand(PRK, info = "wmln/v1/name\0" || context, 32 bytes)
//! key  = HKDF-Expand(PRK, info = "wmln/v1/seal\0" || context, 32 bytes)
//! entry key  "wmln:v1:t:" || hex(id)        lease key  "wmln:v1:l:" || hex(id)
//! entry value  0x01 || nonce(12, random) || AES-256-GCM(key, nonce, record,
//!                                               aad = 0x01 || entry key)
//! lease value  32 random hex digits (the owner's token), SET NX PX
//! ```
//!
//! So a holder of Redis contents sees opaque names (one-way from the
//! credential: it cannot tell which credential, or which settings, an entry
//! belongs to, nor link it to a key's text) and sealed values. An entry
//! written for one credential or context does not open (or verify) with
//! another, and an entry copied to another key name does not open either.
//! Entries expire with their token (`PX`). Derived keys are zeroized when
//! their `Slot` is dropped (the AES key schedule; HKDF's intermediate state
//! is best effort).
//!
//! # Credentials that differ per process: the store secret
//!
//! A per-pod compute-resource token, for instance, is not the same bytes in
//! every process, so it cannot be the `ikm`. With a store secret
//! (`storeKey` / `WML_NATIVE_TOKEN_STORE_KEY`, at least 16 characters; use
//! a random one of 32 or more) the cache calls
//! `store.secret_slot(context_with_profile)`, the same derivation with the
//! secret as `ikm`: every process that knows the secret shares the entry,
//! and Redis contents alone open nothing. The secret is the only thing
//! protecting those tokens at rest, hence the minimum length.
//!
//! # Failure handling
//!
//! - Every command is bounded by `op_timeout`, a new connection (TCP, TLS,
//!   AUTH, SELECT) by `connect_timeout`: a call takes at most
//!   `connect_timeout + op_timeout` when it must connect (callers at the same
//!   moment share one attempt), `op_timeout` otherwise (`wait` excepted:
//!   up to its `max_wait`).
//! - After an error (timeout, refused, reset, Redis error reply) the store
//!   backs off: `available()` is false for `min_backoff`, doubling on each
//!   failed retry up to `max_backoff`, and every call in that time returns
//!   `StoreError::Unavailable` at once without any I/O. It logs once per
//!   outage with `crate::log::debug!`, and once when it is back. The
//!   connection is dropped and made anew on the next use.
//! - An entry that does not open (tampered, another key, garbage, no TTL)
//!   reads as absent and is counted as `rejected`.
//! - Errors are `StoreError`s for the cache to count; they never name the
//!   URL's password (nor does any `Debug` here).
//!
//! Everything runs on the caller's tokio runtime (the crate's shared one);
//! the store owns no thread, and a connection's driver task ends with it.
//! That task lives on the runtime of the call that connected: use a store
//! from one runtime (if that runtime ends, the connection breaks and the
//! store reconnects after a back-off).
//! Redis Cluster is not supported (one endpoint; a `MOVED` reply is an error
//! like any other).

mod conn;
mod seal;

pub use seal::{Slot, KEY_PREFIX};

use crate::error::{Error, Result};
use crate::secret::Secret;
use conn::Target;
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(250);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(1);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often `wait` looks for the entry.
pub const WAIT_POLL: Duration = Duration::from_millis(20);
/// Shortest store secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Compare-and-delete: the lease goes only if it still holds our token.
const RELEASE_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// Compare-and-expire: the lease is extended only if it still holds our token.
const RENEW_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

/// How to reach the store. `Debug` hides the URL's password and the secret.
#[derive(Clone)]
pub struct StoreOptions {
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS
    /// (`valkey://` and `valkeys://` too).
    pub url: String,
    /// Extra trusted CA certificates (PEM) for `rediss://`, on top of the
    /// webpki and system roots (as the HTTP client does).
    pub ca_cert: Option<String>,
    /// `rediss://` without certificate or name checks.
    pub disable_ssl_verification: bool,
    /// Bound on every Redis round trip.
    pub op_timeout: Duration,
    /// Bound on making a connection (TCP, TLS, AUTH, SELECT).
    pub connect_timeout: Duration,
    /// Back-off after the first error; doubles on each failed retry...
    pub min_backoff: Duration,
    /// ...up to this.
    pub max_backoff: Duration,
    /// The store secret (`storeKey`), for `secret_slot`.
    pub secret: Option<Secret>,
}

impl StoreOptions {
    /// Options for `url` with the default timeouts and back-off.
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            ca_cert: None,
            disable_ssl_verification: false,
            op_timeout: DEFAULT_OP_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            secret: None,
        }
    }

    /// A caller's `timeoutMs` (milliseconds, positive): the bound on each
    /// round trip; a new connection may take twice that (at least the
    /// default connection timeout).
    pub fn timeout_ms(mut self, ms: Option<f64>) -> Result<Self> {
        self.op_timeout = crate::http::timeout_from(ms, DEFAULT_OP_TIMEOUT, "timeoutMs")?;
        self.connect_timeout = DEFAULT_CONNECT_TIMEOUT.max(self.op_timeout.saturating_mul(2));
        Ok(self)
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redacted_url(&self.url))
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "<PEM>"))
            .field("disable_ssl_verification", &self.disable_ssl_verification)
            .field("op_timeout", &self.op_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The URL with its password replaced; nothing of it if it does not parse.
fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("<redacted>"));
            }
            u.to_string()
        }
        Err(_) => "<not a URL>".into(),
    }
}

/// Why a store operation did not happen. The cache only counts these; they
/// never reach a user, and never contain a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Backing off after an error: nothing was sent.
    Unavailable,
    /// No answer (or no connection) in time.
    Timeout(String),
    /// No TCP connection (refused, unreachable, name not found).
    Connect(String),
    /// TLS could not be set up or the handshake failed.
    Tls(String),
    /// An error reply from Redis, or the connection broke.
    Redis(String),
    /// The system gave no randomness (for a nonce or a lease token).
    Random,
}

impl StoreError {
    fn from_redis(e: &redis::RedisError, target: &Target) -> StoreError {
        if e.is_timeout() {
            StoreError::Timeout(format!("{target} did not answer in time"))
        } else {
            StoreError::Redis(format!("{target}: {e}"))
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable => f.write_str("the token store is backing off after an error"),
            StoreError::Timeout(m)
            | StoreError::Connect(m)
            | StoreError::Tls(m)
            | StoreError::Redis(m) => f.write_str(m),
            StoreError::Random => f.write_str("no randomness available"),
        }
    }
}

impl std::error::Error for StoreError {}

/// An entry that opened: the record the publisher sealed, and how long
/// Redis will keep it (its `PTTL`: by Redis's clock, so no clock skew
/// between machines) counted from `asked_at`.
pub struct Stored {
    pub record: Zeroizing<Vec<u8>>,
    pub ttl: Duration,
    /// When the command that found it was sent: Redis measured `ttl` after
    /// that, so the entry lives at least until `asked_at + ttl`.
    pub asked_at: Instant,
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stored")
            .field("record", &format_args!("<{} bytes>", self.record.len()))
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// The right to fetch for a slot, until `release` or its ttl. Not released
/// on drop (that needs a round trip): a lost lease just expires.
pub struct Lease {
    key: String,
    token: String,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self.key.get(..KEY_PREFIX.len() + 2 + 12).unwrap_or("");
        write!(f, "Lease({short}…)")
    }
}

/// Counters since the store was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// `read`s and `wait`s that found an entry that opened.
    pub hits: u64,
    /// `read`s and `wait`s that found nothing usable (rejected included).
    pub misses: u64,
    /// Entries that did not open (or had no TTL): treated as absent.
    pub rejected: u64,
    pub leases_won: u64,
    pub leases_lost: u64,
    /// Entries written.
    pub published: u64,
    /// Operations that failed (timeout, connection, Redis error).
    pub errors: u64,
    /// Operations not tried because the store was backing off.
    pub skipped: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    leases_won: AtomicU64,
    leases_lost: AtomicU64,
    published: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Default)]
struct Health {
    /// Failed back-off steps in a row (0: healthy).
    failures: u32,
    /// Skip the store until then.
    until: Option<Instant>,
}

/// A handle on the store: cheap to clone; connects on first use.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    op_timeout: Duration,
    connect_timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    secret: Option<Secret>,
    /// The live connection and its generation (so that a late failure on an
    /// old connection does not drop a newer one).
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
    /// One connection attempt at a time; the others wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
    health: Mutex<Health>,
    stats: Counters,
    rejected_logged: AtomicBool,
}

impl Store {
    /// Checks the options (an `ERR_INVALID_ARG` naming `store` or
    /// `storeKey`); no I/O.
    pub fn new(o: StoreOptions) -> Result<Store> {
        let target = Target::parse(&o.url, o.ca_cert.as_deref(), o.disable_ssl_verification)?;
        if let Some(s) = &o.secret {
            if s.expose().chars().count() < MIN_SECRET_LEN {
                return Err(Error::invalid(format!(
                    "storeKey must be at least {MIN_SECRET_LEN} characters (use a random string of 32 or more)"
                )));
            }
        }
        let positive = |d: Duration, what: &str| {
            if d.is_zero() {
                Err(Error::invalid(format!("store: {what} must be more than 0")))
            } else {
                Ok(d)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                target,
                op_timeout: positive(o.op_timeout, "the operation timeout")?,
                connect_timeout: positive(o.connect_timeout, "the connection timeout")?,
                min_backoff: o.min_backoff,
                max_backoff: o.max_backoff.max(o.min_backoff),
                secret: o.secret,
                conn: Mutex::new(None),
                generation: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(()),
                health: Mutex::new(Health::default()),
                stats: Counters::default(),
                rejected_logged: AtomicBool::new(false),
            }),
        })
    }

    /// Key names and sealing key for one cache identity: `ikm` is the
    /// credential's bytes, `context` the canonical settings it is used with.
    /// Pure computation (two HKDF expansions); no I/O.
    pub fn slot(&self, ikm: &[u8], context: &[u8]) -> Slot {
        Slot::derive(ikm, context)
    }

    /// `slot(store secret, context)`, for credentials that differ per
    /// process; None without a store secret.
    pub fn secret_slot(&self, context: &[u8]) -> Option<Slot> {
        let s = self.inner.secret.as_ref()?;
        Some(Slot::derive(s.expose().as_bytes(), context))
    }

    /// The entry, opened, and its remaining life (GET + PTTL in one round
    /// trip). An entry that does not open is counted as `rejected` and
    /// reads as None.
    pub async fn read(&self, slot: &Slot) -> std::result::Result<Option<Stored>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(&slot.value_key)
            .cmd("PTTL")
            .arg(&slot.value_key);
        let asked_at = Instant::now();
        let (value, pttl): (Option<Vec<u8>>, i64) = self
            .inner
            .run(move |mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        let found = self.inner.entry(slot, value, pttl, asked_at);
        bump(if found.is_some() {
            &self.inner.stats.hits
        } else {
            &self.inner.stats.misses
        });
        Ok(found)
    }

    /// For a process that lost the lease: polls (every `WAIT_POLL`, one
    /// round trip each) until an entry that opens and that `accept` takes
    /// appears (the cache refuses, say, the very token it already holds),
    /// the lease is gone without one (the fetching process failed: fetch
    /// yourself), or `max_wait` has passed. Counted as one hit or one miss.
    pub async fn wait<T>(
        &self,
        slot: &Slot,
        max_wait: Duration,
        mut accept: impl FnMut(&Stored) -> Option<T>,
    ) -> std::result::Result<Option<T>, StoreError> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            // The lease first: its owner publishes before it releases, so
            // a lease seen gone means the GET after it sees the entry.
            let mut pipe = redis::pipe();
            pipe.cmd("EXISTS")
                .arg(&slot.lease_key)
                .cmd("GET")
                .arg(&slot.value_key)
                .cmd("PTTL")
                .arg(&slot.value_key);
            let asked_at = Instant::now();
            let (leased, value, pttl): (bool, Option<Vec<u8>>, i64) = self
                .inner
                .run(move |mut c| async move { pipe.query_async(&mut c).await })
                .await?;
            let found = self.inner.entry(slot, value, pttl, asked_at);
            if let Some(taken) = found.as_ref().and_then(&mut accept) {
                bump(&self.inner.stats.hits);
                return Ok(Some(taken));
            }
            let now = tokio::time::Instant::now();
            if !leased || now >= deadline {
                bump(&self.inner.stats.misses);
                return Ok(None);
            }
            tokio::time::sleep(WAIT_POLL.min(deadline - now)).await;
        }
    }

    /// Tries to become the one process that fetches for `slot` (`SET NX PX`
    /// with a random token). None: someone else holds the lease.
    pub async fn try_lease(
        &self,
        slot: &Slot,
        ttl: Duration,
    ) -> std::result::Result<Option<Lease>, StoreError> {
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).map_err(|_| StoreError::Random)?;
        let token = seal::hex(&token);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&slot.lease_key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let won: Option<String> = self
            .inner
            .run(move |mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        let stats = &self.inner.stats;
        if won.is_some() {
            bump(&stats.leases_won);
            Ok(Some(Lease {
                key: slot.lease_key.clone(),
                token,
            }))
        } else {
            bump(&stats.leases_lost);
            Ok(None)
        }
    }

    /// Seals `record` and stores it for `ttl` (the token's remaining life;
    /// the entry expires with it). A zero `ttl` writes nothing.
    pub async fn publish(
        &self,
        slot: &Slot,
        record: &[u8],
        ttl: Duration,
    ) -> std::result::Result<(), StoreError> {
        if ttl < Duration::from_millis(1) {
            return Ok(());
        }
        let sealed = slot.seal(record).ok_or(StoreError::Random)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(&slot.value_key)
            .arg(sealed)
            .arg("PX")
            .arg(millis(ttl));
        self.inner
            .run(move |mut c| async move { cmd.query_async::<()>(&mut c).await })
            .await?;
        bump(&self.inner.stats.published);
        Ok(())
    }

    /// Gives the lease up if it is still ours (compare-and-delete in one
    /// script). Errors are ignored: the lease then expires by itself.
    pub async fn release(&self, lease: Lease) {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(&lease.key)
            .arg(&lease.token);
        let _ = self
            .inner
            .run(move |mut c| async move { cmd.query_async::<i64>(&mut c).await })
            .await;
    }

    /// Extends the lease to `ttl` from now if it is still ours (one
    /// compare-and-expire script): the holder of a short lease keeps it
    /// while its fetch runs, so that a holder that dies frees the slot soon.
    /// False: the lease is gone (expired, taken over).
    pub async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
    ) -> std::result::Result<bool, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RENEW_SCRIPT)
            .arg(1)
            .arg(&lease.key)
            .arg(&lease.token)
            .arg(millis(ttl));
        let renewed: i64 = self
            .inner
            .run(move |mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(renewed == 1)
    }

    pub fn stats(&self) -> StoreStats {
        let c = &self.inner.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            rejected: get(&c.rejected),
            leases_won: get(&c.leases_won),
            leases_lost: get(&c.leases_lost),
            published: get(&c.published),
            errors: get(&c.errors),
            skipped: get(&c.skipped),
        }
    }

    /// Where the store is, for figures and logs: `redis://host:port/db`
    /// (never the user or password).
    pub fn target(&self) -> String {
        self.inner.target.to_string()
    }

    /// False while backing off after an error: the cache should not wait for
    /// the store then (its operations would return `Unavailable` at once).
    pub fn available(&self) -> bool {
        self.inner.available()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.inner.target)
            .field("available", &self.available())
            .field("stats", &self.stats())
            .finish()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Inner {
    fn available(&self) -> bool {
        self.health.lock().until.is_none_or(|t| Instant::now() >= t)
    }

    /// Runs one command on the connection (made first if need be), bounded
    /// by the timeouts, and keeps the health state.
    async fn run<T, F, Fut>(&self, op: F) -> std::result::Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.available() {
            bump(&self.stats.skipped);
            return Err(StoreError::Unavailable);
        }
        let (generation, conn) = match self.connection().await {
            Ok(c) => c,
            Err(StoreError::Unavailable) => {
                bump(&self.stats.skipped);
                return Err(StoreError::Unavailable);
            }
            Err(e) => return Err(self.failed(e, None)),
        };
        match tokio::time::timeout(self.op_timeout, op(conn)).await {
            Ok(Ok(v)) => {
                self.succeeded();
                Ok(v)
            }
            Ok(Err(e)) => {
                Err(self.failed(StoreError::from_redis(&e, &self.target), Some(generation)))
            }
            Err(_) => Err(self.failed(
                StoreError::Timeout(format!(
                    "{} did not answer within {} ms",
                    self.target,
                    self.op_timeout.as_millis()
                )),
                Some(generation),
            )),
        }
    }

    /// The live connection, or a new one (one attempt at a time, bounded by
    /// `connect_timeout` including the wait for another caller's attempt).
    async fn connection(&self) -> std::result::Result<(u64, MultiplexedConnection), StoreError> {
        if let Some((g, c)) = self.conn.lock().as_ref() {
            return Ok((*g, c.clone()));
        }
        let attempt = async {
            let _one = self.connecting.lock().await;
            if let Some((g, c)) = self.conn.lock().as_ref() {
                return Ok((*g, c.clone()));
            }
            if !self.available() {
                // The attempt we waited for failed.
                return Err(StoreError::Unavailable);
            }
            let c = self.target.connect(self.op_timeout).await?;
            let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
            *self.conn.lock() = Some((g, c.clone()));
            Ok((g, c))
        };
        tokio::time::timeout(self.connect_timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Timeout(format!(
                    "no connection to {} within {} ms",
                    self.target,
                    self.connect_timeout.as_millis()
                )))
            })
    }

    /// Counts `err`, drops the connection it happened on, and starts (or
    /// extends) the back-off. Returns `err`.
    fn failed(&self, err: StoreError, generation: Option<u64>) -> StoreError {
        bump(&self.stats.errors);
        if let Some(g) = generation {
            let mut conn = self.conn.lock();
            if conn.as_ref().is_some_and(|(cg, _)| *cg == g) {
                *conn = None;
            }
        }
        let mut h = self.health.lock();
        let now = Instant::now();
        if h.until.is_some_and(|t| now < t) {
            // Already backing off: a call that started before did not know.
            return err;
        }
        let step = self
            .min_backoff
            .saturating_mul(1u32 << h.failures.min(16))
            .min(self.max_backoff);
        h.failures = h.failures.saturating_add(1);
        h.until = Some(now + step);
        if h.failures == 1 {
            crate::log::debug!(
                "token store {} unavailable ({err}); going to IAM directly, retrying in {} ms",
                self.target,
                step.as_millis()
            );
        }
        err
    }

    fn succeeded(&self) {
        let mut h = self.health.lock();
        if h.failures > 0 {
            crate::log::debug!(
                "token store {} is back (after {} failed attempt{})",
                self.target,
                h.failures,
                if h.failures == 1 { "" } else { "s" }
            );
            *h = Health::default();
        }
    }

    /// What GET + PTTL found: an entry that opens, or None (a rejected
    /// entry is counted here; hits and misses are for the caller).
    fn entry(
        &self,
        slot: &Slot,
        value: Option<Vec<u8>>,
        pttl: i64,
        asked_at: Instant,
    ) -> Option<Stored> {
        let value = value?;
        if pttl == -1 {
            // Never written by us: every entry we write expires.
            self.rejected("an entry without a TTL");
            return None;
        }
        if pttl <= 0 {
            // Expired between GET and PTTL.
            return None;
        }
        let Some(record) = slot.open(&value) else {
            self.rejected("an entry that does not open");
            return None;
        };
        Some(Stored {
            record,
            ttl: Duration::from_millis(pttl as u64),
            asked_at,
        })
    }

    fn rejected(&self, what: &str) {
        bump(&self.stats.rejected);
        if !self.rejected_logged.swap(true, Ordering::Relaxed) {
            crate::log::debug!(
                "token store {}: {what}, treated as absent (logged once)",
                self.target
            );
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testserver;
