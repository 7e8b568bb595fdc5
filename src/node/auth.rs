//! Tokens for JavaScript: the authenticator class (also `getIamToken`'s
//! native half), the cache's settings and figures, and the change counter the JS
//! token memo watches.
//!
//! The hot path (`NativeAuthenticator.peek`) is synchronous: a cached token
//! is returned on the JS thread without touching tokio. Only a miss goes
//! through the completion queue.

use super::completion::{CompletionQueue, Outcome};
use super::options::{self, Reader};
use super::telemetry::NativeTrace;
use super::{internal, throw};
use crate::auth::assume::AssumeSource;
use crate::auth::bearer::{Given, StaticBearer};
use crate::auth::cache::{ChangeCell, Token, TokenCache};
use crate::auth::caller::{Cached, Caller};
use crate::auth::container::ContainerSource;
use crate::auth::cp4d::Cp4dSource;
use crate::auth::global_cache;
use crate::auth::iam::{ApikeySource, IamConfig};
use crate::auth::mcsp::McspSource;
use crate::auth::source::TokenSource;
use crate::auth::vpc::VpcSource;
use crate::error::Error;
use crate::secret::Secret;
use crate::store::{Store, StoreOptions};
use crate::telemetry::within;
use crate::wml::AuthSpec;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// What a token service said about a token.
#[napi(object)]
pub struct JsTokenInfo {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub expiration: i64,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    pub ims_user_id: Option<i64>,
}

impl From<&Given> for JsTokenInfo {
    /// A caller's bearer token: what its JWT says, zeros otherwise.
    fn from(g: &Given) -> Self {
        let (iat, exp) = (g.claims.iat, g.claims.exp);
        JsTokenInfo {
            access_token: g.token.expose().to_string(),
            token_type: "Bearer".into(),
            expires_in: match (iat, exp) {
                (Some(i), Some(e)) if e > i => e - i,
                _ => 0,
            },
            expiration: exp.unwrap_or(0),
            scope: None,
            refresh_token: None,
            ims_user_id: None,
        }
    }
}

impl From<&Token> for JsTokenInfo {
    fn from(t: &Token) -> Self {
        JsTokenInfo {
            access_token: t.access_token.expose().to_string(),
            token_type: t.token_type.clone(),
            expires_in: t.expires_in,
            expiration: t.expiration,
            scope: t.scope.clone(),
            refresh_token: t.refresh_token.as_ref().map(|s| s.expose().to_string()),
            ims_user_id: t.ims_user_id,
        }
    }
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

/// The options object of an authenticator constructor (`what` says what
/// it must hold).
fn required<'a>(options: Unknown<'a>, what: &str) -> crate::error::Result<Reader<'a>> {
    Reader::new(Some(options), "options")?
        .ok_or_else(|| Error::invalid(format!("options must be an object with {what}")))
}

/// `getIamToken`'s `IamOptions` read into the IAM settings.
fn iam_config(options: Option<Unknown>) -> crate::error::Result<IamConfig> {
    let r = Reader::new(options, "options")?;
    IamConfig::new(&options::iam(r.as_ref(), "url")?)
}

/// The IAM API key source for `NativeAuthenticator.iamKey`.
fn apikey_source(apikey: Unknown, options: Option<Unknown>) -> crate::error::Result<ApikeySource> {
    let apikey = Secret::from(options::string_arg(apikey, "apikey")?);
    ApikeySource::new(apikey, iam_config(options)?)
}

/// `getIamToken`'s IAM settings for one options object, read and checked
/// once: the JS layer keeps one per options it has accepted, and makes that
/// options' per-key authenticators from it (`iamKeyWith`) without reading
/// the options again.
#[napi]
pub struct NativeIamSettings {
    cfg: IamConfig,
}

#[napi]
impl NativeIamSettings {
    #[napi(constructor)]
    pub fn new(
        #[napi(ts_arg_type = "IamOptions | undefined | null")] options: Option<Unknown>,
    ) -> napi::Result<Self, String> {
        Ok(NativeIamSettings {
            cfg: throw(iam_config(options))?,
        })
    }
}

