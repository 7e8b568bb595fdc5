//! HTTP plumbing shared by the token exchanges and the WML client: one pooled
//! `reqwest::Client` per TLS/proxy configuration (rustls, see `tls`), URL validation, the retry
//! policy with jittered exponential backoff and `Retry-After`, and the mapping
//! of transport failures onto our error codes.

use crate::auth::source::Canonical;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

pub mod tls;

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait we accept from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What a pooled client is built with; one client exists per value. Two
/// callers whose options differ never share a connection (nor, in the token
/// cache, an entry).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientOptions {
    pub disable_ssl_verification: bool,
    /// Extra trusted CA certificates (or the server's own certificate), PEM.
    pub ca_cert: Option<String>,
    /// An explicit proxy URL; `None` follows HTTPS_PROXY / NO_PROXY.
    pub proxy: Option<ProxyUrl>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("disable_ssl_verification", &self.disable_ssl_verification)
            .field("ca_cert", &self.ca_cert.as_ref().map(|c| c.len()))
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// A proxy URL; it may carry credentials, so `Debug` shows only its host.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl(String);

impl ProxyUrl {
    /// Checks `raw` (an `http://` or `https://` URL; `what` names
    /// the option in the error).
    pub fn parse(raw: &str, what: &str) -> Result<ProxyUrl> {
        let u = url::Url::parse(raw.trim())
            .map_err(|_| Error::invalid(format!("{what} is not a valid proxy URL")))?;
        if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
            return Err(Error::invalid(format!(
                "{what} must be an http:// or https:// proxy URL"
            )));
        }
        Ok(ProxyUrl(raw.trim().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        write!(f, "ProxyUrl({host})")
    }
}

impl Drop for ProxyUrl {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

/// The pooled client for these options, built on first use.
pub fn client(o: &ClientOptions) -> Result<reqwest::Client> {
    static CLIENTS: OnceLock<Mutex<HashMap<ClientOptions, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(c) = clients.lock().get(o) {
        return Ok(c.clone());
    }
    let built = build_client(o)?;
    Ok(clients.lock().entry(o.clone()).or_insert(built).clone())
}

fn build_client(o: &ClientOptions) -> Result<reqwest::Client> {
    let mut tls = tls::client_config(!o.disable_ssl_verification, o.ca_cert.as_deref())?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(50))
        .tcp_nodelay(true)
        // IAM and WML never redirect; following one would only add work per
        // request and risk sending a bearer token elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("wml-native/", env!("CARGO_PKG_VERSION")));
    match &o.proxy {
        Some(p) => {
            let proxy = reqwest::Proxy::all(p.as_str())
                .map_err(|_| Error::invalid("proxy is not a valid proxy URL"))?;
            b = b.proxy(proxy);
        }
        // Without proxy variables, skip reqwest's per-request proxy matching.
        None if !proxy_configured() => b = b.no_proxy(),
        None => {}
    }
    b.build()
        .map_err(|e| Error::invalid(format!("cannot build the HTTP client: {}", root_cause(&e))))
}

/// Transport settings every service call takes, as a caller gives them
/// (before validation).
#[derive(Clone, Default)]
pub struct TransportOptions {
    pub timeout_ms: Option<f64>,
    pub max_retries: Option<f64>,
    pub headers: Vec<(String, String)>,
    pub disable_ssl_verification: bool,
    pub ca_cert: Option<String>,
    pub proxy: Option<String>,
}

impl std::fmt::Debug for TransportOptions {
    /// Header values and the proxy are left out: they may carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TransportOptions")
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("headers", &names)
            .field("disable_ssl_verification", &self.disable_ssl_verification)
            .finish_non_exhaustive()
    }
}

/// Validated transport settings.
#[derive(Clone)]
pub struct Transport {
    pub client: ClientOptions,
    /// Per attempt (token services) or per call (WML), as the caller uses it.
    pub timeout: Duration,
    pub max_retries: u32,
    /// Extra headers, values marked sensitive.
    pub headers: HeaderMap,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("client", &self.client)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

pub const DEFAULT_MAX_RETRIES: u32 = 3;

impl Transport {
    /// Validates `o`; `default_timeout` applies when it names none.
    pub fn new(o: &TransportOptions, default_timeout: Duration) -> Result<Transport> {
        Ok(Transport {
            client: ClientOptions {
                disable_ssl_verification: o.disable_ssl_verification,
                ca_cert: o.ca_cert.clone().filter(|c| !c.trim().is_empty()),
                proxy: match o.proxy.as_deref().map(str::trim) {
                    Some(p) if !p.is_empty() => Some(ProxyUrl::parse(p, "proxy")?),
                    _ => None,
                },
            },
            timeout: timeout_from(o.timeout_ms, default_timeout, "timeoutMs")?,
            max_retries: retries_from(o.max_retries, DEFAULT_MAX_RETRIES)?,
            headers: header_map(&o.headers, "headers")?,
        })
    }

