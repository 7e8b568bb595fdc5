//! The Watson Machine Learning / watsonx.ai client: online scoring and text
//! generation (plain and streamed), with the token taken from the shared cache.
//!
//! Bodies travel as bytes: the caller serialises once and parses the answer
//! once; nothing here walks the JSON of a successful call.

use super::sse;
use crate::error::{Error, Result};
use crate::http::{self, Attempt, RetryPolicy};
use crate::iam::cache::{Entry, KeySpec, Token, TokenCache};
use crate::iam::exchange::{self, IamConfig, IamOptions};
use crate::log::debug;
use crate::secret::{scrub, Secret};
use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The API version date sent when the caller names none.
pub const DEFAULT_VERSION: &str = "2023-05-29";
/// Default bound on a whole call (token, retries, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence tolerated between two events of a stream.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Statuses worth another attempt; 400, 403 and 404 never are.
const RETRY_STATUSES: [u16; 5] = [429, 502, 503, 504, 520];
const MAX_RESPONSE: usize = 256 << 20;
/// An error body is read for its `errors` and `trace`; more is never needed.
const MAX_ERROR_BODY: usize = 1 << 20;
const MAX_CACHED_URLS: usize = 1024;
/// Error codes that mean the token itself was refused.
const TOKEN_REJECTED: [&str; 2] = [
    "authentication_token_expired",
    "authentication_token_not_valid",
];

/// Settings as a caller gives them (the JS `WmlCredentials`).
#[derive(Clone, Debug, Default)]
pub struct WmlOptions {
    pub url: String,
    pub apikey: Option<Secret>,
    pub token: Option<Secret>,
    pub version: Option<String>,
    /// IAM settings; `iam.url` is the credentials' `iamUrl`. Their timeout,
    /// retries, headers and TLS settings apply to WML calls too.
    pub iam: IamOptions,
}

/// Per-call options.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub timeout: Option<Duration>,
    pub transaction_id: Option<String>,
    pub cancel: Option<CancellationToken>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Endpoint {
    Predictions,
    Generation,
    GenerationStream,
}

impl Endpoint {
    fn path(self, id: &str) -> String {
        match self {
            Endpoint::Predictions => format!("/ml/v4/deployments/{id}/predictions"),
            Endpoint::Generation => format!("/ml/v1/deployments/{id}/text/generation"),
            Endpoint::GenerationStream => {
                format!("/ml/v1/deployments/{id}/text/generation_stream")
            }
        }
    }
}

enum Auth {
    Iam {
        apikey: Secret,
        cfg: Arc<IamConfig>,
        entry: Mutex<Arc<Entry>>,
    },
    Bearer(Secret),
}

pub struct WmlClient {
    base: String,
    /// Parsed request URLs by endpoint and deployment (parsing costs more
    /// than the rest of building a request).
    urls: Mutex<HashMap<(Endpoint, String), reqwest::Url>>,
    version: String,
    auth: Auth,
    http: reqwest::Client,
    timeout: Duration,
    max_retries: u32,
    headers: HeaderMap,
    cache: Arc<TokenCache>,
}

impl std::fmt::Debug for WmlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WmlClient")
            .field("url", &self.base)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The token a call used: its header value, and the cache's token to
/// invalidate if the service refuses it.
struct Bearer {
    header: HeaderValue,
    token: Option<Arc<Token>>,
}

impl WmlClient {
    pub fn new(o: &WmlOptions, cache: Arc<TokenCache>) -> Result<Self> {
        if o.url.trim().is_empty() {
            return Err(Error::invalid(
                "url is required (e.g. https://us-south.ml.cloud.ibm.com)",
            ));
        }
        let base = http::parse_service_url(&o.url, "url")?;
        let base = base.as_str().trim_end_matches('/').to_string();
        let version = match &o.version {
            None => DEFAULT_VERSION.to_string(),
            Some(v) if is_version_date(v) => v.clone(),
            Some(_) => return Err(Error::invalid("version must be a date like 2023-05-29")),
        };
        let iam_cfg = Arc::new(IamConfig::new(&o.iam)?);
        let auth = match (&o.apikey, &o.token) {
            (Some(k), _) if !k.is_empty() => {
                let entry = cache.entry(&spec(k, &iam_cfg), &iam_cfg);
                Auth::Iam {
                    apikey: k.clone(),
                    cfg: iam_cfg.clone(),
                    entry: Mutex::new(entry),
                }
            }
            (_, Some(t)) if !t.is_empty() => Auth::Bearer(t.clone()),
            _ => {
                return Err(Error::invalid(
                    "credentials need an apikey (or a bearer token)",
                ))
            }
        };
        Ok(WmlClient {
            base,
            urls: Mutex::default(),
            version,
            auth,
            http: http::client(&iam_cfg.tls)?,
            timeout: exchange::timeout_from(o.iam.timeout_ms, DEFAULT_TIMEOUT, "timeoutMs")?,
            max_retries: iam_cfg.max_retries,
            headers: iam_cfg.headers.clone(),
            cache,
        })
    }

