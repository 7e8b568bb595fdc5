//! IAM's API key grant: the `IamAuthenticator` token source, and the IAM
//! request every IAM grant shares (a form body in, the token out): the
//! generic exchange of `service` with IAM-shaped errors (`ERR_IAM`).

use super::service::{self, Service};
use super::source::{fingerprint, BoxFuture, Canonical, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::http::{self, Transport, TransportOptions};
use crate::secret::Secret;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::time::Duration;

pub const DEFAULT_IAM_URL: &str = "https://iam.cloud.ibm.com";
const TOKEN_PATH: &str = "/identity/token";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const APIKEY_GRANT: &str = "urn:ibm:params:oauth:grant-type:apikey";

/// IAM settings as a caller gives them (the JS `IamOptions`), before
/// validation. `Debug` shows no secret: `Secret` and `TransportOptions`
/// redact themselves.
#[derive(Clone, Debug, Default)]
pub struct IamOptions {
    pub url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    pub transport: TransportOptions,
}

/// Validated settings for requests to IAM (any grant). `Debug` shows no
/// secret: `Secret` and `Transport` redact themselves.
#[derive(Clone, Debug)]
pub struct IamConfig {
    /// Canonical base URL (no trailing slash, no `/identity/token`).
    pub base_url: String,
    pub token_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    pub transport: Transport,
}

/// The part of a configured IAM URL that identifies the service: trailing
/// slashes and a `/identity/token` suffix removed.
pub fn canonical_base(url: Option<&str>) -> &str {
    let u = url.map(str::trim).unwrap_or(DEFAULT_IAM_URL);
    let u = u.trim_end_matches('/');
    u.strip_suffix(TOKEN_PATH)
        .map(|s| s.trim_end_matches('/'))
        .unwrap_or(u)
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|v| !v.is_empty()).cloned()
}

impl IamConfig {
    pub fn new(o: &IamOptions) -> Result<Self> {
        let base_url = canonical_base(o.url.as_deref()).to_string();
        http::parse_service_url(&base_url, "url")?;
        // Basic client credentials are sent only when both are given.
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
            transport: Transport::new(&o.transport, DEFAULT_TIMEOUT)?,
        })
    }

    /// What identifies these settings in a cache key.
    pub fn canonical(&self) -> Canonical {
        let c = Canonical::new()
            .part("url", Some(&self.base_url))
            .part("client_id", self.client_id.as_deref())
            .part(
                "client_secret",
                self.client_secret.as_ref().map(Secret::expose),
            )
            .part("scope", self.scope.as_deref());
        self.transport.canonical(c)
    }

    /// One IAM token request with this grant's `form` fields (plus the
    /// scope, when set), retried per the settings. `secrets` (the grant's)
    /// and the client secret are scrubbed from anything IAM echoes back.
    pub async fn request(&self, form: &[(&str, &str)], secrets: &[&str]) -> Result<Fetched> {
        let secrets: Vec<&str> = secrets
            .iter()
            .copied()
            .chain(self.client_secret.as_ref().map(Secret::expose))
            .collect();
        let body = {
            let mut f = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                f.append_pair(k, v);
            }
            if let Some(s) = &self.scope {
                f.append_pair("scope", s);
            }
            Secret::new(f.finish())
        };
        let build = |c: &reqwest::Client| {
            let req = c
                .post(&self.token_url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body.expose().to_string());
            match (&self.client_id, &self.client_secret) {
                (Some(id), Some(secret)) => req.basic_auth(id, Some(secret.expose())),
                _ => req,
            }
        };
        service::exchange(IAM, &self.transport, build, "access_token", &secrets).await
    }
}

/// IAM as a token service: its refusals are `ERR_IAM` (`iam_error`).
pub const IAM: Service = Service {
    id: "iam",
    name: "IAM",
    refusal: iam_error,
};

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

/// `ERR_IAM` from IAM's error answer (`{errorCode, errorMessage, context:
/// {requestId}}`), scrubbed of `secrets`.
fn iam_error(_: Service, a: &http::Answer, secrets: &[&str]) -> Error {
    let status = a.status;
    let parsed = service::scrubbed_body(a, secrets)
        .and_then(|b| serde_json::from_value::<IamErrorBody>(b).ok());
    let (code, msg, rid) = match parsed {
        Some(b) => (
            b.error_code,
            b.error_message,
            b.context.and_then(|c| c.request_id),
        ),
        None => (None, None, None),
    };
    let message = match (msg, &code) {
        (Some(m), Some(c)) => format!("IAM answered {status}: {m} ({c})"),
        (Some(m), None) => format!("IAM answered {status}: {m}"),
        _ => format!("IAM answered {status} with {}", a.describe_body(secrets)),
    };
    Error::Iam {
        status,
        message,
        iam_error_code: code,
        request_id: rid.or_else(|| {
            a.header("transaction-id")
                .map(|t| crate::secret::scrub(&t, secrets))
        }),
    }
}

/// An API key and its IAM settings: `IamAuthenticator`'s token source.
pub struct ApikeySource {
    cfg: IamConfig,
    key: SourceKey,
}

impl ApikeySource {
    pub fn new(apikey: Secret, cfg: IamConfig) -> Result<Self> {
        if apikey.is_empty() {
            return Err(Error::invalid("apikey must be a non-empty string"));
        }
        let key = SourceKey {
            kind: "iam",
            credential: apikey,
            settings: cfg.canonical().finish(),
        };
        Ok(ApikeySource { cfg, key })
    }
}

impl TokenSource for ApikeySource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let apikey = self.key.credential.expose();
            self.cfg
                .request(
                    &[
                        ("grant_type", APIKEY_GRANT),
                        ("apikey", apikey),
                        ("response_type", "cloud_iam"),
                    ],
                    &[apikey],
                )
                .await
        })
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.cfg.base_url)
    }

    fn fetch_budget(&self) -> Duration {
        self.cfg.transport.worst_case()
    }

    fn sharing(&self) -> Sharing {
        Sharing::Credential
    }

    fn describe(&self) -> String {
        format!(
            "IAM {} key {}",
            self.cfg.base_url,
            fingerprint(self.key.credential.expose())
        )
    }
}

#[cfg(test)]
mod tests;
