//! The cache's fleet path: tokens shared by every process that uses the
//! same token store (`crate::store`, Redis or Valkey), so that a fleet asks
//! the token service once per (identity, settings) per token life.
//!
//! Only a cache fetch (a miss, or a refresh that is due) comes here; the hot
//! path never touches the store. For a source that may share (see
//! `Sharing`), a fetch:
//!
//! 1. reads the store: an entry that opens, is not due for refresh, is not
//!    the token this process just saw refused (`TokenCache::invalidate`),
//!    and is fresher than the one this process holds, is adopted: no request;
//! 2. else takes the slot's lease (`SET NX PX`, `LEASE_TTL`, renewed while
//!    the fetch runs so that a holder that dies frees it within `LEASE_TTL`),
//!    reads once more (a token published between the read and the lease is
//!    adopted), fetches, publishes the token sealed with a TTL ending where
//!    its use ends, and releases the lease;
//! 3. or, when another process holds the lease, waits for what it publishes
//!    (at most the source's whole fetch with its retries, plus a lease), and
//!    fetches by itself if nothing comes (the other one failed or died).
//!
//! Any store error means: fetch by yourself, as without a store. The store
//! backs off after errors and logs once per outage; this module counts.
//!
//! # The record
//!
//! JSON, sealed by the store (AES-256-GCM under a key derived from the
//! credential and settings): the token and what the service said of it
//! (`expires_in`, `expiration`, ...), its whole life, and how long before
//! the end of its use its refresh point lies. A reader's schedule comes from
//! Redis's `PTTL` (one clock for every machine), counted from when the read
//! was sent, and is bounded by the record itself: never more than the whole
//! life, and never past the token's own `expiration` by the local wall clock
//! (with `SKEW_ALLOWANCE_MS` for clocks that disagree). An entry that opens
//! was sealed by a holder of the credential, but whoever can write to Redis
//! controls the TTL and may replay an old entry; this bound catches that.

use super::{Schedule, Token, TokenCache};
use crate::auth::jwt::wall_ms;
use crate::auth::source::{Canonical, Fetched, Sharing, TokenSource};
use crate::error::Result;
use crate::log::debug;
use crate::secret::Secret;
use crate::store::{Lease, Slot, Store, StoreError, StoreOptions, Stored};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A lease's life; its holder renews it every `RENEW_EVERY` while it
/// fetches. A holder that dies frees the slot within this.
pub const LEASE_TTL: Duration = Duration::from_secs(5);
const RENEW_EVERY: Duration = Duration::from_millis(1500);
/// The longest a process waits for another one's fetch.
const MAX_WAIT: Duration = Duration::from_secs(150);
/// How far a stored token may outlive its `expiration` by our wall clock:
/// clocks of different machines disagree, and the bound is only there to
/// catch replayed old entries.
const SKEW_ALLOWANCE_MS: i64 = 60_000;

/// The store in use (replaceable at run time) and what the cache did with it.
pub struct Fleet {
    store: Mutex<Option<Store>>,
    /// `LEASE_TTL` and `RENEW_EVERY` (shorter in tests).
    lease: Mutex<(Duration, Duration)>,
    hits: AtomicU64,
    misses: AtomicU64,
    leases_won: AtomicU64,
    errors: AtomicU64,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            store: Mutex::new(None),
            lease: Mutex::new((LEASE_TTL, RENEW_EVERY)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            leases_won: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }
}

/// What the cache did with the store, since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Tokens taken from the store instead of asking the token service.
    pub hits: u64,
    /// Fetches that found nothing usable in the store (absent, not opening,
    /// due for refresh, or refused) and went on to the lease.
    pub misses: u64,
    /// Leases won and used: this process asked the token service for the
    /// fleet (a lease won just after another process published is not
    /// counted: that token is a hit).
    pub leases_won: u64,
    /// Store operations that failed (down, slow, an error reply): the
    /// process asked the token service by itself.
    pub errors: u64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Fleet {
    pub fn set(&self, store: Option<Store>) {
        *self.store.lock() = store;
    }

    pub fn store(&self) -> Option<Store> {
        self.store.lock().clone()
    }

    pub fn stats(&self) -> FleetStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FleetStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            leases_won: get(&self.leases_won),
            errors: get(&self.errors),
        }
    }

    /// Counts a failed operation (not one skipped while backing off: that
    /// outage was counted when it began).
    fn failed(&self, e: &StoreError) {
        if *e != StoreError::Unavailable {
            bump(&self.errors);
        }
    }
}