    /// `POST /ml/v4/deployments/{id}/predictions`: the response body text.
    pub async fn score(&self, id: &str, body: Bytes, o: &CallOptions) -> Result<String> {
        self.call(Endpoint::Predictions, id, body, o).await
    }

    /// `POST /ml/v1/deployments/{id}/text/generation`: the response body text.
    pub async fn generate(&self, id: &str, body: Bytes, o: &CallOptions) -> Result<String> {
        self.call(Endpoint::Generation, id, body, o).await
    }

    async fn call(&self, ep: Endpoint, id: &str, body: Bytes, o: &CallOptions) -> Result<String> {
        let url = self.url(ep, id)?;
        let work = async {
            let (resp, _) = self
                .send_with_token(&url, &body, o, "application/json")
                .await?;
            read_text(resp).await
        };
        guard(work, o.cancel.as_ref(), o.timeout.unwrap_or(self.timeout)).await
    }

    /// `POST .../text/generation_stream`: resolves once the service has
    /// accepted the request; events then arrive through the stream.
    pub async fn stream(&self, id: &str, body: Bytes, o: &CallOptions) -> Result<EventStream> {
        let url = self.url(Endpoint::GenerationStream, id)?;
        let deadline = o.timeout.map(|t| tokio::time::Instant::now() + t);
        let connect = self.send_with_token(&url, &body, o, "text/event-stream");
        let (resp, bearer) = guard(
            connect,
            o.cancel.as_ref(),
            o.timeout.unwrap_or(self.timeout),
        )
        .await?;
        let (tx, rx) = mpsc::channel(32);
        let token_text = bearer.secret_text();
        let on_rejected = self.rejection_hook(bearer.token);
        let task = crate::runtime::handle().spawn(pump(
            resp,
            tx,
            o.cancel.clone().unwrap_or_default(),
            deadline,
            token_text,
            on_rejected,
        ));
        Ok(EventStream { rx, task })
    }

    fn url(&self, ep: Endpoint, id: &str) -> Result<reqwest::Url> {
        let key = (ep, id.to_string());
        if let Some(u) = self.urls.lock().get(&key) {
            return Ok(u.clone());
        }
        check_deployment_id(id)?;
        let text = format!("{}{}?version={}", self.base, ep.path(id), self.version);
        let u = reqwest::Url::parse(&text)
            .map_err(|_| Error::invalid("deploymentId does not make a valid URL"))?;
        let mut urls = self.urls.lock();
        if urls.len() >= MAX_CACHED_URLS {
            urls.clear();
        }
        urls.insert(key, u.clone());
        Ok(u)
    }

    async fn bearer(&self) -> Result<Bearer> {
        match &self.auth {
            Auth::Bearer(t) => Ok(Bearer {
                header: bearer_header(t.expose())?,
                token: None,
            }),
            Auth::Iam { apikey, cfg, entry } => {
                let entry = {
                    let mut e = entry.lock();
                    if e.is_evicted() {
                        *e = self.cache.entry(&spec(apikey, cfg), cfg);
                    }
                    e.clone()
                };
                let token = self.cache.get(&entry).await?;
                Ok(Bearer {
                    header: token.bearer.clone(),
                    token: Some(token),
                })
            }
        }
    }

    /// What to do when the service refuses `token`: drop it from the cache
    /// (only if still current) so the next call gets a new one.
    fn rejection_hook(&self, token: Option<Arc<Token>>) -> Option<Box<dyn FnOnce() + Send>> {
        let Auth::Iam { entry, .. } = &self.auth else {
            return None;
        };
        let (cache, entry, token) = (self.cache.clone(), entry.lock().clone(), token?);
        Some(Box::new(move || cache.invalidate(&entry, Some(&token))))
    }

    /// Sends with the retry policy; a 401 with a cached token refreshes it
    /// and tries once more.
    async fn send_with_token(
        &self,
        url: &reqwest::Url,
        body: &Bytes,
        o: &CallOptions,
        accept: &'static str,
    ) -> Result<(reqwest::Response, Bearer)> {
        match self.send_retrying(url, body, o, accept).await {
            Err((Error::Wml { status: 401, .. }, Some(rejected))) => {
                debug!("WML answered 401: refreshing the token and trying once more");
                if let Some(hook) = self.rejection_hook(Some(rejected)) {
                    hook();
                }
                self.send_retrying(url, body, o, accept)
                    .await
                    .map_err(|(e, _)| e)
            }
            r => r.map_err(|(e, _)| e),
        }
    }

