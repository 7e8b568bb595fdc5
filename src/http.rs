//! HTTP plumbing shared by the IAM exchange and the WML client: one pooled
//! `reqwest::Client` per TLS configuration (rustls), URL validation, the retry
//! policy with jittered exponential backoff and `Retry-After`, and the mapping
//! of transport failures onto our error codes.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait we accept from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Which TLS settings a client is built with; one pooled client exists per value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    pub disable_ssl_verification: bool,
    /// Extra trusted CA certificates, PEM.
    pub ca_cert: Option<String>,
}

/// The pooled client for these TLS options, built on first use.
pub fn client(tls: &TlsOptions) -> Result<reqwest::Client> {
    static CLIENTS: OnceLock<Mutex<HashMap<TlsOptions, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(c) = clients.lock().get(tls) {
        return Ok(c.clone());
    }
    let built = build_client(tls)?;
    Ok(clients.lock().entry(tls.clone()).or_insert(built).clone())
}

fn build_client(tls: &TlsOptions) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(50))
        .tcp_nodelay(true)
        // IAM and WML never redirect; following one would only add work per
        // request and risk sending a bearer token elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_webpki_certs(true)
        .tls_built_in_native_certs(true)
        .user_agent(concat!("wml-native/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &tls.ca_cert {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|_| Error::invalid("caCert is not a valid PEM certificate bundle"))?;
        if certs.is_empty() {
            return Err(Error::invalid("caCert holds no PEM certificate"));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if tls.disable_ssl_verification {
        b = b.danger_accept_invalid_certs(true);
    }
    if !proxy_configured() {
        // Without proxy variables, skip reqwest's per-request proxy matching.
        b = b.no_proxy();
    }
    b.build()
        .map_err(|e| Error::invalid(format!("cannot build the HTTP client: {}", root_cause(&e))))
}

/// Whether the environment names a proxy (as reqwest reads it).
fn proxy_configured() -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// Parses a service URL: `https://`, or `http://` only to a loopback host
/// (a local test server). `what` names the option in the error.
pub fn parse_service_url(raw: &str, what: &str) -> Result<url::Url> {
    let u = url::Url::parse(raw.trim())
        .map_err(|e| Error::invalid(format!("{what} is not a valid URL ({e})")))?;
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(&u) => {}
        "http" => {
            return Err(Error::invalid(format!(
                "{what} uses plain http:// to a host that is not loopback; use https://"
            )))
        }
        s => {
            return Err(Error::invalid(format!(
                "{what} has unsupported scheme {s}:"
            )))
        }
    }
    if u.host().is_none() {
        return Err(Error::invalid(format!("{what} has no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::invalid(format!("{what} must not carry credentials")));
    }
    Ok(u)
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Retry policy: at most `max_retries` retries after the first attempt, with
/// exponential backoff and jitter, or the server's `Retry-After` when given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
        }
    }

    /// Delay before retry number `retry` (0-based): a random point in the upper
    /// half of `base * 2^retry`, capped; a `Retry-After` wins when present.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(MAX_RETRY_AFTER);
        }
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let half = exp / 2;
        half + half.mul_f64(jitter())
    }
}

/// A uniform number in [0, 1).
fn jitter() -> f64 {
    let r = getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15);
    (r >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` as delay-seconds or an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What one attempt came to.
pub enum Attempt<T> {
    Done(T),
    /// A failure worth another attempt, with the server's `Retry-After` if any.
    Retry(Error, Option<Duration>),
    Fail(Error),
}

/// Runs `attempt` until it is done, fails for good, or the policy's retries
/// are spent (the last error is returned). `on_retry` hears each retry.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    mut attempt: F,
    on_retry: impl Fn(u32, &Error, Duration),
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Attempt::Done(v) => return Ok(v),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry(e, ra) => {
                if n >= policy.max_retries {
                    return Err(e);
                }
                let d = policy.delay(n, ra);
                on_retry(n + 1, &e, d);
                tokio::time::sleep(d).await;
                n += 1;
            }
        }
    }
}

/// The `Retry-After` header of a response, if present and readable.
pub fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Maps a transport failure to `ERR_TLS`, `ERR_TIMEOUT` or `ERR_NETWORK`, with
/// a message naming the host (never the URL's query or any credential).
pub fn transport_error(e: &reqwest::Error, what: &str) -> Error {
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "the server".into());
    if is_tls_failure(e) {
        return Error::Tls(format!(
            "{what}: the TLS certificate of {host} was rejected ({}); pass caCert to trust a private CA",
            root_cause(e)
        ));
    }
    if e.is_timeout() {
        return Error::Timeout(format!("{what}: {host} did not answer in time"));
    }
    let stage = if e.is_connect() {
        "could not connect to"
    } else if e.is_body() || e.is_decode() {
        "the response was cut short by"
    } else {
        "the request failed at"
    };
    Error::Network(format!("{what}: {stage} {host} ({})", root_cause(e)))
}

fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        src = s.source();
    }
    let text = root_cause(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls handshake")
}

/// The innermost cause's message, which is the one that says what happened.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Reads a response body, stopping at `limit` bytes. The flag says whether
/// the whole body was read (false: it was cut at the limit).
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<(Vec<u8>, bool), reqwest::Error> {
    let hint = resp.content_length().unwrap_or(4096).min(limit as u64) as usize;
    let mut out = Vec::with_capacity(hint);
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > limit {
            return Ok((out, false));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, true))
}

/// A short description of a body that is not the JSON we expected: never
/// the body itself (it may be a long HTML page).
pub fn describe_body(content_type: Option<&str>, body: &[u8]) -> String {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .unwrap_or("no content type");
    let title = std::str::from_utf8(body).ok().and_then(html_title);
    match title {
        Some(t) => format!("\"{t}\" ({ct}, {} bytes)", body.len()),
        None => format!("a {ct} body of {} bytes", body.len()),
    }
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let t: String = text.get(start..end)?.trim().chars().take(80).collect();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests;