    /// The longest a request with these settings takes through
    /// `with_retries`: every attempt timing out, and the longest back-off
    /// between them (a server's `Retry-After` aside).
    pub fn worst_case(&self) -> Duration {
        self.timeout
            .saturating_mul(self.max_retries.saturating_add(1))
            .saturating_add(RetryPolicy::new(self.max_retries).longest_backoff())
    }

    /// Adds what identifies these settings to a cache key: everything but
    /// the timeout and the retries.
    pub fn canonical(&self, c: Canonical) -> Canonical {
        let mut c = c
            .flag("verify", !self.client.disable_ssl_verification)
            .part("ca", self.client.ca_cert.as_deref())
            .part("proxy", self.client.proxy.as_ref().map(ProxyUrl::as_str));
        let mut headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        headers.sort();
        for (k, v) in headers {
            c = c.part(&format!("h:{k}"), Some(&String::from_utf8_lossy(v)));
        }
        c
    }

    pub fn http(&self) -> Result<reqwest::Client> {
        client(&self.client)
    }

    /// Sends `req` (built on this transport's client). Transport failures
    /// come back as our errors; `what` names the request in them. In test
    /// runs, a request that would leave the machine is refused here (see
    /// `check_loopback_only`).
    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response> {
        let (client, req) = req.build_split();
        let req = req.map_err(|e| transport_error(&e, what))?;
        check_loopback_only(req.url(), &self.client, what)?;
        client
            .execute(req)
            .await
            .map_err(|e| transport_error(&e, what))
    }
}

/// Set (non-empty) in test runs: a request whose connection would go
/// anywhere but loopback fails at once, before anything is sent. Always on
/// in the crate's own unit tests (`cargo test`), set or not.
pub const LOOPBACK_ONLY_VAR: &str = "WML_NATIVE_TEST_LOOPBACK_ONLY";

fn loopback_only() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    cfg!(test)
        || *ON.get_or_init(|| std::env::var_os(LOOPBACK_ONLY_VAR).is_some_and(|v| !v.is_empty()))
}

/// `ERR_INVALID_ARG` when `LOOPBACK_ONLY_VAR` is set and a request to `url`
/// with `client`'s settings would connect anywhere but loopback.
fn check_loopback_only(url: &url::Url, client: &ClientOptions, what: &str) -> Result<()> {
    if !loopback_only() {
        return Ok(());
    }
    loopback_refusal(url, client, what).map_or(Ok(()), Err)
}

/// The refusal of `check_loopback_only` (whatever the variable says), naming
/// only the host (never the URL, its query or a proxy's credentials).
fn loopback_refusal(url: &url::Url, client: &ClientOptions, what: &str) -> Option<Error> {
    let host = connect_host(url, client);
    if host.as_ref().is_some_and(is_loopback_host) {
        return None;
    }
    let host = host.map_or_else(|| "a URL without a host".into(), |h| h.to_string());
    Some(Error::invalid(format!(
        "{what} refused: {LOOPBACK_ONLY_VAR} is set and {host} is not loopback"
    )))
}

/// Where a request to `url` connects: the proxy's host when one applies
/// (the caller's `proxy`, else the one reqwest takes from HTTPS_PROXY /
/// HTTP_PROXY / ALL_PROXY unless NO_PROXY names the host), else the URL's.
fn connect_host(url: &url::Url, client: &ClientOptions) -> Option<url::Host> {
    let proxy = match &client.proxy {
        Some(p) => Some(p.as_str().to_string()),
        None if proxy_configured() => {
            static ENV: OnceLock<hyper_util::client::proxy::matcher::Matcher> = OnceLock::new();
            let env = ENV.get_or_init(hyper_util::client::proxy::matcher::Matcher::from_env);
            let uri: http::Uri = url.as_str().parse().ok()?;
            env.intercept(&uri).map(|i| i.uri().to_string())
        }
        None => None,
    };
    match proxy {
        Some(p) => url::Url::parse(&p).ok()?.host().map(|h| h.to_owned()),
        None => url.host().map(|h| h.to_owned()),
    }
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

/// A header value the caller gives: no CR, LF or other control character
/// (which would end the header or smuggle another). `what` names the option.
pub fn header_value(v: &str, what: &str) -> Result<HeaderValue> {
    if v.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters (CR, LF, ...)"
        )));
    }
    let mut value = HeaderValue::from_str(v)
        .map_err(|_| Error::invalid(format!("{what} is not a valid header value")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Extra headers from `(name, value)` pairs; `what` names the option.
pub fn header_map(headers: &[(String, String)], what: &str) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| Error::invalid(format!("{what}: {k:?} is not a valid header name")))?;
        map.insert(name, header_value(v, &format!("{what}.{k}"))?);
    }
    Ok(map)
}