    /// The retry loop. An error comes with the IAM token it was sent with.
    async fn send_retrying(
        &self,
        url: &reqwest::Url,
        body: &Bytes,
        o: &CallOptions,
        accept: &'static str,
    ) -> std::result::Result<(reqwest::Response, Bearer), (Error, Option<Arc<Token>>)> {
        let used: Mutex<Option<Arc<Token>>> = Mutex::new(None);
        let r = http::with_retries(
            RetryPolicy::new(self.max_retries),
            |_| async {
                let bearer = match self.bearer().await {
                    Ok(b) => b,
                    Err(e) => return Attempt::Fail(e),
                };
                *used.lock() = bearer.token.clone();
                let mut req = self
                    .http
                    .post(url.clone())
                    .headers(self.headers.clone())
                    .header(AUTHORIZATION, bearer.header.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, accept)
                    .body(body.clone());
                if let Some(t) = &o.transaction_id {
                    req = req.header("X-Global-Transaction-Id", t);
                }
                let resp = match req.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        let err = http::transport_error(&e, "WML request");
                        return match err {
                            Error::Network(_) => Attempt::Retry(err, None),
                            _ => Attempt::Fail(err),
                        };
                    }
                };
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    debug!("WML POST {} -> {status}", url.path());
                    return Attempt::Done((resp, bearer));
                }
                let retry_after = http::retry_after_of(resp.headers());
                let err = wml_error(resp, bearer.secret_text().as_deref()).await;
                debug!("WML POST {} -> {status}", url.path());
                if RETRY_STATUSES.contains(&status) {
                    Attempt::Retry(err, retry_after)
                } else {
                    Attempt::Fail(err)
                }
            },
            |n, e, d| debug!("WML retry {n} in {d:?} after {}", e.code()),
        )
        .await;
        r.map_err(|e| (e, used.lock().take()))
    }
}

impl Bearer {
    /// The token text, to scrub from service messages.
    fn secret_text(&self) -> Option<String> {
        self.header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_string)
    }
}

fn spec<'a>(apikey: &'a Secret, cfg: &'a IamConfig) -> KeySpec<'a> {
    KeySpec {
        base_url: &cfg.base_url,
        apikey: apikey.expose(),
        client_id: cfg.client_id.as_deref(),
        scope: cfg.scope.as_deref(),
    }
}

fn bearer_header(token: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::invalid("the token contains characters not allowed in a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

fn is_version_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A deployment id or serving name: non-empty, and nothing that would
/// change the URL path.
pub fn check_deployment_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("deploymentId must be a non-empty string"));
    }
    if id.contains(['/', '?', '#', '\\', '%'])
        || id.contains("..")
        || id.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "deploymentId must not contain '/', '?', '#', '%', '\\\\' or '..'",
        ));
    }
    if id.len() > 256 {
        return Err(Error::invalid("deploymentId is too long"));
    }
    Ok(())
}

/// Runs `work` bounded by `timeout` and stopped by `cancel`; dropping the
/// work closes its connection.
async fn guard<T>(
    work: impl std::future::Future<Output = Result<T>>,
    cancel: Option<&CancellationToken>,
    timeout: Duration,
) -> Result<T> {
    let bounded = async {
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout(format!(
                    "the call did not finish within {} ms",
                    timeout.as_millis()
                )))
            })
    };
    match cancel {
        Some(c) => tokio::select! {
            biased;
            _ = c.cancelled() => Err(Error::Aborted),
            r = bounded => r,
        },
        None => bounded.await,
    }
}

async fn read_text(resp: reqwest::Response) -> Result<String> {
    let status = resp.status().as_u16();
    let (body, complete) = http::read_body(resp, MAX_RESPONSE)
        .await
        .map_err(|e| http::transport_error(&e, "WML response"))?;
    if !complete {
        return Err(Error::BadResponse {
            status,
            message: format!("the response is larger than {MAX_RESPONSE} bytes"),
        });
    }
    String::from_utf8(body).map_err(|_| Error::BadResponse {
        status,
        message: "the response is not UTF-8 text".into(),
    })
}

#[derive(serde::Deserialize)]
struct WmlErrorBody {
    errors: Option<Vec<serde_json::Value>>,
    trace: Option<String>,
    status_code: Option<u16>,
}

/// Reads an error response into `ERR_WML` (the service's `errors`/`trace`).
async fn wml_error(resp: reqwest::Response, token: Option<&str>) -> Error {
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = http::read_body(resp, MAX_ERROR_BODY)
        .await
        .map(|(b, _)| b)
        .unwrap_or_default();
    error_from_body(status, &body, ctype.as_deref(), token)
}

