//! The `WmlClient` class, its streams, and the cancel handle an AbortSignal
//! drives.

use super::auth::NativeAuthenticator;
use super::completion::{CompletionQueue, Outcome};
use super::options::{self, Reader};
use super::telemetry::NativeTrace;
use super::throw;
use crate::auth::global_cache;
use crate::error::{Error, Result};
use crate::wml::client::Credentials;
use crate::wml::{AuthSpec, CallOptions, Embeddings, EventStream, Op, WmlClient, WmlOptions};
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

/// Which plain call `NativeWmlClient.call` makes (`modelspecs` takes its
/// query as the body).
#[napi(string_enum = "lowercase")]
pub enum CallKind {
    Score,
    Generate,
    DeploymentChat,
    Chat,
    ModelGenerate,
    Rerank,
    Tokenize,
    ModelSpecs,
}

impl From<CallKind> for Op {
    fn from(k: CallKind) -> Op {
        match k {
            CallKind::Score => Op::Score,
            CallKind::Generate => Op::Generate,
            CallKind::DeploymentChat => Op::DeploymentChat,
            CallKind::Chat => Op::Chat,
            CallKind::ModelGenerate => Op::ModelGenerate,
            CallKind::Rerank => Op::Rerank,
            CallKind::Tokenize => Op::Tokenize,
            CallKind::ModelSpecs => Op::ModelSpecs,
        }
    }
}

/// Which streamed call `NativeWmlClient.openStream` makes.
#[napi(string_enum = "lowercase")]
pub enum StreamKind {
    Generate,
    DeploymentChat,
    Chat,
    ModelGenerate,
}

impl From<StreamKind> for Op {
    fn from(k: StreamKind) -> Op {
        match k {
            StreamKind::Generate => Op::GenerateStream,
            StreamKind::DeploymentChat => Op::DeploymentChatStream,
            StreamKind::Chat => Op::ChatStream,
            StreamKind::ModelGenerate => Op::ModelGenerateStream,
        }
    }
}

/// The key lib/ names an operation by: the call or stream kind (streams
/// with `_stream`), `embed` for embeddings.
fn op_key(op: Op) -> String {
    let kind = match op {
        Op::Score => "score",
        Op::Generate | Op::GenerateStream => "generate",
        Op::DeploymentChat | Op::DeploymentChatStream => "deploymentchat",
        Op::Chat | Op::ChatStream => "chat",
        Op::ModelGenerate | Op::ModelGenerateStream => "modelgenerate",
        Op::Embed => "embed",
        Op::Rerank => "rerank",
        Op::Tokenize => "tokenize",
        Op::ModelSpecs => "modelspecs",
    };
    if op.streams() {
        format!("{kind}_stream")
    } else {
        kind.to_string()
    }
}

/// Every operation as `[key, the WmlClient method, HTTP method, path
/// template, gen_ai.operation.name or null]` (each written once, in the
/// core's `Op`).
#[napi(ts_return_type = "Array<[string, string, string, string, string | null]>")]
pub fn operations() -> Vec<(String, String, String, String, Option<String>)> {
    Op::ALL
        .iter()
        .map(|&op| {
            (
                op_key(op),
                op.api_name().to_string(),
                op.method().to_string(),
                op.template().to_string(),
                op.gen_ai_operation().map(str::to_string),
            )
        })
        .collect()
}

/// An embeddings answer as lib/ receives it: every vector in one
/// `Float32Array` (lib/ hands out `subarray` views), the other members as
/// they came.
#[napi(object)]
pub struct NativeEmbeddings {
    pub vectors: Float32Array,
    /// The length of every vector, or 0 when they differ (then see `lengths`).
    pub dimension: u32,
    pub lengths: Option<Vec<u32>>,
    /// `results[i].input`, when the service returned them.
    pub inputs: Option<Vec<String>>,
    pub count: u32,
    pub input_token_count: f64,
    /// `model_id`, `created_at`, `system`, ...
    #[napi(ts_type = "Record<string, unknown>")]
    pub rest: serde_json::Value,
}

