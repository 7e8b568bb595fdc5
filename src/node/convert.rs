//! JS option objects and results, and their mapping onto core types.

use crate::iam::cache::Token;
use crate::iam::exchange::IamOptions;
use crate::secret::Secret;
use crate::wml::client::WmlOptions;
use napi_derive::napi;
use std::collections::HashMap;

/// IAM options as JavaScript passes them (already type-checked by index.js).
#[napi(object)]
#[derive(Default)]
pub struct JsIamOptions {
    pub url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    pub timeout_ms: Option<f64>,
    pub max_retries: Option<f64>,
    pub headers: Option<HashMap<String, String>>,
    pub disable_ssl_verification: Option<bool>,
    pub ca_cert: Option<String>,
}

impl From<JsIamOptions> for IamOptions {
    fn from(o: JsIamOptions) -> Self {
        IamOptions {
            url: o.url,
            client_id: o.client_id,
            client_secret: o.client_secret.map(Secret::new),
            scope: o.scope,
            timeout_ms: o.timeout_ms,
            max_retries: o.max_retries,
            headers: o.headers.unwrap_or_default().into_iter().collect(),
            disable_ssl_verification: o.disable_ssl_verification.unwrap_or(false),
            ca_cert: o.ca_cert,
        }
    }
}

#[napi(object)]
pub struct JsTokenInfo {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub expiration: i64,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    pub ims_user_id: Option<i64>,
}

impl From<&Token> for JsTokenInfo {
    fn from(t: &Token) -> Self {
        JsTokenInfo {
            access_token: t.access_token.expose().to_string(),
            token_type: t.token_type.clone(),
            expires_in: t.expires_in,
            expiration: t.expiration,
            scope: t.scope.clone(),
            refresh_token: t.refresh_token.as_ref().map(|s| s.expose().to_string()),
            ims_user_id: t.ims_user_id,
        }
    }
}

/// `WmlCredentials` as JavaScript passes them (type-checked by index.js),
/// with the IAM settings (`iamUrl` as their `url`) in `iam`.
#[napi(object)]
#[derive(Default)]
pub struct JsWmlCredentials {
    pub url: Option<String>,
    pub apikey: Option<String>,
    pub token: Option<String>,
    pub version: Option<String>,
    pub iam: Option<JsIamOptions>,
}

impl From<JsWmlCredentials> for WmlOptions {
    fn from(c: JsWmlCredentials) -> Self {
        WmlOptions {
            url: c.url.unwrap_or_default(),
            apikey: c.apikey.map(Secret::new),
            token: c.token.map(Secret::new),
            version: c.version,
            iam: c.iam.unwrap_or_default().into(),
        }
    }
}

/// Per-call options (the AbortSignal is handled in index.js).
#[napi(object)]
#[derive(Default)]
pub struct JsCallOptions {
    pub timeout_ms: Option<f64>,
    pub transaction_id: Option<String>,
}
