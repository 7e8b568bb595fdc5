//! The napi layer: turns the core into JS functions and classes. Kept thin:
//! argument conversion, promises, and error hand-off. The package's
//! `index.js` wraps these into the public API (error classes, options
//! checks, async iteration).

mod completion;
mod convert;
mod iam;
mod wml;

use crate::error::Error;
use crate::runtime::unpanicked;
use napi::bindgen_prelude::*;
use std::future::Future;

/// Runs `fut` on the shared runtime and returns a promise for its result.
/// Errors reject with the core error as JSON, which `index.js` turns into
/// the matching Error class.
pub(crate) fn promise<'env, T, F>(env: &'env Env, fut: F) -> Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = crate::error::Result<T>> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    crate::runtime::handle().spawn(async move {
        match unpanicked(fut).await {
            Ok(v) => deferred.resolve(move |_| Ok(v)),
            Err(e) => deferred.reject(to_js_error(&e)),
        }
    });
    Ok(promise)
}

pub(crate) fn to_js_error(e: &Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_json())
}

/// For synchronous calls: a core error thrown as the same JSON payload.
pub(crate) fn throw<T>(r: crate::error::Result<T>) -> Result<T> {
    r.map_err(|e| to_js_error(&e))
}
