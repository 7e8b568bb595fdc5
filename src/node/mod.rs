//! The napi layer: turns the core into JS functions and classes. Kept thin:
//! reading JS option objects into core options (`options`), one completion
//! queue for every asynchronous call (`completion`), and the error
//! hand-off. The package's `lib/` wraps these into the public API (error
//! classes, AbortSignal, async iteration, the token memo).

mod auth;
mod completion;
mod options;
mod telemetry;
mod wml;

use crate::error::Error;
use napi_derive::napi;

/// A core error as JavaScript receives it: a plain object the JS layer turns
/// into the matching `Error` subclass (by `code`, from `errorCodes()`).
#[napi(object)]
pub struct NativeError {
    pub code: String,
    pub message: String,
    pub status: Option<u32>,
    pub iam_error_code: Option<String>,
    pub request_id: Option<String>,
    /// The service's `errors` array.
    #[napi(ts_type = "Array<{ code: string; message: string; more_info?: string }>")]
    pub errors: Option<serde_json::Value>,
    pub trace: Option<String>,
    /// `ERR_AUTH`: which token service (`cp4d`, `vpc`, `mcsp`).
    pub service: Option<String>,
    /// `ERR_AUTH`: the service's own error code.
    pub error_code: Option<String>,
}

impl From<Error> for NativeError {
    fn from(e: Error) -> Self {
        let mut n = NativeError {
            code: e.code().to_string(),
            message: e.message().to_string(),
            status: e.status().map(u32::from),
            iam_error_code: None,
            request_id: None,
            errors: None,
            trace: None,
            service: None,
            error_code: None,
        };
        match e {
            Error::Iam {
                iam_error_code,
                request_id,
                ..
            } => {
                n.iam_error_code = iam_error_code;
                n.request_id = request_id;
            }
            Error::Wml { errors, trace, .. } => {
                n.errors = errors;
                n.trace = trace;
            }
            Error::Auth(f) => {
                n.service = Some(f.service.to_string());
                n.error_code = f.error_code;
                n.errors = f.errors;
                n.trace = f.trace;
                n.request_id = f.request_id;
            }
            _ => {}
        }
        n
    }
}

/// Every error code with the name of the JS class that carries it
/// (`lib/errors.js` follows this list).
#[napi(ts_return_type = "Array<[string, string]>")]
pub fn error_codes() -> Vec<(String, String)> {
    crate::error::CODES
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect()
}

/// A core result for a napi function that can fail synchronously (they
/// return `napi::Result<T, String>`): the JS error it throws has our `code`
/// (errors found synchronously are argument errors, which carry no other
/// field), from which the JS layer rebuilds the class.
pub(crate) fn throw<T>(r: crate::error::Result<T>) -> napi::Result<T, String> {
    r.map_err(|e| napi::Error::new(e.code().to_string(), e.message().to_string()))
}

/// A failed napi operation (not the caller's fault), as `throw` reports it.
pub(crate) fn internal(e: napi::Error) -> napi::Error<String> {
    napi::Error::new(
        "ERR_INTERNAL".to_string(),
        format!(
            "internal error in wml-native: {} (please report it)",
            e.reason
        ),
    )
}
