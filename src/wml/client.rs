//! The Watson Machine Learning / watsonx.ai client: its settings, its
//! credentials, and the request URLs of its operations. The exchange itself
//! (retries, the 401 refresh, deadlines) is in `calls`, streams in `stream`.
//!
//! Bodies travel as bytes: the caller serialises once and parses the answer
//! once; nothing here walks the JSON of a successful call.

use super::body::Context;
use crate::auth::bearer::StaticBearer;
use crate::auth::cache::TokenCache;
use crate::auth::caller::{Cached, Caller};
use crate::auth::cp4d::{Cp4dOptions, Cp4dSource};
use crate::auth::iam::{ApikeySource, IamConfig, IamOptions};
use crate::auth::source::TokenSource;
use crate::error::{Error, Result};
use crate::http::{self, Transport, TransportOptions};
use crate::secret::Secret;
use crate::telemetry::CallTrace;
use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The API version date sent when the caller names none.
pub const DEFAULT_VERSION: &str = "2023-05-29";
/// Default bound on a whole call (token, retries, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_CACHED_URLS: usize = 1024;

/// How a client gets its bearer token.
#[derive(Clone)]
pub enum AuthSpec {
    /// An IBM Cloud API key, exchanged at IAM with these settings.
    Apikey(Secret, Box<IamOptions>),
    /// A token the caller manages.
    Token(Secret),
    /// A token the caller manages and may replace (`BearerTokenAuthenticator`).
    Bearer(Arc<StaticBearer>),
    /// Cloud Pak for Data: a username with a password or an API key,
    /// exchanged at the service URL's authorize endpoint (the URL and the
    /// transport settings are the client's).
    Cp4d {
        username: String,
        password: Option<Secret>,
        apikey: Option<Secret>,
    },
    /// Any token source (an authenticator), through the shared cache.
    Source(Arc<dyn TokenSource>),
    /// No `Authorization` header (`NoAuthAuthenticator`).
    None,
}

impl std::fmt::Debug for AuthSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthSpec::Apikey(..) => "Apikey(<redacted>)",
            AuthSpec::Token(_) => "Token(<redacted>)",
            AuthSpec::Bearer(_) => "Bearer(<redacted>)",
            AuthSpec::Cp4d { .. } => "Cp4d(<redacted>)",
            AuthSpec::Source(_) => "Source",
            AuthSpec::None => "None",
        })
    }
}

/// The credential fields of a caller's `WmlCredentials`, as given (empty
/// strings count as absent).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub apikey: Option<Secret>,
    pub token: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `"openshift"` (or the older `"icp"`) means Cloud Pak for Data; any
    /// other value (an IBM Cloud instance id of old credentials) is ignored.
    pub instance_id: Option<String>,
}

impl AuthSpec {
    /// How credentials authenticate, in the forms IBM's Python `APIClient`
    /// takes: `{ apikey }` (IAM, its settings from `iam`, read only then),
    /// `{ token }`, `{ username, password | apikey, instance_id:
    /// 'openshift' }` (Cloud Pak for Data), or an authenticator's `spec`
    /// with none of the others. Any other combination is refused, saying
    /// why.
    pub fn from_credentials(
        c: Credentials,
        authenticator: Option<AuthSpec>,
        iam: impl FnOnce() -> Result<IamOptions>,
    ) -> Result<AuthSpec> {
        let present = |s: Option<Secret>| s.filter(|v| !v.is_empty());
        let apikey = present(c.apikey);
        let token = present(c.token);
        let password = present(c.password);
        let username = c.username.filter(|u| !u.trim().is_empty());
        let cpd = is_cpd(c.instance_id.as_deref());
        Ok(match (authenticator, username, cpd) {
            (Some(a), None, _) if apikey.is_none() && token.is_none() && password.is_none() => a,
            (Some(_), ..) => {
                return Err(Error::invalid(
                    "credentials take an authenticator, or an apikey, a token or a username: not both",
                ))
            }
            (None, Some(username), true) if token.is_none() => AuthSpec::Cp4d {
                username,
                password,
                apikey,
            },
            (None, Some(_), true) => {
                return Err(Error::invalid(
                    "Cloud Pak for Data credentials take a username (with a password or an apikey) or a token: not both",
                ))
            }
            (None, Some(_), false) => {
                return Err(Error::invalid(
                    "credentials with a username are for Cloud Pak for Data: add instance_id: 'openshift'",
                ))
            }
            (None, None, _) if password.is_some() => {
                return Err(Error::invalid(
                    "credentials with a password need a username (Cloud Pak for Data)",
                ))
            }
            (None, None, _) => match (apikey, token) {
                (Some(_), None) if cpd => {
                    return Err(Error::invalid(
                        "Cloud Pak for Data credentials with an apikey need a username",
                    ));
                }
                (Some(k), None) => AuthSpec::Apikey(k, Box::new(iam()?)),
                (None, Some(t)) => AuthSpec::Token(t),
                (None, None) => {
                    return Err(Error::invalid(
                        "credentials need an apikey, a token, a username (Cloud Pak for Data) or an authenticator",
                    ))
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "credentials take one of apikey, token and authenticator",
                    ))
                }
            },
        })
    }
}