fn error_from_body(status: u16, body: &[u8], ctype: Option<&str>, token: Option<&str>) -> Error {
    let secrets: Vec<&str> = token.into_iter().collect();
    match serde_json::from_slice::<WmlErrorBody>(body) {
        Ok(b) if b.errors.as_ref().is_some_and(|e| !e.is_empty()) => {
            let errors = b.errors.unwrap_or_default();
            let first = &errors[0];
            let msg = first
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no message");
            let code = first.get("code").and_then(|c| c.as_str());
            let message = match code {
                Some(c) => format!("WML answered {status}: {} ({c})", scrub(msg, &secrets)),
                None => format!("WML answered {status}: {}", scrub(msg, &secrets)),
            };
            let errors_json = scrub(&serde_json::Value::Array(errors).to_string(), &secrets);
            Error::Wml {
                status: if status == 200 {
                    b.status_code.unwrap_or(500)
                } else {
                    status
                },
                message,
                errors: Some(errors_json),
                trace: b.trace,
            }
        }
        _ => Error::Wml {
            status,
            message: format!(
                "WML answered {status} with {}",
                http::describe_body(ctype, body)
            ),
            errors: None,
            trace: None,
        },
    }
}

/// A generation stream: each item is one event's `data` (a JSON object).
/// Dropping or closing it closes the HTTP connection at once.
pub struct EventStream {
    rx: mpsc::Receiver<Result<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventStream {
    /// The next chunk, or `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<String>> {
        match self.rx.recv().await {
            Some(Ok(s)) => Ok(Some(s)),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    pub fn close(&mut self) {
        self.task.abort();
        self.rx.close();
    }

    /// A handle that closes the stream from elsewhere (a pending `next`
    /// then ends with `None`).
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the response, parses events and hands them over, until the end,
/// an error event, a cancel, the deadline, or the reader going away.
async fn pump(
    mut resp: reqwest::Response,
    tx: mpsc::Sender<Result<String>>,
    cancel: CancellationToken,
    deadline: Option<tokio::time::Instant>,
    token: Option<String>,
    on_rejected: Option<Box<dyn FnOnce() + Send>>,
) {
    let mut parser = sse::Parser::new();
    let mut events = Vec::new();
    let mut on_rejected = on_rejected;
    loop {
        let idle = tokio::time::Instant::now() + STREAM_IDLE_TIMEOUT;
        let until = deadline.map_or(idle, |d| d.min(idle));
        let chunk = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Aborted),
            _ = tx.closed() => return,
            r = tokio::time::timeout_at(until, resp.chunk()) => match r {
                Err(_) => Err(Error::Timeout("the stream went quiet for too long".into())),
                Ok(Err(e)) => Err(http::transport_error(&e, "WML stream")),
                Ok(Ok(c)) => Ok(c),
            },
        };
        let done = match chunk {
            Ok(Some(bytes)) => {
                if parser.push(&bytes, &mut events).is_err() {
                    let _ = tx
                        .send(Err(Error::BadResponse {
                            status: 200,
                            message: "a stream event exceeded 16 MiB".into(),
                        }))
                        .await;
                    return;
                }
                false
            }
            Ok(None) => {
                parser.finish(&mut events);
                true
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        for ev in events.drain(..) {
            let item = match stream_error(&ev, token.as_deref()) {
                Some(err) => {
                    if token_rejected(&err) {
                        if let Some(hook) = on_rejected.take() {
                            hook();
                        }
                    }
                    let _ = tx.send(Err(err)).await;
                    return;
                }
                None => Ok(ev.data),
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
        if done {
            return;
        }
    }
}

/// An error event: `event: error`, or a `data:` object with `errors`.
fn stream_error(ev: &sse::Event, token: Option<&str>) -> Option<Error> {
    let is_error_event = ev.event == "error";
    if !is_error_event && !ev.data.contains("\"errors\"") {
        return None;
    }
    let err = error_from_body(200, ev.data.as_bytes(), Some("application/json"), token);
    match &err {
        Error::Wml {
            errors: Some(_), ..
        } => Some(err),
        _ if is_error_event => Some(Error::Wml {
            status: 500,
            message: "the stream sent an error event".into(),
            errors: None,
            trace: None,
        }),
        _ => None,
    }
}

fn token_rejected(e: &Error) -> bool {
    match e {
        Error::Wml {
            errors: Some(errs), ..
        } => TOKEN_REJECTED.iter().any(|c| errs.contains(c)),
        Error::Wml { status: 401, .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
