//! The IAM wire exchange: API key in, token response out, with the retry
//! policy of `http` and IAM-shaped errors.

use crate::error::{Error, Result};
use crate::http::{self, Attempt, RetryPolicy, TlsOptions};
use crate::log::debug;
use crate::secret::{scrub, Secret};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use std::fmt;
use std::time::Duration;

pub const DEFAULT_IAM_URL: &str = "https://iam.cloud.ibm.com";
const TOKEN_PATH: &str = "/identity/token";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_RETRIES: u32 = 3;
const GRANT_TYPE: &str = "urn:ibm:params:oauth:grant-type:apikey";
/// Statuses worth another attempt; 400/401/403 never are.
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
/// A token response is a few KiB; refuse to buffer anything absurd.
const MAX_BODY: usize = 1 << 20;

/// Options as a caller gives them (the JS `IamOptions`), before validation.
#[derive(Clone, Default)]
pub struct IamOptions {
    pub url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    pub timeout_ms: Option<f64>,
    pub max_retries: Option<f64>,
    pub headers: Vec<(String, String)>,
    pub disable_ssl_verification: bool,
    pub ca_cert: Option<String>,
}

impl fmt::Debug for IamOptions {
    /// Header values are left out: a caller may put a credential in one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("IamOptions")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("headers", &header_names)
            .field("disable_ssl_verification", &self.disable_ssl_verification)
            .finish_non_exhaustive()
    }
}

/// Validated settings for token requests.
#[derive(Clone)]
pub struct IamConfig {
    /// Canonical base URL (no trailing slash, no `/identity/token`): part of the cache key.
    pub base_url: String,
    pub token_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub headers: HeaderMap,
    pub tls: TlsOptions,
}

impl fmt::Debug for IamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamConfig")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The part of a configured IAM URL that identifies the service: trailing
/// slashes and a `/identity/token` suffix removed. Cheap: used on the hot path.
pub fn canonical_base(url: Option<&str>) -> &str {
    let u = url.map(str::trim).unwrap_or(DEFAULT_IAM_URL);
    let u = u.trim_end_matches('/');
    u.strip_suffix(TOKEN_PATH)
        .map(|s| s.trim_end_matches('/'))
        .unwrap_or(u)
}

pub fn timeout_from(ms: Option<f64>, default: Duration, what: &str) -> Result<Duration> {
    match ms {
        None => Ok(default),
        Some(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64((v / 1000.0).min(1e7))),
        Some(_) => Err(Error::invalid(format!(
            "{what} must be a positive number of milliseconds"
        ))),
    }
}

pub fn retries_from(n: Option<f64>, default: u32) -> Result<u32> {
    match n {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 => Ok(v.min(100.0) as u32),
        Some(_) => Err(Error::invalid("maxRetries must be a whole number >= 0")),
    }
}

pub fn header_map(headers: &[(String, String)]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| Error::invalid(format!("headers: {k:?} is not a valid header name")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| Error::invalid(format!("headers: the value of {k} is not valid")))?;
        map.insert(name, value);
    }
    Ok(map)
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|v| !v.is_empty()).cloned()
}

impl IamConfig {
    pub fn new(o: &IamOptions) -> Result<Self> {
        let base_url = canonical_base(o.url.as_deref()).to_string();
        http::parse_service_url(&base_url, "url")?;
        let (client_id, client_secret) = match (non_empty(&o.client_id), &o.client_secret) {
            (Some(id), Some(s)) if !s.is_empty() => (Some(id), Some(s.clone())),
            _ => (None, None),
        };
        Ok(IamConfig {
            token_url: format!("{base_url}{TOKEN_PATH}"),
            base_url,
            client_id,
            client_secret,
            scope: non_empty(&o.scope),
            timeout: timeout_from(o.timeout_ms, DEFAULT_TIMEOUT, "timeoutMs")?,
            max_retries: retries_from(o.max_retries, DEFAULT_MAX_RETRIES)?,
            headers: header_map(&o.headers)?,
            tls: TlsOptions {
                disable_ssl_verification: o.disable_ssl_verification,
                ca_cert: o.ca_cert.clone().filter(|c| !c.trim().is_empty()),
            },
        })
    }
}

/// IAM's success body.
#[derive(serde::Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<f64>,
    #[serde(default)]
    pub expiration: Option<f64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub ims_user_id: Option<serde_json::Value>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenResponse {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        if let Some(r) = self.refresh_token.as_mut() {
            r.zeroize();
        }
    }
}

