//! The `WmlClient` class, its streams, and the cancel handle an AbortSignal
//! drives.

use super::auth::NativeAuthenticator;
use super::completion::CompletionQueue;
use super::options::{self, Reader};
use super::throw;
use crate::auth::global_cache;
use crate::error::{Error, Result};
use crate::wml::{AuthSpec, CallOptions, EventStream, Op, WmlClient, WmlOptions};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Fired by lib/ when the caller's AbortSignal aborts.
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

/// Which streamed call `NativeWmlClient.openStream` makes.
#[napi(string_enum = "lowercase")]
pub enum StreamKind {
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

/// `WmlCredentials` read into the core's options. `authenticator` is the
/// native half of the credentials' `authenticator`, when they have one.
fn wml_options(
    credentials: Unknown,
    authenticator: Option<&NativeAuthenticator>,
) -> Result<WmlOptions> {
    let Some(r) = Reader::new(Some(credentials), "credentials")? else {
        return Err(Error::invalid(
            "credentials must be an object like { url, apikey }",
        ));
    };
    let apikey = r.secret("apikey")?.filter(|k| !k.is_empty());
    let token = r.secret("token")?.filter(|t| !t.is_empty());
    let auth = match (authenticator, apikey, token) {
        (Some(a), None, None) => AuthSpec::Source(a.source()),
        (None, Some(k), None) => AuthSpec::Apikey(k, Box::new(options::iam(Some(&r), "iamUrl")?)),
        (None, None, Some(t)) => AuthSpec::Token(t),
        (None, None, None) => {
            return Err(Error::invalid(
                "credentials need an apikey, a token or an authenticator",
            ))
        }
        _ => {
            return Err(Error::invalid(
                "credentials take one of apikey, token and authenticator",
            ))
        }
    };
    Ok(WmlOptions {
        url: r.string("url")?.unwrap_or_default(),
        version: r.string("version")?,
        transport: options::transport(&r)?,
        auth,
        project_id: r.string("projectId")?,
        space_id: r.string("spaceId")?,
    })
}

/// Per-call options (`signal` is handled in lib/).
fn call_options(options: Option<Unknown>, cancel: Option<&NativeCancel>) -> Result<CallOptions> {
    let mut o = match Reader::new(options, "options")? {
        None => CallOptions::default(),
        Some(r) => CallOptions::new(
            r.number("timeoutMs")?,
            r.string("transactionId")?.as_deref(),
        )?,
    };
    o.cancel = cancel.map(|c| c.token.clone());
    Ok(o)
}

#[napi]
impl NativeWmlClient {
    #[napi(constructor)]
    pub fn new(
        #[napi(ts_arg_type = "WmlCredentials")] credentials: Unknown,
        authenticator: Option<&NativeAuthenticator>,
    ) -> napi::Result<Self, String> {
        let o = throw(wml_options(credentials, authenticator))?;
        let inner = throw(WmlClient::new(&o, global_cache().clone()))?;
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
        #[napi(ts_arg_type = "string")] deployment_id: Unknown,
        body: Either<String, Uint8Array>,
        #[napi(ts_arg_type = "RequestOptions | undefined | null")] options: Option<Unknown>,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<(), String> {
        let deployment_id = throw(options::string_arg(deployment_id, "deploymentId"))?;
        let o = throw(call_options(options, cancel))?;
        let op = match kind {
            CallKind::Score => Op::Score,
            CallKind::Generate => Op::Generate,
        };
        let (c, body) = (self.inner.clone(), body_bytes(body));
        queue.inner.run(
            id,
            async move { c.call(op, &deployment_id, body, &o).await },
        );
        Ok(())
    }

    /// Starts a streamed call at once; its events (or the error that ends
    /// it) come through the stream's `next`. Closing the stream, even before
    /// the service has answered, ends the request.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn open_stream(
        &self,
        queue: &CompletionQueue,
        kind: StreamKind,
        #[napi(ts_arg_type = "string")] deployment_id: Unknown,
        body: Either<String, Uint8Array>,
        #[napi(ts_arg_type = "RequestOptions | undefined | null")] options: Option<Unknown>,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<NativeStream, String> {
        let deployment_id = throw(options::string_arg(deployment_id, "deploymentId"))?;
        let o = throw(call_options(options, cancel))?;
        let op = match kind {
            StreamKind::Generate => Op::GenerateStream,
        };
        let s = throw(self.inner.open_stream(
            op,
            &deployment_id,
            body_bytes(body),
            o,
            queue.inner.closed(),
        ))?;
        Ok(NativeStream::from(s))
    }
}

/// A stream: `next()` completes with one event's JSON text, or the end;
/// `close()` ends the request or closes the connection at once.
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
