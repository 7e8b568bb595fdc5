//! `getIamToken` and friends, and the `IamAuthenticator` class.
//!
//! The hot path (`peekToken`, `NativeAuthenticator.peek`) is synchronous: a
//! cached token is returned on the JS thread without touching tokio. Only a
//! miss goes through a promise.

use super::convert::{JsIamOptions, JsTokenInfo};
use super::{promise, throw};
use crate::iam::cache::{Entry, KeySpec, Token};
use crate::iam::exchange::{self, IamConfig, IamOptions};
use crate::iam::global_cache;
use crate::secret::Secret;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

fn peek(
    apikey: String,
    url: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
) -> Option<Arc<Token>> {
    let apikey = Secret::from(apikey);
    let spec = KeySpec {
        base_url: exchange::canonical_base(url.as_deref()),
        apikey: apikey.expose(),
        client_id: client_id.as_deref().filter(|s| !s.is_empty()),
        scope: scope.as_deref().filter(|s| !s.is_empty()),
    };
    global_cache().peek(&spec)
}

/// A token as the JS hot path memoises it: `[serial, freshMs, text]`.
type Peeked = (u32, f64, String);

fn peeked(t: &Token) -> Peeked {
    (
        t.serial,
        global_cache().fresh_for_ms(t) as f64,
        t.access_token.expose().to_string(),
    )
}

/// The cached, usable token for these settings as `[serial, freshMs, text]`
/// (the text may be reused for `freshMs` unless the change counter moves), or
/// null: then call `fetchToken`.
#[napi(ts_return_type = "[number, number, string] | null")]
pub fn peek_token(
    apikey: String,
    url: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
) -> Option<Peeked> {
    peek(apikey, url, client_id, scope).map(|t| peeked(&t))
}

/// This JS environment's change counter: a one-element Uint32Array that the
/// cache bumps whenever a token is replaced or dropped.
#[napi]
pub fn change_counter(env: &Env) -> Result<Uint32ArraySlice<'_>> {
    let cell = global_cache().changes.subscribe();
    let ptr = cell.as_ptr();
    // SAFETY: `ptr` points into the Arc'd cell, which the finalizer keeps
    // alive until the array is collected; each call makes a new cell, so no
    // two buffers share memory.
    unsafe {
        Uint32ArraySlice::from_external(env, ptr, 1, cell, |_, cell| {
            global_cache().changes.unsubscribe(&cell);
        })
    }
}

/// Resolves the entry for a key and options (validating them).
fn resolve(apikey: &Secret, options: Option<JsIamOptions>) -> crate::error::Result<Arc<Entry>> {
    if apikey.is_empty() {
        return Err(crate::error::Error::invalid(
            "apikey must be a non-empty string",
        ));
    }
    let opts: IamOptions = options.unwrap_or_default().into();
    let cfg = Arc::new(IamConfig::new(&opts)?);
    Ok(entry_for(apikey, &cfg))
}

fn entry_for(apikey: &Secret, cfg: &Arc<IamConfig>) -> Arc<Entry> {
    global_cache().entry(&spec_of(apikey, cfg), cfg)
}

fn spec_of<'a>(apikey: &'a Secret, cfg: &'a IamConfig) -> KeySpec<'a> {
    KeySpec {
        base_url: &cfg.base_url,
        apikey: apikey.expose(),
        client_id: cfg.client_id.as_deref(),
        scope: cfg.scope.as_deref(),
    }
}

/// Waits for a usable token for `entry` (the cache's single flight).
fn token_info<'env>(env: &'env Env, entry: Arc<Entry>) -> Result<Object<'env>> {
    promise(env, async move {
        let t = global_cache().get(&entry).await?;
        Ok(JsTokenInfo::from(&*t))
    })
}

/// The cold path of `getIamToken`/`getIamTokenInfo`: a promise for the token
/// and its details once the cache has one.
#[napi(ts_return_type = "Promise<JsTokenInfo>")]
pub fn fetch_token_info<'env>(
    env: &'env Env,
    apikey: String,
    options: Option<JsIamOptions>,
) -> Result<Object<'env>> {
    let entry = throw(resolve(&Secret::from(apikey), options))?;
    token_info(env, entry)
}

#[napi]
pub fn clear_token_cache() {
    global_cache().clear();
}

#[napi(object)]
pub struct TokenCacheStats {
    pub size: u32,
    pub capacity: u32,
    pub requests: i64,
}

#[napi]
pub fn token_cache_stats() -> TokenCacheStats {
    let c = global_cache();
    TokenCacheStats {
        size: c.len() as u32,
        capacity: c.capacity() as u32,
        requests: c.requests_started() as i64,
    }
}

#[napi]
pub fn set_token_cache_capacity(capacity: u32) {
    global_cache().set_capacity(capacity as usize);
}

/// One API key and its IAM settings, holding its cache entry.
#[napi]
pub struct NativeAuthenticator {
    apikey: Secret,
    cfg: Arc<IamConfig>,
    entry: Arc<Entry>,
}

#[napi]
impl NativeAuthenticator {
    #[napi(constructor)]
    pub fn new(apikey: String, options: Option<JsIamOptions>) -> Result<Self> {
        let apikey = Secret::from(apikey);
        if apikey.is_empty() {
            return throw(Err(crate::error::Error::invalid(
                "apikey must be a non-empty string",
            )));
        }
        let opts: IamOptions = options.unwrap_or_default().into();
        let cfg = Arc::new(throw(IamConfig::new(&opts))?);
        let entry = entry_for(&apikey, &cfg);
        Ok(NativeAuthenticator { apikey, cfg, entry })
    }

    /// The entry, re-resolved if the cache has dropped it.
    fn current(&mut self) -> &Arc<Entry> {
        if self.entry.is_evicted() {
            self.entry = entry_for(&self.apikey, &self.cfg);
        }
        &self.entry
    }

    /// As `peekToken`: `[serial, freshMs, text]` or null.
    #[napi(ts_return_type = "[number, number, string] | null")]
    pub fn peek(&mut self) -> Option<Peeked> {
        global_cache()
            .peek_entry(self.current())
            .map(|t| peeked(&t))
    }

    #[napi(ts_return_type = "Promise<JsTokenInfo>")]
    pub fn fetch_info<'env>(&mut self, env: &'env Env) -> Result<Object<'env>> {
        let entry = self.current().clone();
        token_info(env, entry)
    }

    #[napi]
    pub fn invalidate(&mut self) {
        let entry = self.current().clone();
        global_cache().invalidate(&entry, None);
    }
}
