//! What the token cache needs from a kind of credential: a key that says
//! which tokens are interchangeable, and a way to fetch a new one.
//!
//! Every authenticator (IAM API key, trusted profiles, Cloud Pak for Data,
//! ...) is a `TokenSource`. The cache does the rest the same way for all of
//! them: single flight, refresh at 80% of the life, the expiry margin,
//! backoff after failures, and the lifetime arithmetic (`Fetched`).

use crate::error::Result;
use crate::secret::Secret;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What identifies a source's tokens. Two sources with equal keys are
/// interchangeable: they share one cache entry and one request. Anything
/// that changes the request or the trust in its answer (the service URL,
/// client id and secret, scope, TLS verification, CA set, proxy, extra
/// headers, the credential itself) must be part of it. `Debug` shows no
/// secret: the parts that may hold one are `Secret`s.
#[derive(Clone, Debug)]
pub struct SourceKey {
    /// The kind of credential, e.g. `"iam"`.
    pub kind: &'static str,
    /// The credential: an API key, a username and password, a profile...
    pub credential: Secret,
    /// The settings, in a canonical form (see `Canonical`). May hold secrets
    /// (a client secret, a header value).
    pub settings: Secret,
}

impl SourceKey {
    /// Constant-time comparison (the parts may be secret).
    pub fn matches(&self, other: &SourceKey) -> bool {
        // Evaluate all three so the time does not tell which part differs.
        let kind = self.kind == other.kind;
        let cred = self.credential.matches(other.credential.expose());
        let settings = self.settings.matches(other.settings.expose());
        kind & cred & settings
    }
}

/// Builds a canonical settings string: each part length-prefixed and tagged,
/// so that no two different settings produce the same text.
#[derive(Default)]
pub struct Canonical(String);

impl Canonical {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn part(mut self, name: &str, value: Option<&str>) -> Self {
        use std::fmt::Write;
        match value {
            Some(v) => {
                let _ = write!(self.0, "{name}={}:{v};", v.len());
            }
            None => {
                let _ = write!(self.0, "{name}-;");
            }
        }
        self
    }

    pub fn flag(self, name: &str, on: bool) -> Self {
        self.part(name, Some(if on { "1" } else { "0" }))
    }

    pub fn finish(self) -> Secret {
        Secret::new(self.0)
    }
}

/// What a token service answered, before the cache judges its life.
/// `Debug` shows no secret: the tokens are `Secret`s.
#[derive(Debug, Default)]
pub struct Fetched {
    pub access_token: Secret,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub refresh_token: Option<Secret>,
    pub ims_user_id: Option<i64>,
    /// Seconds, as the service reported them at issue time.
    pub expires_in: Option<f64>,
    /// Epoch seconds of expiry, as reported.
    pub expiration: Option<f64>,
    /// The service's clock when it answered (its `Date` header), epoch seconds.
    pub server_date: Option<i64>,
}

/// How a source's tokens may be shared through the fleet token store
/// (`crate::store`; the cache does the sharing, see `cache::fleet`).
pub enum Sharing {
    /// The credential is the same bytes in every process that uses it (an
    /// API key, a username and password): the store's names and sealing key
    /// are derived from it and from the kind and settings, so only holders
    /// of the credential can find or open the entry.
    Credential,
    /// The credential differs from process to process (a pod's compute
    /// resource token, a VPC instance's identity), so it cannot seal
    /// anything: shared only when the user gives a store secret (`storeKey`),
    /// derived from that secret and from the kind, this identity (the
    /// trusted profile assumed) and the settings. Without a secret the
    /// tokens stay in the process.
    WithStoreKey { identity: Secret },
    /// Never through the store (a bearer token the caller manages).
    Never,
}

pub trait TokenSource: Send + Sync + 'static {
    fn key(&self) -> &SourceKey;

    /// Asks the service for a new token (with this source's own retries and
    /// timeouts).
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>>;

    /// A short description for log lines, never holding a secret: the kind,
    /// the host, a fingerprint of the credential.
    fn describe(&self) -> String;

    /// The URL of the token service it asks (never holding a credential):
    /// telemetry names the service by its origin.
    fn endpoint(&self) -> Option<&str> {
        None
    }

    /// How its tokens may be shared through the fleet token store. No
    /// default: a kind whose cache credential is not a secret (a file path,
    /// a profile name) must never seal with it.
    fn sharing(&self) -> Sharing;

    /// The longest one `fetch` may take, its retries and their back-off
    /// included (bar a server's long `Retry-After`): how long the processes
    /// that leave the fetch to another one wait for it at most.
    fn fetch_budget(&self) -> Duration {
        DEFAULT_FETCH_BUDGET
    }
}

/// `fetch_budget` of a source that does not say.
pub const DEFAULT_FETCH_BUDGET: Duration = Duration::from_secs(30);

/// A short, one-way label for a secret in log lines: the first 6 hex digits
/// of its SHA-256 (the JS layer prints the same label for API keys).
pub fn fingerprint(secret: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(secret.as_bytes());
    format!("#{:02x}{:02x}{:02x}", d[0], d[1], d[2])
}