/// A change count kept in memory the JS engine owns, where external
/// buffers are not allowed (Electron's V8 memory cage). The buffer is held
/// by a strong reference for the life of its environment, whose cleanup
/// hook unsubscribes it before the memory can go.
struct EngineCell(*const AtomicU32);

// SAFETY: the pointer is to 4 aligned bytes that stay allocated while the
// cell is subscribed (see above); they are only touched atomically.
unsafe impl Send for EngineCell {}
unsafe impl Sync for EngineCell {}

impl ChangeCell for EngineCell {
    fn bump(&self) {
        // SAFETY: see the type's comment.
        unsafe { (*self.0).fetch_add(1, Ordering::Release) };
    }
}

/// Set to act as if external buffers were not allowed (tests of that path).
const NO_EXTERNAL_BUFFERS_VAR: &str = "WML_NATIVE_TEST_NO_EXTERNAL_BUFFERS";

unsafe extern "C" fn release_cell(
    _env: sys::napi_env,
    _data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: `hint` is the Box made in `change_counter`, released once here.
    let cell: Box<Arc<dyn ChangeCell>> = unsafe { Box::from_raw(hint.cast()) };
    global_cache().changes.unsubscribe(&cell);
}

/// This JS environment's change counter: a one-element Uint32Array that the
/// cache bumps whenever a token is replaced or dropped. Its memory is ours
/// (an external buffer), or, where the engine forbids external buffers, the
/// engine's own.
#[napi(ts_return_type = "Uint32Array")]
pub fn change_counter(env: &Env) -> napi::Result<Unknown<'_>, String> {
    let raw = env.raw();
    let mut buffer = std::ptr::null_mut();
    let cell = Arc::new(AtomicU32::new(0));
    let forbid = std::env::var_os(NO_EXTERNAL_BUFFERS_VAR).is_some_and(|v| !v.is_empty());
    let status = if forbid {
        sys::Status::napi_no_external_buffers_allowed
    } else {
        let as_dyn: Arc<dyn ChangeCell> = cell.clone();
        let hint = Box::into_raw(Box::new(as_dyn));
        // SAFETY: the data pointer stays valid while `hint` (which owns an
        // Arc of the cell) lives; the finalizer releases it.
        let status = unsafe {
            sys::napi_create_external_arraybuffer(
                raw,
                cell.as_ptr().cast(),
                4,
                Some(release_cell),
                hint.cast(),
                &mut buffer,
            )
        };
        if status == sys::Status::napi_ok {
            // SAFETY: `hint` is live until the finalizer runs.
            global_cache().changes.subscribe(unsafe { (*hint).clone() });
        } else {
            // SAFETY: not handed to the engine; reclaim it.
            drop(unsafe { Box::from_raw(hint) });
        }
        status
    };
    if status == sys::Status::napi_no_external_buffers_allowed {
        crate::log::debug!(
            "external buffers are not allowed here: the token change counter lives in engine memory"
        );
        let mut data = std::ptr::null_mut();
        // SAFETY: plain napi calls on the JS thread.
        check(unsafe { sys::napi_create_arraybuffer(raw, 4, &mut data, &mut buffer) })?;
        let mut keep = std::ptr::null_mut();
        check(unsafe { sys::napi_create_reference(raw, buffer, 1, &mut keep) })?;
        let cell: Arc<dyn ChangeCell> = Arc::new(EngineCell(data.cast()));
        global_cache().changes.subscribe(cell.clone());
        env.add_env_cleanup_hook(cell, |c| global_cache().changes.unsubscribe(&c))
            .map_err(internal)?;
    } else {
        check(status)?;
    }
    let mut array = std::ptr::null_mut();
    check(unsafe {
        sys::napi_create_typedarray(
            raw,
            sys::TypedarrayType::uint32_array,
            1,
            buffer,
            0,
            &mut array,
        )
    })?;
    // SAFETY: a value just created in this env.
    Ok(unsafe { Unknown::from_raw_unchecked(raw, array) })
}

fn check(status: sys::napi_status) -> napi::Result<(), String> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(internal(napi::Error::from_status(Status::from(status))))
    }
}

#[napi]
pub fn clear_token_cache() {
    global_cache().clear();
}

