//! A trusted profile from a VPC virtual server instance
//! (`VpcInstanceAuthenticator`): the instance metadata service issues an
//! instance identity token, then exchanges it for an IAM token of the
//! profile linked to the instance (or the one named).
//!
//! The default metadata URL is link-local plain HTTP (the service is only
//! reachable from the instance); nothing is contacted until a token is
//! asked for. Every request has a timeout: when the metadata service is
//! turned off it never answers.

use super::profile::{By, ProfileOptions};
use super::service::{self, VPC};
use super::source::{BoxFuture, Canonical, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::http::{self, Transport, TransportOptions};
use crate::secret::Secret;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use std::time::Duration;

pub const DEFAULT_VPC_URL: &str = "http://169.254.169.254";
/// The metadata API version ibm-cloud-sdk-core sends by default.
pub const METADATA_VERSION: &str = "2022-03-01";
/// Seconds the instance identity token lives (it is used at once).
const IDENTITY_TOKEN_LIFETIME: u32 = 300;
/// Per request: the metadata service is on the instance's own network.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The metadata service's public name (https, or http on the instance).
const METADATA_HOST: &str = "api.metadata.cloud.ibm.com";

#[derive(Clone, Debug, Default)]
pub struct VpcOptions {
    pub url: Option<String>,
    pub profile: ProfileOptions,
    pub transport: TransportOptions,
}

pub struct VpcSource {
    base: String,
    profile: Option<(By, String)>,
    transport: Transport,
    key: SourceKey,
}

/// The metadata service URL: `https://`, or plain `http://` to the
/// link-local address, the metadata host name, or loopback (tests).
pub fn metadata_url(raw: Option<&str>) -> Result<String> {
    let raw = raw.map(str::trim).filter(|u| !u.is_empty());
    let text = raw.unwrap_or(DEFAULT_VPC_URL);
    let u = http::parse_url(
        text,
        "url",
        metadata_host,
        "loopback or the metadata service, http://169.254.169.254 or http://api.metadata.cloud.ibm.com",
    )?;
    Ok(u.as_str().trim_end_matches('/').to_string())
}

/// The hosts the metadata service may be reached at over plain http://:
/// link-local, `api.metadata.cloud.ibm.com`, or loopback (tests).
fn metadata_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local() || ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case(METADATA_HOST) || d.eq_ignore_ascii_case("localhost")
        }
        None => false,
    }
}

impl VpcSource {
    pub fn new(o: &VpcOptions) -> Result<Self> {
        let base = metadata_url(o.url.as_deref())?;
        let profile = o.profile.at_most_one("VpcInstanceAuthenticator")?;
        if o.profile.account().is_some() {
            return Err(Error::invalid(
                "VpcInstanceAuthenticator takes no iamAccountId",
            ));
        }
        let transport = Transport::new(&o.transport, DEFAULT_TIMEOUT)?;
        let credential = match &profile {
            Some((by, v)) => Canonical::new().part(by.form_field(), Some(v)),
            None => Canonical::new().part("profile", None),
        }
        .finish();
        let settings = transport
            .canonical(Canonical::new().part("url", Some(&base)))
            .finish();
        Ok(VpcSource {
            key: SourceKey {
                kind: "vpc",
                credential,
                settings,
            },
            base,
            profile,
            transport,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}?version={METADATA_VERSION}", self.base)
    }

    /// Step 1: `PUT /instance_identity/v1/token`.
    async fn identity_token(&self) -> Result<Secret> {
        let url = self.url("/instance_identity/v1/token");
        let body = format!(r#"{{"expires_in":{IDENTITY_TOKEN_LIFETIME}}}"#);
        let f = service::exchange(
            VPC,
            &self.transport,
            |c| {
                c.put(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .header("Metadata-Flavor", "ibm")
                    .body(body.clone())
            },
            "access_token",
            &[],
        )
        .await?;
        Ok(f.access_token)
    }
}

impl TokenSource for VpcSource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let identity = self.identity_token().await?;
            let bearer =
                super::bearer::authorization(&identity).ok_or_else(|| Error::BadResponse {
                    status: 200,
                    message: "the instance identity token has characters not allowed in a header"
                        .into(),
                })?;
            let body = self.profile.as_ref().map(|(by, v)| {
                serde_json::json!({ "trusted_profile": { by.json_field(): v } }).to_string()
            });
            let url = self.url("/instance_identity/v1/iam_token");
            service::exchange(
                VPC,
                &self.transport,
                |c| {
                    let r = c
                        .post(&url)
                        .header(ACCEPT, "application/json")
                        .header(AUTHORIZATION, bearer.clone())
                        .header("Metadata-Flavor", "ibm");
                    match &body {
                        Some(b) => r.header(CONTENT_TYPE, "application/json").body(b.clone()),
                        None => r,
                    }
                },
                "access_token",
                &[identity.expose()],
            )
            .await
        })
    }

    /// The instance identity is per instance (and the cache key holds only
    /// the profile, nothing secret): shared only with the store secret, per
    /// trusted profile named. Without a profile named, each instance gets
    /// its own default profile, which may differ: never shared.
    fn sharing(&self) -> Sharing {
        match &self.profile {
            Some((by, v)) => Sharing::WithStoreKey {
                identity: Canonical::new().part(by.form_field(), Some(v)).finish(),
            },
            None => Sharing::Never,
        }
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.base)
    }

    /// The identity token, then the IAM token.
    fn fetch_budget(&self) -> Duration {
        self.transport.worst_case().saturating_mul(2)
    }

    fn describe(&self) -> String {
        match &self.profile {
            Some((by, v)) => format!("VPC metadata {} {} {v}", self.base, by.json_field()),
            None => format!("VPC metadata {} (default profile)", self.base),
        }
    }
}

#[cfg(test)]
mod tests;
