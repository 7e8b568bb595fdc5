//! MCSP API keys (`McspAuthenticator`): watsonx.ai on AWS. `POST
//! {url}/api/2.0/apikeys/token` with `{"apikey"}`, answer `{token,
//! expires_in}`, the path IBM's watsonx.ai SDKs call (ibm-cloud-sdk-core's
//! own `McspAuthenticator` calls the older `/siusermgr/api/1.0/apikeys/token`;
//! a URL with a path is used as given, so either endpoint can be named).

use super::service::{self, MCSP};
use super::source::{fingerprint, BoxFuture, Canonical, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::http::{self, Transport, TransportOptions};
use crate::secret::Secret;

const TOKEN_PATH: &str = "/api/2.0/apikeys/token";
pub const DEFAULT_TIMEOUT: std::time::Duration = super::iam::DEFAULT_TIMEOUT;

#[derive(Clone, Debug, Default)]
pub struct McspOptions {
    pub url: Option<String>,
    pub apikey: Secret,
    pub transport: TransportOptions,
}

pub struct McspSource {
    url: String,
    transport: Transport,
    key: SourceKey,
}

/// The token endpoint: the URL itself when it has a path, else the
/// watsonx.ai-on-AWS path on that host.
pub fn token_url(raw: Option<&str>) -> Result<String> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(Error::invalid(
            "url is required: the MCSP token service, e.g. https://account-iam.platform.saas.ibm.com",
        ));
    }
    let u = http::parse_service_url(raw, "url")?;
    let text = u.as_str().trim_end_matches('/');
    Ok(if u.path() == "/" {
        format!("{text}{TOKEN_PATH}")
    } else {
        text.to_string()
    })
}

impl McspSource {
    pub fn new(o: &McspOptions) -> Result<Self> {
        if o.apikey.is_empty() {
            return Err(Error::invalid("McspAuthenticator needs an apikey"));
        }
        let url = token_url(o.url.as_deref())?;
        let transport = Transport::new(&o.transport, DEFAULT_TIMEOUT)?;
        let settings = transport
            .canonical(Canonical::new().part("url", Some(&url)))
            .finish();
        Ok(McspSource {
            key: SourceKey {
                kind: "mcsp",
                credential: o.apikey.clone(),
                settings,
            },
            url,
            transport,
        })
    }
}

impl TokenSource for McspSource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let apikey = self.key.credential.expose();
            service::post_json(
                MCSP,
                &self.transport,
                &self.url,
                &[("apikey", apikey)],
                &[apikey],
            )
            .await
        })
    }

    fn sharing(&self) -> Sharing {
        Sharing::Credential
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn fetch_budget(&self) -> std::time::Duration {
        self.transport.worst_case()
    }

    fn describe(&self) -> String {
        format!(
            "MCSP {} key {}",
            self.url,
            fingerprint(self.key.credential.expose())
        )
    }
}

#[cfg(test)]
mod tests;