#[napi(object)]
pub struct TokenCacheStats {
    pub size: u32,
    pub capacity: u32,
    /// Token requests this process sent to a token service (each may take
    /// several attempts); tokens taken from the store are not counted.
    pub requests: i64,
    /// Token requests that failed after their retries.
    pub failures: i64,
    /// The token store in use (`redis://host:port/db`, never a password),
    /// or null.
    #[napi(ts_type = "string | null")]
    pub store: Option<String>,
    /// Tokens taken from the store instead of asking the token service.
    pub store_hits: i64,
    /// Fetches that found nothing usable in the store.
    pub store_misses: i64,
    /// Leases won: this process asked the token service for the fleet.
    pub leases_won: i64,
    /// Store operations that failed (the process then asked by itself).
    pub store_errors: i64,
}

#[napi]
pub fn token_cache_stats() -> TokenCacheStats {
    let c = global_cache();
    let f = c.fleet_stats();
    TokenCacheStats {
        size: c.len() as u32,
        capacity: c.capacity() as u32,
        requests: c.requests_started() as i64,
        failures: c.requests_failed() as i64,
        store: c.store_target(),
        store_hits: f.hits as i64,
        store_misses: f.misses as i64,
        leases_won: f.leases_won as i64,
        store_errors: f.errors as i64,
    }
}

/// Why the token store named by `WML_NATIVE_TOKEN_STORE` (and `_KEY`) is
/// not used, or null; only the first call in the process gets it (the JS
/// layer turns it into one process warning).
#[napi]
pub fn token_store_env_problem() -> Option<String> {
    crate::auth::take_env_problem()
}

/// The IAM URL an authenticator without `url` sends to.
#[napi]
pub const DEFAULT_IAM_URL: &str = crate::auth::iam::DEFAULT_IAM_URL;

/// The metadata service URL a `VpcInstanceAuthenticator` without `url` uses.
#[napi]
pub const DEFAULT_VPC_URL: &str = crate::auth::vpc::DEFAULT_VPC_URL;

/// `configureTokenCache(options)`: `maxEntries`, and the token store
/// (`store`, `storeKey`, `caCert`, `disableSslVerification`, `timeoutMs`).
/// Checks everything before changing anything.
#[napi]
pub fn configure_token_cache(
    #[napi(ts_arg_type = "TokenCacheOptions")] options: Unknown,
) -> napi::Result<(), String> {
    throw(configure(options))
}

fn configure(options: Unknown) -> crate::error::Result<()> {
    let Some(r) = Reader::new(Some(options), "options")? else {
        return Err(Error::invalid("options must be an object"));
    };
    let capacity = r
        .number("maxEntries")?
        .map(TokenCache::capacity_from)
        .transpose()?;
    let store = store_setting(&r)?;
    if let Some(n) = capacity {
        global_cache().set_capacity(n);
    }
    if let Some(store) = store {
        global_cache().set_store(store);
    }
    Ok(())
}

/// The store `options` ask for: None to leave it as it is, `Some(None)` to
/// turn it off (`store: null`).
fn store_setting(r: &Reader) -> crate::error::Result<Option<Option<Store>>> {
    let url = r.string("store")?;
    let secret = r.secret("storeKey")?;
    let ca_cert = r.string("caCert")?;
    let insecure = r.bool("disableSslVerification")?;
    let timeout_ms = r.number("timeoutMs")?;
    let Some(url) = url else {
        if secret.is_some() || ca_cert.is_some() || insecure.is_some() || timeout_ms.is_some() {
            return Err(Error::invalid(
                "options.storeKey, caCert, disableSslVerification and timeoutMs are settings of a token store: give them with options.store (a redis:// or rediss:// URL)",
            ));
        }
        return Ok(r.is_null("store")?.then_some(None));
    };
    let o = StoreOptions {
        secret,
        ca_cert,
        disable_ssl_verification: insecure.unwrap_or(false),
        ..StoreOptions::new(url)
    }
    .timeout_ms(timeout_ms)?;
    Ok(Some(Some(Store::new(o)?)))
}

/// A credential and its settings: the native half of every authenticator
/// class.
#[napi]
pub struct NativeAuthenticator {
    caller: Caller,
}

