//! The service's errors: an error status's body, or an error event inside a
//! 200 stream, as `ERR_WML` with the service's `errors` and `trace`.

use super::sse;
use crate::error::Error;
use crate::http;
use crate::secret::scrub_json;

/// An error body is read for its `errors` and `trace`; more is never needed.
pub const MAX_ERROR_BODY: usize = 1 << 20;

/// Error codes that mean the token itself was refused.
const TOKEN_REJECTED: [&str; 2] = [
    "authentication_token_expired",
    "authentication_token_not_valid",
];

#[derive(serde::Deserialize)]
struct WmlErrorBody {
    errors: Option<Vec<serde_json::Value>>,
    trace: Option<String>,
    status_code: Option<u16>,
}

/// Reads an error answer into `ERR_WML`; `token` is scrubbed from it.
pub fn from_answer(a: &http::Answer, token: Option<&str>) -> Error {
    from_body(a.status, &a.body, a.content_type().as_deref(), token)
}

/// `ERR_WML` from a body the service sent with `status` (200 for an error
/// event inside a stream: the body's own `status_code` then counts).
pub fn from_body(status: u16, body: &[u8], ctype: Option<&str>, token: Option<&str>) -> Error {
    let secrets: Vec<&str> = token.into_iter().collect();
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .map(|mut v| {
            scrub_json(&mut v, &secrets);
            v
        })
        .and_then(|v| serde_json::from_value::<WmlErrorBody>(v).ok());
    match parsed {
        Some(b) if b.errors.as_ref().is_some_and(|e| !e.is_empty()) => {
            let errors = b.errors.unwrap_or_default();
            let first = &errors[0];
            let msg = first
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no message");
            let code = first.get("code").and_then(|c| c.as_str());
            let message = match code {
                Some(c) => format!("WML answered {status}: {msg} ({c})"),
                None => format!("WML answered {status}: {msg}"),
            };
            Error::Wml {
                status: if status == 200 {
                    b.status_code.unwrap_or(500)
                } else {
                    status
                },
                message,
                errors: Some(serde_json::Value::Array(errors)),
                trace: b.trace,
            }
        }
        _ => Error::Wml {
            status,
            message: format!(
                "WML answered {status} with {}",
                http::describe_body_hiding(ctype, body, &secrets)
            ),
            errors: None,
            trace: None,
        },
    }
}

/// An error event of a stream: `event: error`, or a `data:` object with
/// `errors`.
pub fn from_event(ev: &sse::Event, token: Option<&str>) -> Option<Error> {
    let is_error_event = ev.event == "error";
    if !is_error_event && !ev.data.contains("\"errors\"") {
        return None;
    }
    let err = from_body(200, ev.data.as_bytes(), Some("application/json"), token);
    match &err {
        Error::Wml {
            errors: Some(_), ..
        } => Some(err),
        _ if is_error_event => Some(Error::Wml {
            status: 500,
            message: "the stream sent an error event".into(),
            errors: None,
            trace: None,
        }),
        _ => None,
    }
}

/// Whether the service refused the token itself (a 401, or an error naming
/// an expired or invalid token).
pub fn token_rejected(e: &Error) -> bool {
    match e {
        Error::Wml { status: 401, .. } => true,
        Error::Wml {
            errors: Some(serde_json::Value::Array(errs)),
            ..
        } => errs.iter().any(|x| {
            x.get("code")
                .and_then(|c| c.as_str())
                .is_some_and(|c| TOKEN_REJECTED.contains(&c))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_tokens_never_reach_the_error() {
        use crate::secret::{as_service_writes, assert_hidden, AWKWARD_SECRETS};
        for token in AWKWARD_SECRETS {
            let body = as_service_writes(&serde_json::json!({
                "errors": [{ "code": token, "message": format!("bad {token}"), "more": [token] }],
                "trace": token,
            }));
            let e = from_body(401, body.as_bytes(), None, Some(token));
            assert_hidden(&format!("{e:?}"), token);
            match e {
                Error::Wml { message, trace, .. } => {
                    assert_eq!(message, "WML answered 401: bad <redacted> (<redacted>)");
                    assert_eq!(trace.as_deref(), Some("<redacted>"));
                }
                other => panic!("{other:?}"),
            }
            let page = format!("<html><title>{token}</title></html>");
            let e = from_body(502, page.as_bytes(), Some("text/html"), Some(token));
            assert!(!e.message().contains(token), "{}", e.message());
        }
    }

    /// A token where the page title's cut falls: scrubbed before the cut.
    #[test]
    fn a_token_cut_by_the_title_length_never_shows_in_part() {
        let token = "eyJtoken-text-that-is-long";
        let page = format!(
            "<html><title>{}{token} refused</title></html>",
            "x".repeat(70)
        );
        let e = from_body(401, page.as_bytes(), Some("text/html"), Some(token));
        assert!(!e.message().contains("eyJtok"), "{}", e.message());
        assert!(e.message().contains("xxx<redacted>"), "{}", e.message());
    }
}