/// `instance_id` values that mean Cloud Pak for Data (IBM's Python client:
/// `"openshift"`, and the older `"icp"`).
fn is_cpd(instance_id: Option<&str>) -> bool {
    matches!(
        instance_id
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref(),
        Some("openshift" | "icp")
    )
}

/// Settings as a caller gives them (the JS `WmlCredentials`).
#[derive(Clone, Debug)]
pub struct WmlOptions {
    pub url: String,
    pub version: Option<String>,
    /// TLS, proxy, timeout, retries and extra headers of the WML calls.
    pub transport: TransportOptions,
    pub auth: AuthSpec,
    /// The project the calls on a foundation model run in when their
    /// request names none (`projectId`); at most one of this and `space_id`.
    pub project_id: Option<String>,
    /// Or the deployment space (`spaceId`).
    pub space_id: Option<String>,
}

/// Per-call options.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub timeout: Option<Duration>,
    /// Extra headers: `X-Global-Transaction-Id`, trace context.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub cancel: Option<CancellationToken>,
    /// Set when the caller traces the call: what happens is reported there
    /// (and its trace context headers are in `headers`).
    pub trace: Option<Arc<CallTrace>>,
}

impl CallOptions {
    /// Validates the caller's per-call settings (`options.*`).
    pub fn new(timeout_ms: Option<f64>, transaction_id: Option<&str>) -> Result<CallOptions> {
        let mut o = CallOptions {
            timeout: timeout_ms
                .map(|ms| http::timeout_from(Some(ms), DEFAULT_TIMEOUT, "options.timeoutMs"))
                .transpose()?,
            ..Default::default()
        };
        if let Some(t) = transaction_id.filter(|t| !t.is_empty()) {
            o.headers.push((
                HeaderName::from_static("x-global-transaction-id"),
                http::header_value(t, "options.transactionId")?,
            ));
        }
        Ok(o)
    }
}

/// What a call does: its method and path. Every operation of the client is
/// one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `POST /ml/v4/deployments/{id}/predictions`
    Score,
    /// `POST /ml/v1/deployments/{id}/text/generation`
    Generate,
    /// `POST /ml/v1/deployments/{id}/text/generation_stream`
    GenerateStream,
    /// `POST /ml/v1/deployments/{id}/text/chat`
    DeploymentChat,
    /// `POST /ml/v1/deployments/{id}/text/chat_stream`
    DeploymentChatStream,
    /// `POST /ml/v1/text/chat`
    Chat,
    /// `POST /ml/v1/text/chat_stream`
    ChatStream,
    /// `POST /ml/v1/text/generation` (a foundation model by `model_id`)
    ModelGenerate,
    /// `POST /ml/v1/text/generation_stream`
    ModelGenerateStream,
    /// `POST /ml/v1/text/embeddings`
    Embed,
    /// `POST /ml/v1/text/rerank`
    Rerank,
    /// `POST /ml/v1/text/tokenization`
    Tokenize,
    /// `GET /ml/v1/foundation_model_specs`
    ModelSpecs,
}

/// The placeholder of a deployment id in `Op::template`.
const DEPLOYMENT: &str = "{deployment_id}";