/// The store's names and sealing key for `source`, or None if its tokens
/// stay in the process (see `Sharing`).
pub fn slot_for(store: &Store, source: &dyn TokenSource) -> Option<Slot> {
    let k = source.key();
    let context = |identity: Option<&str>| {
        Canonical::new()
            .part("kind", Some(k.kind))
            .part("identity", identity)
            .part("settings", Some(k.settings.expose()))
            .finish()
    };
    match source.sharing() {
        Sharing::Credential => Some(store.slot(
            k.credential.expose().as_bytes(),
            context(None).expose().as_bytes(),
        )),
        Sharing::WithStoreKey { identity } => {
            store.secret_slot(context(Some(identity.expose())).expose().as_bytes())
        }
        Sharing::Never => None,
    }
}

/// The store the environment asks for: `WML_NATIVE_TOKEN_STORE` (a URL) and
/// `WML_NATIVE_TOKEN_STORE_KEY` (the store secret). `Err` is a message for
/// the user naming the variables (never their values).
pub fn store_from_env() -> std::result::Result<Option<Store>, String> {
    store_from_vars(|name| std::env::var(name))
}

fn store_from_vars(
    get: impl Fn(&str) -> std::result::Result<String, std::env::VarError>,
) -> std::result::Result<Option<Store>, String> {
    const URL_VAR: &str = "WML_NATIVE_TOKEN_STORE";
    const KEY_VAR: &str = "WML_NATIVE_TOKEN_STORE_KEY";
    let var = |name: &str| match get(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("{name} is not valid UTF-8; the token store is off"))
        }
    };
    match (var(URL_VAR)?, var(KEY_VAR)?) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(format!(
            "{KEY_VAR} is set but {URL_VAR} is not; the token store is off"
        )),
        (Some(url), key) => Store::new(StoreOptions {
            secret: key.map(Secret::new),
            ..StoreOptions::new(url)
        })
        .map(Some)
        .map_err(|e| {
            format!(
                "{URL_VAR}/{KEY_VAR}: {}; the token store is off",
                e.message()
            )
        }),
    }
}

/// What a fetch knows of the entry it fetches for.
pub struct Known {
    /// The token this process holds (a refresh), if any.
    pub held: Option<Arc<Token>>,
    /// SHA-256 of the last token of this entry the service refused.
    pub refused: Option<[u8; 32]>,
}

pub fn digest(token: &Secret) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.expose().as_bytes()).into()
}

/// The sealed record (see the module docs). Its strings are zeroized on drop.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    access_token: String,
    token_type: String,
    expires_in: i64,
    /// Epoch seconds: the token's `exp` (or the service's `expiration`).
    expiration: i64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    ims_user_id: Option<i64>,
    life_ms: u64,
    /// How long before the end of its use its refresh point lies.
    refresh_lead_ms: u64,
}

impl Drop for Record {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        if let Some(r) = self.refresh_token.as_mut() {
            r.zeroize();
        }
    }
}

impl Record {
    fn of(t: &Token) -> Record {
        Record {
            access_token: t.access_token.expose().to_string(),
            token_type: t.token_type.clone(),
            expires_in: t.expires_in,
            expiration: t.expiration,
            scope: t.scope.clone(),
            refresh_token: t.refresh_token.as_ref().map(|r| r.expose().to_string()),
            ims_user_id: t.ims_user_id,
            life_ms: t.life_ms,
            refresh_lead_ms: t.usable_until.saturating_sub(t.refresh_at),
        }
    }
}

impl TokenCache {
    /// A new token for `source`: through the store when one is set and the
    /// source may share, else straight from the service.
    pub(super) async fn obtain(
        self: &Arc<Self>,
        source: Arc<dyn TokenSource>,
        known: Known,
        watch: Option<crate::telemetry::FetchWatch>,
    ) -> Result<Arc<Token>> {
        let Some(store) = self.fleet.store() else {
            return self.fetch_direct(&*source, watch).await;
        };
        let Some(slot) = slot_for(&store, &*source) else {
            return self.fetch_direct(&*source, watch).await;
        };
        let fleet = &self.fleet;
        match store.read(&slot).await {
            Ok(found) => {
                if let Some(t) = found.and_then(|s| self.adopt(&s, &known)) {
                    bump(&fleet.hits);
                    debug!("token for {} from the token store", source.describe());
                    return Ok(t);
                }
            }
            Err(e) => {
                fleet.failed(&e);
                return self.fetch_direct(&*source, watch).await;
            }
        }
        bump(&fleet.misses);
        let (lease_ttl, _) = *fleet.lease.lock();
        match store.try_lease(&slot, lease_ttl).await {
            Ok(Some(lease)) => {
                self.fetch_for_fleet(&store, &slot, lease, &*source, &known, watch)
                    .await
            }
            Ok(None) => {
                let max_wait = source
                    .fetch_budget()
                    .saturating_add(lease_ttl)
                    .min(MAX_WAIT);
                debug!(
                    "another process is fetching the token for {}: waiting for it",
                    source.describe()
                );
                let adopt = |s: &Stored| self.adopt(s, &known);
                match store.wait(&slot, max_wait, adopt).await {
                    Ok(Some(t)) => {
                        bump(&fleet.hits);
                        debug!("token for {} from the token store", source.describe());
                        return Ok(t);
                    }
                    Ok(None) => {}
                    Err(e) => fleet.failed(&e),
                }
                debug!(
                    "no token came through the store for {}: fetching it here",
                    source.describe()
                );
                self.fetch_direct(&*source, watch).await
            }
            Err(e) => {
                fleet.failed(&e);
                self.fetch_direct(&*source, watch).await
            }
        }
    }

