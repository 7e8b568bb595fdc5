//! The `WmlClient` class, its streams, and the cancel handle an AbortSignal drives.

use super::completion::CompletionQueue;
use super::convert::{JsCallOptions, JsWmlCredentials};
use super::{promise, throw};
use crate::iam::exchange::timeout_from;
use crate::iam::global_cache;
use crate::wml::client::{CallOptions, EventStream, WmlClient, DEFAULT_TIMEOUT};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Fired by index.js when the caller's AbortSignal aborts.
#[napi]
#[derive(Default)]
pub struct NativeCancel {
    token: CancellationToken,
}

#[napi]
impl NativeCancel {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// Which plain call `NativeWmlClient.call` makes.
#[napi(string_enum = "lowercase")]
pub enum CallKind {
    Score,
    Generate,
}

#[napi]
pub struct NativeWmlClient {
    inner: Arc<WmlClient>,
}

fn body_bytes(body: Either<String, Uint8Array>) -> Bytes {
    match body {
        Either::A(s) => Bytes::from(s),
        Either::B(b) => Bytes::copy_from_slice(&b),
    }
}

fn call_options(
    o: Option<JsCallOptions>,
    cancel: Option<&NativeCancel>,
) -> crate::error::Result<CallOptions> {
    let o = o.unwrap_or_default();
    Ok(CallOptions {
        timeout: match o.timeout_ms {
            Some(_) => Some(timeout_from(
                o.timeout_ms,
                DEFAULT_TIMEOUT,
                "options.timeoutMs",
            )?),
            None => None,
        },
        transaction_id: o.transaction_id.filter(|t| !t.is_empty()),
        cancel: cancel.map(|c| c.token.clone()),
    })
}

#[napi]
impl NativeWmlClient {
    #[napi(constructor)]
    pub fn new(credentials: JsWmlCredentials) -> Result<Self> {
        let inner = throw(WmlClient::new(&credentials.into(), global_cache().clone()))?;
        Ok(NativeWmlClient {
            inner: Arc::new(inner),
        })
    }

    /// One plain (not streamed) call: scoring or text generation. Completes
    /// call `id` on `queue` with the response body text.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        queue: &CompletionQueue,
        id: u32,
        kind: CallKind,
        deployment_id: String,
        body: Either<String, Uint8Array>,
        options: Option<JsCallOptions>,
        cancel: Option<&NativeCancel>,
    ) -> Result<()> {
        let o = throw(call_options(options, cancel))?;
        let (c, body) = (self.inner.clone(), body_bytes(body));
        queue.inner.run(id, async move {
            match kind {
                CallKind::Score => c.score(&deployment_id, body, &o).await,
                CallKind::Generate => c.generate(&deployment_id, body, &o).await,
            }
            .map(Some)
        });
        Ok(())
    }

    /// Opens a generation stream; resolves once the service accepted it.
    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn stream<'env>(
        &self,
        env: &'env Env,
        deployment_id: String,
        body: Either<String, Uint8Array>,
        options: Option<JsCallOptions>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'env>> {
        let o = throw(call_options(options, cancel))?;
        let (c, body) = (self.inner.clone(), body_bytes(body));
        promise(env, async move {
            let s = c.stream(&deployment_id, body, &o).await?;
            Ok(NativeStream::from(s))
        })
    }
}

/// A generation stream: `next()` resolves to one event's JSON text, or null
/// at the end; `close()` closes the connection at once.
#[napi]
pub struct NativeStream {
    inner: Arc<tokio::sync::Mutex<EventStream>>,
    abort: tokio::task::AbortHandle,
}

impl From<EventStream> for NativeStream {
    fn from(s: EventStream) -> Self {
        NativeStream {
            abort: s.abort_handle(),
            inner: Arc::new(tokio::sync::Mutex::new(s)),
        }
    }
}

#[napi]
impl NativeStream {
    /// Completes call `id` on `queue` with the next event's text, or the end.
    #[napi]
    pub fn next(&self, queue: &CompletionQueue, id: u32) {
        let inner = self.inner.clone();
        queue
            .inner
            .run(id, async move { inner.lock().await.next().await });
    }

    #[napi]
    pub fn close(&self) {
        self.abort.abort();
    }
}