/// The variables reqwest takes a proxy from.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Whether the environment names a proxy (as reqwest reads it).
fn proxy_configured() -> bool {
    PROXY_VARS
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// Parses a service URL: `https://`, or `http://` only to a loopback host
/// (a local test server). `what` names the option in the error.
pub fn parse_service_url(raw: &str, what: &str) -> Result<url::Url> {
    parse_url(raw, what, is_loopback, "loopback")
}

/// As `parse_service_url`, with `plain_ok` saying which hosts may be
/// reached over plain `http://` (`plain_hosts` names them in the error).
/// Every caller appends paths to the URL, so a query or a fragment (which
/// would swallow them) is refused, as are credentials.
pub fn parse_url(
    raw: &str,
    what: &str,
    plain_ok: fn(&url::Url) -> bool,
    plain_hosts: &str,
) -> Result<url::Url> {
    let u = url::Url::parse(raw.trim())
        .map_err(|e| Error::invalid(format!("{what} is not a valid URL ({e})")))?;
    match u.scheme() {
        "https" => {}
        "http" if plain_ok(&u) => {}
        "http" => {
            return Err(Error::invalid(format!(
                "{what} must be https:// (plain http:// only to {plain_hosts})"
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
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{what} must not have a query or fragment"
        )));
    }
    Ok(u)
}

fn is_loopback(u: &url::Url) -> bool {
    u.host().is_some_and(|h| is_loopback_host(&h))
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback_host<S: AsRef<str>>(h: &url::Host<S>) -> bool {
    match h {
        url::Host::Domain(d) => d.as_ref().eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
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
        let half = self.ceiling(retry) / 2;
        half + half.mul_f64(jitter())
    }

    /// The longest back-off before retry number `retry` (0-based):
    /// `base * 2^retry`, capped.
    fn ceiling(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << retry.min(20))
            .min(self.cap)
    }

    /// The longest all the retries wait in back-off together (a server's
    /// `Retry-After` aside).
    pub fn longest_backoff(&self) -> Duration {
        (0..self.max_retries).map(|n| self.ceiling(n)).sum()
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

/// A whole (small) answer: status, the headers callers look at, the body.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The server's clock when it answered (`Date`), epoch seconds.
    pub server_date: Option<i64>,
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// Sends `req` with `transport` (`Transport::send`) and reads the
    /// answer, up to `limit` bytes of body (more is cut, and then fails to
    /// parse as whatever was expected). Transport failures come back as our
    /// errors; `what` names the request in them.
    pub async fn read(
        transport: &Transport,
        req: reqwest::RequestBuilder,
        what: &str,
        limit: usize,
    ) -> Result<Answer> {
        let resp = transport.send(req, what).await?;
        Self::from_response(resp, what, limit).await
    }

    pub async fn from_response(
        resp: reqwest::Response,
        what: &str,
        limit: usize,
    ) -> Result<Answer> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let (body, _) = read_body(resp, limit)
            .await
            .map_err(|e| transport_error(&e, what))?;
        Ok(Answer {
            status,
            server_date: server_date_of(&headers),
            retry_after: retry_after_of(&headers),
            headers,
            body,
        })
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn content_type(&self) -> Option<String> {
        self.header("content-type")
    }

    /// A short description of the body (never the body itself), `secrets`
    /// scrubbed from it (see `describe_body_hiding`).
    pub fn describe_body(&self, secrets: &[&str]) -> String {
        describe_body_hiding(self.content_type().as_deref(), &self.body, secrets)
    }
}

/// The `Date` header as epoch seconds.
pub fn server_date_of(headers: &HeaderMap) -> Option<i64> {
    let v = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(v).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// A failed attempt's verdict: connection-level failures are worth another
/// attempt; timeouts, TLS refusals and everything else are not.
pub fn transport_attempt<T>(err: Error) -> Attempt<T> {
    match err {
        Error::Network(_) => Attempt::Retry(err, None),
        _ => Attempt::Fail(err),
    }
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
    describe_body_hiding(content_type, body, &[])
}

/// `describe_body` with `secrets` scrubbed from an HTML page's title (which
/// may echo what was sent) before the title is cut to length: a secret cut
/// in two would slip past a `scrub` of the description.
pub fn describe_body_hiding(content_type: Option<&str>, body: &[u8], secrets: &[&str]) -> String {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .unwrap_or("no content type");
    let title = std::str::from_utf8(body)
        .ok()
        .and_then(|text| html_title(text, secrets));
    match title {
        Some(t) => format!("\"{t}\" ({ct}, {} bytes)", body.len()),
        None => format!("a {ct} body of {} bytes", body.len()),
    }
}

fn html_title(text: &str, secrets: &[&str]) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = crate::secret::scrub(text.get(start..end)?, secrets);
    let t: String = title.trim().chars().take(80).collect();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests;