    /// With the lease: fetch, publish, release (the lease renewed meanwhile).
    async fn fetch_for_fleet(
        self: &Arc<Self>,
        store: &Store,
        slot: &Slot,
        lease: Lease,
        source: &dyn TokenSource,
        known: &Known,
        watch: Option<crate::telemetry::FetchWatch>,
    ) -> Result<Arc<Token>> {
        // Someone may have published between our read and our lease.
        if let Ok(Some(t)) = store
            .read(slot)
            .await
            .map(|found| found.and_then(|s| self.adopt(&s, known)))
        {
            store.release(lease).await;
            bump(&self.fleet.hits);
            return Ok(t);
        }
        bump(&self.fleet.leases_won);
        debug!("fetching the token for {} for the fleet", source.describe());
        let (lease_ttl, renew_every) = *self.fleet.lease.lock();
        let renewing = async {
            loop {
                tokio::time::sleep(renew_every).await;
                if !matches!(store.renew(&lease, lease_ttl).await, Ok(true)) {
                    // Lost or unreachable: it expires by itself.
                    std::future::pending::<()>().await;
                }
            }
        };
        let fetched = tokio::select! {
            r = self.fetch_direct(source, watch) => r,
            () = renewing => unreachable_fetch(),
        };
        if let Ok(t) = &fetched {
            let ttl = Duration::from_millis(t.usable_for_ms(self.clock.now_ms()));
            let record = Record::of(t);
            match serde_json::to_vec(&record) {
                Ok(bytes) => {
                    let bytes = zeroize::Zeroizing::new(bytes);
                    if let Err(e) = store.publish(slot, &bytes, ttl).await {
                        self.fleet.failed(&e);
                    }
                }
                Err(_) => debug!("the token record did not serialise; not published"),
            }
        }
        store.release(lease).await;
        fetched
    }

    /// A token from a stored entry, if it may be used instead of a fetch
    /// (see the module docs): None when the record does not parse, is due
    /// for refresh, was refused, or is not fresher than what we hold.
    fn adopt(&self, s: &Stored, known: &Known) -> Option<Arc<Token>> {
        let rec: Record = match serde_json::from_slice(&s.record) {
            Ok(r) => r,
            Err(_) => {
                debug!("a token store entry opened but is not a token record; ignored");
                return None;
            }
        };
        if rec.access_token.is_empty() || rec.life_ms == 0 {
            return None;
        }
        let now = self.clock.now_ms();
        let since = u64::try_from(s.asked_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let base = now.saturating_sub(since);
        let by_expiration = rec
            .expiration
            .saturating_mul(1000)
            .saturating_sub(wall_ms())
            .saturating_add(SKEW_ALLOWANCE_MS)
            .max(0) as u64;
        let ttl = u64::try_from(s.ttl.as_millis()).unwrap_or(u64::MAX);
        let usable_until = base.saturating_add(ttl.min(rec.life_ms).min(by_expiration));
        let refresh_at = usable_until.saturating_sub(rec.refresh_lead_ms);
        if now >= refresh_at {
            return None;
        }
        let access_token = Secret::new(rec.access_token.as_str());
        if known.refused == Some(digest(&access_token)) {
            return None;
        }
        if let Some(h) = &known.held {
            if h.access_token.matches(access_token.expose()) || usable_until <= h.usable_until {
                return None;
            }
        }
        let f = Fetched {
            access_token,
            token_type: Some(rec.token_type.clone()),
            scope: rec.scope.clone(),
            refresh_token: rec.refresh_token.as_deref().map(Secret::new),
            ims_user_id: rec.ims_user_id,
            expires_in: Some(rec.expires_in as f64),
            expiration: Some(rec.expiration as f64),
            server_date: None,
        };
        let schedule = Schedule {
            life_ms: rec.life_ms,
            refresh_at,
            usable_until,
            expiration: rec.expiration,
        };
        Token::new(f, schedule).ok().map(Arc::new)
    }
}

/// The renewal loop never ends; this keeps `select!` total without a panic.
fn unreachable_fetch() -> Result<Arc<Token>> {
    Err(crate::error::Error::internal(
        "the lease renewal loop ended",
    ))
}

#[cfg(test)]
mod tests;