impl NativeAuthenticator {
    fn build<S: TokenSource>(s: crate::error::Result<S>) -> napi::Result<Self, String> {
        Ok(NativeAuthenticator {
            caller: Caller::Cached(Cached::new(Arc::new(throw(s)?), global_cache().clone())),
        })
    }

    /// An authenticator from a constructor's options object (`what` says
    /// what it must hold), read by `make`.
    fn from_options<S: TokenSource>(
        options: Unknown,
        what: &str,
        make: impl FnOnce(&Reader) -> crate::error::Result<S>,
    ) -> napi::Result<Self, String> {
        Self::build(required(options, what).and_then(|r| make(&r)))
    }

    /// How a `WmlClient` that uses this authenticator authenticates.
    pub(crate) fn auth_spec(&self) -> AuthSpec {
        match &self.caller {
            Caller::Cached(c) => AuthSpec::Source(c.source().clone()),
            Caller::Bearer(b) => AuthSpec::Bearer(b.clone()),
            Caller::None => AuthSpec::None,
        }
    }
}

/// `ERR_INVALID_ARG` for a token asked of a `NoAuthAuthenticator`.
fn no_token() -> Error {
    Error::invalid("NoAuthAuthenticator has no token: it sends no Authorization header")
}

#[napi]
impl NativeAuthenticator {
    /// An IAM API key (`IamAuthenticator`): `{ apikey, ...IamOptions }`.
    #[napi(factory)]
    pub fn iam(
        #[napi(ts_arg_type = "IamOptions & { apikey: string }")] options: Unknown,
    ) -> napi::Result<Self, String> {
        Self::from_options(options, "an apikey", |r| {
            let apikey = r.secret("apikey")?.unwrap_or_default();
            ApikeySource::new(apikey, IamConfig::new(&options::iam(Some(r), "url")?)?)
        })
    }

    /// `getIamToken(apikey, options)`'s authenticator: an IAM API key and
    /// its `IamOptions` given apart (the JS layer makes one per key and
    /// options, and keeps it with the token memo).
    #[napi(factory)]
    pub fn iam_key(
        #[napi(ts_arg_type = "string")] apikey: Unknown,
        #[napi(ts_arg_type = "IamOptions | undefined | null")] options: Option<Unknown>,
    ) -> napi::Result<Self, String> {
        Self::build(apikey_source(apikey, options))
    }

    /// As `iamKey`, with options already read into `settings`: only the
    /// key is checked (as `iamKey` checks it).
    #[napi(factory)]
    pub fn iam_key_with(
        #[napi(ts_arg_type = "string")] apikey: Unknown,
        settings: &NativeIamSettings,
    ) -> napi::Result<Self, String> {
        Self::build(
            options::string_arg(apikey, "apikey")
                .and_then(|k| ApikeySource::new(Secret::from(k), settings.cfg.clone())),
        )
    }

    /// A trusted profile from a compute resource (`ContainerAuthenticator`).
    #[napi(factory)]
    pub fn container(
        #[napi(ts_arg_type = "ContainerAuthenticatorOptions")] options: Unknown,
    ) -> napi::Result<Self, String> {
        Self::from_options(options, "a trusted profile (iamProfileId, ...)", |r| {
            ContainerSource::new(&options::container(r)?)
        })
    }

    /// A trusted profile assumed with an API key (`IamAssumeAuthenticator`).
    #[napi(factory)]
    pub fn iam_assume(
        #[napi(ts_arg_type = "IamAssumeAuthenticatorOptions")] options: Unknown,
    ) -> napi::Result<Self, String> {
        Self::from_options(options, "an apikey and a trusted profile", |r| {
            AssumeSource::new(&options::assume(r)?, global_cache())
        })
    }

    /// A trusted profile of a VPC instance (`VpcInstanceAuthenticator`).
    #[napi(factory)]
    pub fn vpc(
        #[napi(ts_arg_type = "VpcInstanceAuthenticatorOptions | undefined | null")] options: Option<
            Unknown,
        >,
    ) -> napi::Result<Self, String> {
        let o = throw(
            Reader::new(options, "options").and_then(|r| r.map(|r| options::vpc(&r)).transpose()),
        )?;
        Self::build(VpcSource::new(&o.unwrap_or_default()))
    }