impl From<Embeddings> for NativeEmbeddings {
    fn from(e: Embeddings) -> Self {
        let dimension = e.dimension();
        NativeEmbeddings {
            count: e.lengths.len() as u32,
            dimension: dimension.unwrap_or(0),
            lengths: if dimension.is_some() || e.lengths.is_empty() {
                None
            } else {
                Some(e.lengths)
            },
            vectors: Float32Array::new(e.vectors),
            inputs: e.inputs,
            input_token_count: e.input_token_count as f64,
            rest: serde_json::Value::Object(e.rest),
        }
    }
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
/// native half of the credentials' `authenticator`, when they have one
/// (the forms credentials take: `AuthSpec::from_credentials`).
fn wml_options(
    credentials: Unknown,
    authenticator: Option<&NativeAuthenticator>,
) -> Result<WmlOptions> {
    let Some(r) = Reader::new(Some(credentials), "credentials")? else {
        return Err(Error::invalid(
            "credentials must be an object like { url, apikey }",
        ));
    };
    // Read in this order: the first wrong type is the one reported.
    let credentials = Credentials {
        apikey: r.secret("apikey")?,
        token: r.secret("token")?,
        password: r.secret("password")?,
        username: r.string("username")?,
        instance_id: r.string("instance_id")?,
    };
    let auth = AuthSpec::from_credentials(
        credentials,
        authenticator.map(NativeAuthenticator::auth_spec),
        || options::iam(Some(&r), "iamUrl"),
    )?;
    Ok(WmlOptions {
        url: r.string("url")?.unwrap_or_default(),
        version: r.string("version")?,
        transport: options::transport(&r)?,
        auth,
        project_id: r.string("projectId")?,
        space_id: r.string("spaceId")?,
    })
}

/// Per-call options (`signal` is handled in lib/); a traced call's trace
/// context headers go with its own.
fn call_options(
    options: Option<Unknown>,
    cancel: Option<&NativeCancel>,
    trace: Option<&NativeTrace>,
) -> Result<CallOptions> {
    let mut o = match Reader::new(options, "options")? {
        None => CallOptions::default(),
        Some(r) => CallOptions::new(
            r.number("timeoutMs")?,
            r.string("transactionId")?.as_deref(),
        )?,
    };
    o.cancel = cancel.map(|c| c.token.clone());
    if let Some(t) = trace {
        o.headers.extend(t.inner.headers.iter().cloned());
        o.trace = Some(t.inner.clone());
    }
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

    /// The service URL the calls go to (without a trailing slash).
    #[napi(getter)]
    pub fn base(&self) -> String {
        self.inner.base().to_string()
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
        trace: Option<&NativeTrace>,
    ) -> napi::Result<(), String> {
        let deployment_id = throw(options::string_arg(deployment_id, "deploymentId"))?;
        let o = throw(call_options(options, cancel, trace))?;
        let op = Op::from(kind);
        let (c, body) = (self.inner.clone(), body_bytes(body));
        queue.inner.run_call(id, move || async move {
            c.call(op, &deployment_id, body, &o).await
        });
        Ok(())
    }

    /// Embeddings: completes call `id` with a `NativeEmbeddings`.
    #[napi]
    pub fn embed(
        &self,
        queue: &CompletionQueue,
        id: u32,
        body: Either<String, Uint8Array>,
        #[napi(ts_arg_type = "RequestOptions | undefined | null")] options: Option<Unknown>,
        cancel: Option<&NativeCancel>,
        trace: Option<&NativeTrace>,
    ) -> napi::Result<(), String> {
        let o = throw(call_options(options, cancel, trace))?;
        let (c, body) = (self.inner.clone(), body_bytes(body));
        queue.inner.run_call(id, move || async move {
            let e = c.embed(body, &o).await?;
            Ok(Outcome::Value(Box::new(NativeEmbeddings::from(e))))
        });
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
        trace: Option<&NativeTrace>,
    ) -> napi::Result<NativeStream, String> {
        let deployment_id = throw(options::string_arg(deployment_id, "deploymentId"))?;
        let o = throw(call_options(options, cancel, trace))?;
        let s = throw(self.inner.open_stream(
            Op::from(kind),
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
            .run(id, move || async move { inner.lock().await.next().await });
    }

    #[napi]
    pub fn close(&self) {
        self.abort.abort();
    }
}
