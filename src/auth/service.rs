//! The exchange with a token service (IAM, Cloud Pak for Data, the VPC
//! instance metadata service, MCSP): one request built by the caller,
//! retried on the same statuses and failures for all, its answer's token
//! field read into `Fetched`, and its refusals read by the service's own
//! `refusal` (`ERR_IAM` for IAM, `service_error`'s `ERR_AUTH` for the
//! others) with the service's own fields, scrubbed of every secret that
//! was sent.

use super::source::Fetched;
use crate::error::{AuthFailure, Error, Result};
use crate::http::{self, Answer, Attempt, RetryPolicy, Transport};
use crate::log::debug;
use crate::secret::{scrub, scrub_json, Secret};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

/// Statuses worth another attempt; 400/401/403 never are.
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
/// A token response is a few KiB; refuse to buffer anything absurd.
const MAX_BODY: usize = 1 << 20;

/// A token service: its id in errors (`AuthError.service`), its name in
/// messages, and how its refusals (error statuses) become our errors, the
/// secrets sent scrubbed from them.
#[derive(Clone, Copy, Debug)]
pub struct Service {
    pub id: &'static str,
    pub name: &'static str,
    pub refusal: fn(Service, &Answer, &[&str]) -> Error,
}

pub const CP4D: Service = Service {
    id: "cp4d",
    name: "Cloud Pak for Data",
    refusal: service_error,
};
pub const VPC: Service = Service {
    id: "vpc",
    name: "the VPC instance metadata service",
    refusal: service_error,
};
pub const MCSP: Service = Service {
    id: "mcsp",
    name: "MCSP",
    refusal: service_error,
};

/// Sends what `build` makes with `transport`'s client, retrying per its
/// settings, and reads the token from the answer's `token_field`.
/// `secrets` are scrubbed from anything the service echoes.
pub async fn exchange(
    svc: Service,
    transport: &Transport,
    build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    token_field: &str,
    secrets: &[&str],
) -> Result<Fetched> {
    let client = transport.http()?;
    let what = format!("{} token request", svc.name);
    http::with_retries(
        RetryPolicy::new(transport.max_retries),
        |_| async {
            let req = build(&client)
                .headers(transport.headers.clone())
                .timeout(transport.timeout);
            let answer = match Answer::read(transport, req, &what, MAX_BODY).await {
                Ok(a) => a,
                Err(e) => return http::transport_attempt(e),
            };
            debug!(
                "{} -> {} ({} bytes)",
                svc.name,
                answer.status,
                answer.body.len()
            );
            if answer.ok() {
                return match token_of(&answer, token_field) {
                    Some(f) => Attempt::Done(f),
                    None => Attempt::Fail(Error::BadResponse {
                        status: answer.status,
                        message: format!(
                            "{} answered {} without a usable {token_field}: {}",
                            svc.name,
                            answer.status,
                            answer.describe_body(secrets)
                        ),
                    }),
                };
            }
            let err = (svc.refusal)(svc, &answer, secrets);
            if RETRY_STATUSES.contains(&answer.status) {
                Attempt::Retry(err, answer.retry_after)
            } else {
                Attempt::Fail(err)
            }
        },
        |n, e, d| debug!("{} retry {n} in {d:?} after {}", svc.name, e.code()),
    )
    .await
}

/// `exchange` for the common shape: `POST url` with a JSON object of string
/// `fields` (which hold the secrets; serialised straight into a `Secret`,
/// no other copy), the token in the answer's `token` field.
pub async fn post_json(
    svc: Service,
    transport: &Transport,
    url: &str,
    fields: &[(&str, &str)],
    secrets: &[&str],
) -> Result<Fetched> {
    let map: std::collections::BTreeMap<&str, &str> = fields.iter().copied().collect();
    let body = Secret::new(
        serde_json::to_string(&map).map_err(|_| Error::internal("serialising a token request"))?,
    );
    exchange(
        svc,
        transport,
        |c| {
            c.post(url)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.expose().to_string())
        },
        "token",
        secrets,
    )
    .await
}

/// The token (and what else the answer says about it: IAM's answers carry
/// a refresh token, the scope and the IMS user id) from a 2xx body. The
/// secrets are moved out of the parsed body, not copied.
pub(crate) fn token_of(a: &Answer, field: &str) -> Option<Fetched> {
    let mut v: Value = serde_json::from_slice(&a.body).ok()?;
    let obj = v.as_object_mut()?;
    let mut secret = |k: &str| match obj.remove(k)? {
        Value::String(s) if !s.is_empty() => Some(Secret::new(s)),
        _ => None,
    };
    let token = secret(field)?;
    let refresh_token = secret("refresh_token");
    let number = |k: &str| obj.get(k).and_then(Value::as_f64);
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let ims_user_id = obj.get("ims_user_id").and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    Some(Fetched {
        access_token: token,
        refresh_token,
        token_type: text("token_type"),
        scope: text("scope"),
        ims_user_id,
        expires_in: number("expires_in"),
        expiration: number("expiration"),
        server_date: a.server_date,
    })
}

fn text_of(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `ERR_AUTH` from an error answer, reading whichever of the known shapes
/// the body has: VPC `{errors: [{code, message}], trace}`, Cloud Pak for
/// Data `{_messageCode_, message}`, IAM-like `{errorCode, errorMessage,
/// context: {requestId}}` (MCSP), or a plain `message` / `error`.
pub fn service_error(svc: Service, a: &Answer, secrets: &[&str]) -> Error {
    let status = a.status;
    let body = scrubbed_body(a, secrets);
    let mut f = AuthFailure {
        status,
        service: svc.id,
        message: String::new(),
        error_code: None,
        errors: None,
        trace: None,
        request_id: None,
    };
    let mut said = None;
    if let Some(b) = &body {
        if let Some(errs) = b
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            f.error_code = text_of(&errs[0], "code");
            said = text_of(&errs[0], "message");
            f.errors = Some(Value::Array(errs.clone()));
            f.trace = text_of(b, "trace");
        }
        f.error_code = f
            .error_code
            .take()
            .or_else(|| text_of(b, "_messageCode_"))
            .or_else(|| text_of(b, "errorCode"))
            .or_else(|| text_of(b, "code"));
        said = said
            .or_else(|| text_of(b, "errorMessage"))
            .or_else(|| text_of(b, "message"))
            .or_else(|| text_of(b, "error_description"))
            .or_else(|| text_of(b, "error"));
        f.request_id = b.get("context").and_then(|c| text_of(c, "requestId"));
    }
    f.request_id = f.request_id.or_else(|| {
        a.header("x-request-id")
            .or_else(|| a.header("transaction-id"))
            .map(|t| scrub(&t, secrets))
    });
    f.message = match (said, &f.error_code) {
        (Some(m), Some(c)) if m != *c => format!("{} answered {status}: {m} ({c})", svc.name),
        (Some(m), _) => format!("{} answered {status}: {m}", svc.name),
        (None, _) => format!(
            "{} answered {status} with {}",
            svc.name,
            a.describe_body(secrets)
        ),
    };
    Error::Auth(Box::new(f))
}

/// An error answer's body as a JSON object, every string in it scrubbed of
/// `secrets` (keys too), or None if it is not one.
pub(crate) fn scrubbed_body(a: &Answer, secrets: &[&str]) -> Option<Value> {
    let mut body: Value = serde_json::from_slice(&a.body)
        .ok()
        .filter(Value::is_object)?;
    scrub_json(&mut body, secrets);
    Some(body)
}

#[cfg(test)]
mod tests;