impl Op {
    /// Every operation (lib/telemetry.js names its spans from these).
    pub const ALL: [Op; 13] = [
        Op::Score,
        Op::Generate,
        Op::GenerateStream,
        Op::DeploymentChat,
        Op::DeploymentChatStream,
        Op::Chat,
        Op::ChatStream,
        Op::ModelGenerate,
        Op::ModelGenerateStream,
        Op::Embed,
        Op::Rerank,
        Op::Tokenize,
        Op::ModelSpecs,
    ];

    /// The path, with `{deployment_id}` where the deployment goes: the one
    /// place each operation's URL is written.
    pub fn template(self) -> &'static str {
        match self {
            Op::Score => "/ml/v4/deployments/{deployment_id}/predictions",
            Op::Generate => "/ml/v1/deployments/{deployment_id}/text/generation",
            Op::GenerateStream => "/ml/v1/deployments/{deployment_id}/text/generation_stream",
            Op::DeploymentChat => "/ml/v1/deployments/{deployment_id}/text/chat",
            Op::DeploymentChatStream => "/ml/v1/deployments/{deployment_id}/text/chat_stream",
            Op::Chat => "/ml/v1/text/chat",
            Op::ChatStream => "/ml/v1/text/chat_stream",
            Op::ModelGenerate => "/ml/v1/text/generation",
            Op::ModelGenerateStream => "/ml/v1/text/generation_stream",
            Op::Embed => "/ml/v1/text/embeddings",
            Op::Rerank => "/ml/v1/text/rerank",
            Op::Tokenize => "/ml/v1/text/tokenization",
            Op::ModelSpecs => "/ml/v1/foundation_model_specs",
        }
    }

    /// The `WmlClient` method that makes the call.
    pub fn api_name(self) -> &'static str {
        match self {
            Op::Score => "score",
            Op::Generate => "generateText",
            Op::GenerateStream => "generateTextStream",
            Op::DeploymentChat => "deploymentChat",
            Op::DeploymentChatStream => "deploymentChatStream",
            Op::Chat => "chat",
            Op::ChatStream => "chatStream",
            Op::ModelGenerate => "modelGenerateText",
            Op::ModelGenerateStream => "modelGenerateTextStream",
            Op::Embed => "embed",
            Op::Rerank => "rerank",
            Op::Tokenize => "tokenize",
            Op::ModelSpecs => "listFoundationModels",
        }
    }

    /// OpenTelemetry's `gen_ai.operation.name` for the generative calls.
    pub fn gen_ai_operation(self) -> Option<&'static str> {
        match self {
            Op::Generate | Op::GenerateStream | Op::ModelGenerate | Op::ModelGenerateStream => {
                Some("text_completion")
            }
            Op::DeploymentChat | Op::DeploymentChatStream | Op::Chat | Op::ChatStream => {
                Some("chat")
            }
            Op::Embed => Some("embeddings"),
            Op::Score | Op::Rerank | Op::Tokenize | Op::ModelSpecs => None,
        }
    }

    pub fn path(self, id: &str) -> String {
        self.template().replace(DEPLOYMENT, id)
    }

    pub fn method(self) -> reqwest::Method {
        match self {
            Op::ModelSpecs => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        }
    }

    /// Whether the answer is an event stream.
    pub fn streams(self) -> bool {
        matches!(
            self,
            Op::GenerateStream
                | Op::DeploymentChatStream
                | Op::ChatStream
                | Op::ModelGenerateStream
        )
    }

    /// The `Accept` the call sends: the SSE routes stream.
    pub fn accept(self) -> &'static str {
        if self.streams() {
            "text/event-stream"
        } else {
            "application/json"
        }
    }

    /// Whether the path names a deployment (the `id` of `path`).
    pub fn on_deployment(self) -> bool {
        self.template().contains(DEPLOYMENT)
    }

    /// Whether the body must name a project or a space (`project_id`,
    /// `space_id`): the calls on a foundation model by `model_id`.
    pub fn needs_context(self) -> bool {
        !self.on_deployment() && self != Op::ModelSpecs
    }
}