#[derive(serde::Deserialize)]
struct IamErrorBody {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
    context: Option<IamErrorContext>,
}

#[derive(serde::Deserialize)]
struct IamErrorContext {
    #[serde(rename = "requestId")]
    request_id: Option<String>,
}

fn form_body(cfg: &IamConfig, apikey: &Secret) -> Secret {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    f.append_pair("grant_type", GRANT_TYPE)
        .append_pair("apikey", apikey.expose())
        .append_pair("response_type", "cloud_iam");
    if let Some(s) = &cfg.scope {
        f.append_pair("scope", s);
    }
    Secret::new(f.finish())
}

/// Exchanges `apikey` for a token, retrying per `cfg`.
pub async fn request_token(cfg: &IamConfig, apikey: &Secret) -> Result<TokenResponse> {
    if apikey.is_empty() {
        return Err(Error::invalid("apikey must be a non-empty string"));
    }
    let client = http::client(&cfg.tls)?;
    let body = form_body(cfg, apikey);
    http::with_retries(
        RetryPolicy::new(cfg.max_retries),
        |_| attempt(&client, cfg, apikey, &body),
        |n, e, d| debug!("IAM retry {n} in {d:?} after {}", e.code()),
    )
    .await
}

async fn attempt(
    client: &reqwest::Client,
    cfg: &IamConfig,
    apikey: &Secret,
    body: &Secret,
) -> Attempt<TokenResponse> {
    let mut req = client
        .post(&cfg.token_url)
        .headers(cfg.headers.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .timeout(cfg.timeout)
        .body(body.expose().to_string());
    if let (Some(id), Some(secret)) = (&cfg.client_id, &cfg.client_secret) {
        req = req.basic_auth(id, Some(secret.expose()));
    }
    let what = "IAM token request";
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return transport_attempt(&e, what),
    };
    let status = resp.status().as_u16();
    let retry_after = http::retry_after_of(resp.headers());
    let request_id = resp
        .headers()
        .get("transaction-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A body cut at the limit fails to parse below: ERR_BAD_RESPONSE or ERR_IAM.
    let bytes = match http::read_body(resp, MAX_BODY).await {
        Ok((b, _)) => b,
        Err(e) => return transport_attempt(&e, what),
    };
    debug!("IAM {} -> {status} ({} bytes)", cfg.token_url, bytes.len());
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<TokenResponse>(&bytes) {
            Ok(t) if !t.access_token.is_empty() => Attempt::Done(t),
            _ => Attempt::Fail(Error::BadResponse {
                status,
                message: format!(
                    "IAM answered {status} without a usable access_token: {}",
                    http::describe_body(content_type.as_deref(), &bytes)
                ),
            }),
        };
    }
    let err = iam_error(status, &bytes, content_type.as_deref(), request_id, apikey);
    if RETRY_STATUSES.contains(&status) {
        Attempt::Retry(err, retry_after)
    } else {
        Attempt::Fail(err)
    }
}

fn transport_attempt<T>(e: &reqwest::Error, what: &str) -> Attempt<T> {
    let err = http::transport_error(e, what);
    match err {
        Error::Network(_) => Attempt::Retry(err, None),
        _ => Attempt::Fail(err),
    }
}

fn iam_error(
    status: u16,
    body: &[u8],
    content_type: Option<&str>,
    header_request_id: Option<String>,
    apikey: &Secret,
) -> Error {
    let parsed = serde_json::from_slice::<IamErrorBody>(body).ok();
    let (code, msg, rid) = match parsed {
        Some(b) => (
            b.error_code,
            b.error_message,
            b.context.and_then(|c| c.request_id),
        ),
        None => (None, None, None),
    };
    let message = match (msg, &code) {
        (Some(m), Some(c)) => format!(
            "IAM answered {status}: {} ({c})",
            scrub(&m, &[apikey.expose()])
        ),
        (Some(m), None) => format!("IAM answered {status}: {}", scrub(&m, &[apikey.expose()])),
        _ => format!(
            "IAM answered {status} with {}",
            http::describe_body(content_type, body)
        ),
    };
    Error::Iam {
        status,
        message,
        iam_error_code: code,
        request_id: rid.or(header_request_id),
    }
}

#[cfg(test)]
mod tests;
