//! Cloud Pak for Data (`CloudPakForDataAuthenticator`): a username with a
//! password or an API key, exchanged at the platform's authorize endpoint
//! for a bearer token (a JWT whose `exp` gives its life).
//!
//! The URL may be the cluster's (`https://cpd-host`), the API base
//! (`.../icp4d-api`, what ibm-cloud-sdk-core users pass), or the endpoint
//! itself (`.../icp4d-api/v1/authorize`, or any `.../v1/authorize`).

use super::service::{self, CP4D};
use super::source::{BoxFuture, Canonical, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::http::{self, Transport, TransportOptions};
use crate::secret::Secret;

const AUTHORIZE_PATH: &str = "/v1/authorize";
const API_BASE: &str = "/icp4d-api";
pub const DEFAULT_TIMEOUT: std::time::Duration = super::iam::DEFAULT_TIMEOUT;

#[derive(Clone, Debug, Default)]
pub struct Cp4dOptions {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub apikey: Option<Secret>,
    pub transport: TransportOptions,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum With {
    Password,
    Apikey,
}

pub struct Cp4dSource {
    url: String,
    username: String,
    with: With,
    secret: Secret,
    transport: Transport,
    key: SourceKey,
}

/// The authorize endpoint for a configured URL.
pub fn authorize_url(raw: &str) -> Result<String> {
    let u = raw.trim().trim_end_matches('/');
    if u.is_empty() {
        return Err(Error::invalid(
            "url is required: the Cloud Pak for Data cluster URL, e.g. https://cpd-cpd.apps.example.com",
        ));
    }
    let full = if u.ends_with(AUTHORIZE_PATH) {
        u.to_string()
    } else if u.ends_with(API_BASE) {
        format!("{u}{AUTHORIZE_PATH}")
    } else {
        format!("{u}{API_BASE}{AUTHORIZE_PATH}")
    };
    http::parse_service_url(&full, "url")?;
    Ok(full)
}

impl Cp4dSource {
    pub fn new(o: &Cp4dOptions) -> Result<Self> {
        let given = |s: &Option<Secret>| s.as_ref().filter(|v| !v.is_empty()).cloned();
        let (with, secret) = match (given(&o.password), given(&o.apikey)) {
            (Some(p), None) => (With::Password, p),
            (None, Some(k)) => (With::Apikey, k),
            _ => {
                return Err(Error::invalid(
                    "CloudPakForDataAuthenticator takes exactly one of password and apikey",
                ))
            }
        };
        let username = o.username.clone().unwrap_or_default();
        if username.trim().is_empty() {
            return Err(Error::invalid(
                "CloudPakForDataAuthenticator needs a username",
            ));
        }
        let url = authorize_url(o.url.as_deref().unwrap_or_default())?;
        let transport = Transport::new(&o.transport, DEFAULT_TIMEOUT)?;
        let credential = Canonical::new()
            .part("username", Some(&username))
            .part(
                if with == With::Password {
                    "password"
                } else {
                    "apikey"
                },
                Some(secret.expose()),
            )
            .finish();
        let settings = transport
            .canonical(Canonical::new().part("url", Some(&url)))
            .finish();
        Ok(Cp4dSource {
            key: SourceKey {
                kind: "cp4d",
                credential,
                settings,
            },
            url,
            username,
            with,
            secret,
            transport,
        })
    }
}

impl TokenSource for Cp4dSource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let field = match self.with {
                With::Password => "password",
                With::Apikey => "api_key",
            };
            let fields = [
                ("username", self.username.as_str()),
                (field, self.secret.expose()),
            ];
            service::post_json(
                CP4D,
                &self.transport,
                &self.url,
                &fields,
                &[self.secret.expose()],
            )
            .await
        })
    }

    /// The username and password (or API key) are the same everywhere.
    fn sharing(&self) -> Sharing {
        Sharing::Credential
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn fetch_budget(&self) -> std::time::Duration {
        self.transport.worst_case()
    }

    /// No fingerprint of the secret: a password may be weak enough for
    /// even a short hash to help guess it.
    fn describe(&self) -> String {
        format!(
            "Cloud Pak for Data {} user {} with {}",
            self.url,
            self.username,
            if self.with == With::Password {
                "a password"
            } else {
                "an API key"
            }
        )
    }
}

#[cfg(test)]
mod tests;