pub struct WmlClient {
    pub(super) base: String,
    /// Parsed request URLs by operation and deployment (parsing costs more
    /// than the rest of building a request).
    urls: Mutex<HashMap<(Op, String), reqwest::Url>>,
    version: String,
    pub(super) auth: Caller,
    /// The project or space of the calls on a foundation model.
    pub(super) context: Option<Context>,
    pub(super) http: reqwest::Client,
    pub(super) transport: Transport,
}

impl std::fmt::Debug for WmlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WmlClient")
            .field("url", &self.base)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
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
            // IBM's Python client takes the Cloud Pak for Data release
            // (`"5.0"`) as `version`: not an API version date, so not sent.
            Some(v) if matches!(o.auth, AuthSpec::Cp4d { .. }) && is_release(v) => {
                DEFAULT_VERSION.to_string()
            }
            Some(_) => return Err(Error::invalid("version must be a date like 2023-05-29")),
        };
        let context = match (nonempty(&o.project_id), nonempty(&o.space_id)) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "credentials take one of projectId and spaceId, not both",
                ))
            }
            (Some(p), None) => Some(Context::project(p)),
            (None, Some(s)) => Some(Context::space(s)),
            (None, None) => None,
        };
        let transport = Transport::new(&o.transport, DEFAULT_TIMEOUT)?;
        let cached = |source: Arc<dyn TokenSource>| Caller::Cached(Cached::new(source, cache));
        let auth = match &o.auth {
            AuthSpec::Apikey(k, iam) => cached(Arc::new(ApikeySource::new(
                k.clone(),
                IamConfig::new(iam)?,
            )?)),
            AuthSpec::Cp4d {
                username,
                password,
                apikey,
            } => cached(Arc::new(Cp4dSource::new(&Cp4dOptions {
                url: Some(base.clone()),
                username: Some(username.clone()),
                password: password.clone(),
                apikey: apikey.clone(),
                transport: o.transport.clone(),
            })?)),
            AuthSpec::Source(source) => cached(source.clone()),
            AuthSpec::Token(t) if !t.is_empty() => {
                Caller::Bearer(Arc::new(StaticBearer::new(t.clone())?))
            }
            AuthSpec::Token(_) => {
                return Err(Error::invalid("token must be a non-empty string"));
            }
            AuthSpec::Bearer(b) => Caller::Bearer(b.clone()),
            AuthSpec::None => Caller::None,
        };
        Ok(WmlClient {
            base,
            urls: Mutex::default(),
            version,
            auth,
            context,
            http: transport.http()?,
            transport,
        })
    }

    /// The service URL the calls go to (without a trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `op` (on deployment `id` for the deployment operations;
    /// `id` is not used by the others).
    pub(super) fn url(&self, op: Op, id: &str) -> Result<reqwest::Url> {
        let id = if op.on_deployment() { id } else { "" };
        let key = (op, id.to_string());
        if let Some(u) = self.urls.lock().get(&key) {
            return Ok(u.clone());
        }
        if op.on_deployment() {
            check_deployment_id(id)?;
        }
        let text = format!("{}{}?version={}", self.base, op.path(id), self.version);
        let u = reqwest::Url::parse(&text)
            .map_err(|_| Error::invalid("deploymentId does not make a valid URL"))?;
        let mut urls = self.urls.lock();
        if urls.len() >= MAX_CACHED_URLS {
            urls.clear();
        }
        urls.insert(key, u.clone());
        Ok(u)
    }

    /// The URL and body a call sends: a query from the body for the GET
    /// operation, the project or space filled in where one is needed.
    pub(super) fn request(&self, op: Op, id: &str, body: Bytes) -> Result<(reqwest::Url, Bytes)> {
        let mut url = self.url(op, id)?;
        if op.method() == reqwest::Method::GET {
            let pairs = super::body::query_pairs(&body)?;
            url.query_pairs_mut().extend_pairs(pairs);
            return Ok((url, Bytes::new()));
        }
        if op.needs_context() {
            return Ok((url, super::body::with_context(body, self.context.as_ref())?));
        }
        Ok((url, body))
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// A Cloud Pak for Data release: `5.0`, `4.8.5`.
fn is_release(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
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

#[cfg(test)]
mod tests;
