//! A trusted profile assumed with an API key (`IamAssumeAuthenticator`):
//! an API key token first (through the same cache, as an ordinary `iam`
//! entry, so it is shared with an `IamAuthenticator` of the same key and
//! settings and refreshed by the same rules), then IAM's assume grant.
//!
//! As in ibm-cloud-sdk-core, `clientId`/`clientSecret` and `scope` apply to
//! the API key step only; the assume step sends `grant_type`,
//! `access_token` and the profile (`profile_crn`, `profile_id`, or
//! `profile_name` with `account`), nothing else.

use super::cache::TokenCache;
use super::iam::{ApikeySource, IamConfig, IamOptions};
use super::profile::{self, By, ProfileOptions};
use super::source::{fingerprint, BoxFuture, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::sync::{Arc, Weak};

const ASSUME_GRANT: &str = "urn:ibm:params:oauth:grant-type:assume";

#[derive(Clone, Debug, Default)]
pub struct AssumeOptions {
    pub apikey: Secret,
    pub profile: ProfileOptions,
    pub iam: IamOptions,
}

pub struct AssumeSource {
    inner: Arc<ApikeySource>,
    /// The cache that holds the API key's token (weak: the cache holds us).
    cache: Weak<TokenCache>,
    /// IAM settings of the assume step (no client credentials, no scope).
    step: IamConfig,
    profile: (By, String),
    account: Option<String>,
    key: SourceKey,
}

impl AssumeSource {
    pub fn new(o: &AssumeOptions, cache: &Arc<TokenCache>) -> Result<Self> {
        let mut given = o.profile.given();
        if given.len() != 1 {
            return Err(Error::invalid(
                "IamAssumeAuthenticator takes exactly one of iamProfileId, iamProfileCrn and iamProfileName",
            ));
        }
        let profile = given.remove(0);
        let account = o.profile.account();
        match (profile.0, &account) {
            (By::Name, None) => return Err(Error::invalid(
                "IamAssumeAuthenticator: iamProfileName needs iamAccountId (the profile's account)",
            )),
            (By::Id | By::Crn, Some(_)) => {
                return Err(Error::invalid(
                    "IamAssumeAuthenticator: iamAccountId goes with iamProfileName only",
                ))
            }
            _ => {}
        }
        let cfg = IamConfig::new(&o.iam)?;
        let mut step = cfg.clone();
        step.client_id = None;
        step.client_secret = None;
        step.scope = None;
        let inner = Arc::new(ApikeySource::new(o.apikey.clone(), cfg.clone())?);
        let credential = profile::canonical(
            super::source::Canonical::new().part("apikey", Some(o.apikey.expose())),
            std::slice::from_ref(&profile),
            account.as_deref(),
        )
        .finish();
        let key = SourceKey {
            kind: "iamassume",
            credential,
            settings: cfg.canonical().finish(),
        };
        Ok(AssumeSource {
            inner,
            cache: Arc::downgrade(cache),
            step,
            profile,
            account,
            key,
        })
    }
}

impl TokenSource for AssumeSource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let cache = self
                .cache
                .upgrade()
                .ok_or_else(|| Error::internal("the token cache went away"))?;
            let entry = cache.entry(self.inner.clone());
            let user = cache.get(&entry).await?;
            let access = user.access_token.expose();
            let mut form = vec![
                ("grant_type", ASSUME_GRANT),
                ("access_token", access),
                (self.profile.0.form_field(), self.profile.1.as_str()),
            ];
            if let Some(a) = &self.account {
                form.push(("account", a));
            }
            let apikey = self.key_text();
            self.step.request(&form, &[access, apikey]).await
        })
    }

    /// The credential holds the API key (and the profile): the same
    /// everywhere. (Its API key step is an ordinary `iam` entry: shared too.)
    fn sharing(&self) -> Sharing {
        Sharing::Credential
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.step.base_url)
    }

    /// The API key step, then the assume step.
    fn fetch_budget(&self) -> std::time::Duration {
        self.step.transport.worst_case().saturating_mul(2)
    }

    fn describe(&self) -> String {
        format!(
            "IAM assume {} key {} {} {}",
            self.step.base_url,
            fingerprint(self.key_text()),
            self.profile.0.form_field(),
            self.profile.1
        )
    }
}

impl AssumeSource {
    fn key_text(&self) -> &str {
        self.inner.key().credential.expose()
    }
}

#[cfg(test)]
mod tests;