    /// Cloud Pak for Data (`CloudPakForDataAuthenticator`).
    #[napi(factory, js_name = "cp4d")]
    pub fn cp4d(
        #[napi(ts_arg_type = "CloudPakForDataAuthenticatorOptions")] options: Unknown,
    ) -> napi::Result<Self, String> {
        Self::from_options(options, "url, username and a password or an apikey", |r| {
            Cp4dSource::new(&options::cp4d(r)?)
        })
    }

    /// MCSP, watsonx.ai on AWS (`McspAuthenticator`).
    #[napi(factory)]
    pub fn mcsp(
        #[napi(ts_arg_type = "McspAuthenticatorOptions")] options: Unknown,
    ) -> napi::Result<Self, String> {
        Self::from_options(options, "an apikey and a url", |r| {
            McspSource::new(&options::mcsp(r)?)
        })
    }

    /// A bearer token the caller manages (`BearerTokenAuthenticator`).
    #[napi(factory)]
    pub fn bearer(
        #[napi(ts_arg_type = "{ bearerToken: string }")] options: Unknown,
    ) -> napi::Result<Self, String> {
        let b = throw(
            required(options, "a bearerToken")
                .and_then(|r| StaticBearer::new(r.secret("bearerToken")?.unwrap_or_default())),
        )?;
        Ok(NativeAuthenticator {
            caller: Caller::Bearer(Arc::new(b)),
        })
    }

    /// No authentication (`NoAuthAuthenticator`).
    #[napi(factory)]
    pub fn no_auth() -> Self {
        NativeAuthenticator {
            caller: Caller::None,
        }
    }

    /// The cached, usable token as `[serial, freshMs, text]` (the text may
    /// be reused for `freshMs` unless the change counter moves), or null:
    /// then call `fetch`. A caller's bearer
    /// token is never fresh (it may be replaced, or expire, at any time):
    /// `[0, 0, text]` while its JWT says it is live.
    #[napi(ts_return_type = "[number, number, string] | null")]
    pub fn peek(&self) -> Option<Peeked> {
        match &self.caller {
            Caller::Cached(c) => c.peek().map(|t| peeked(&t)),
            Caller::Bearer(b) => b
                .current()
                .ok()
                .map(|g| (0, 0.0, g.token.expose().to_string())),
            Caller::None => None,
        }
    }

    /// Completes call `id` with the token's `JsTokenInfo` (a traced wait
    /// hears of the token request it starts).
    #[napi]
    pub fn fetch(&self, queue: &CompletionQueue, id: u32, trace: Option<&NativeTrace>) {
        match &self.caller {
            Caller::Cached(c) => {
                let (c, trace) = (c.clone(), trace.map(|t| t.inner.clone()));
                queue.inner.run(id, move || async move {
                    let t = within(trace.as_ref(), c.get()).await?;
                    Ok(Outcome::Value(Box::new(JsTokenInfo::from(&*t))))
                });
            }
            Caller::Bearer(b) => {
                let r = b.current();
                queue.inner.run(id, move || async move {
                    Ok(Outcome::Value(Box::new(JsTokenInfo::from(&*r?))))
                });
            }
            Caller::None => queue
                .inner
                .run(id, || async move { Err::<Outcome, _>(no_token()) }),
        }
    }

    /// Drops the cached token (a caller's bearer token stays: only
    /// `setBearerToken` replaces it).
    #[napi]
    pub fn invalidate(&self) {
        if let Caller::Cached(c) = &self.caller {
            c.invalidate(None);
        }
    }

    /// Replaces a `BearerTokenAuthenticator`'s token; the next call uses it.
    #[napi]
    pub fn set_bearer_token(
        &self,
        #[napi(ts_arg_type = "string")] token: Unknown,
    ) -> napi::Result<(), String> {
        throw(match &self.caller {
            Caller::Bearer(b) => {
                options::string_arg(token, "bearerToken").and_then(|t| b.set(Secret::new(t)))
            }
            _ => Err(Error::invalid(
                "setBearerToken is for a BearerTokenAuthenticator",
            )),
        })
    }
}
