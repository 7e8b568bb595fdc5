//! The one error type. Each variant's `code()` is the stable `code` a
//! JavaScript caller switches on; messages never contain a key or a token.
//!
//! `CODES` is the one list of codes and the JavaScript classes that carry
//! them: `lib/errors.js` and `index.d.ts` follow it, and a test checks that
//! all three agree.

use std::fmt;

/// Every error code with the name of its JavaScript class.
pub const CODES: &[(&str, &str)] = &[
    ("ERR_INVALID_ARG", "InvalidArgumentError"),
    ("ERR_IAM", "IamError"),
    ("ERR_AUTH", "AuthError"),
    ("ERR_WML", "WmlError"),
    ("ERR_TIMEOUT", "TimeoutError"),
    ("ERR_NETWORK", "NetworkError"),
    ("ERR_TLS", "TlsError"),
    ("ERR_BAD_RESPONSE", "BadResponseError"),
    ("ERR_ABORTED", "AbortError"),
    ("ERR_INTERNAL", "InternalError"),
];

#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The caller passed something unusable; nothing was sent.
    InvalidArg(String),
    /// IAM answered with an error status.
    Iam {
        status: u16,
        message: String,
        iam_error_code: Option<String>,
        request_id: Option<String>,
    },
    /// A token service other than IAM (Cloud Pak for Data, the VPC
    /// instance metadata service, MCSP) answered with an error status.
    Auth(Box<AuthFailure>),
    /// Watson Machine Learning / watsonx.ai answered with an error status.
    Wml {
        status: u16,
        message: String,
        /// The service's `errors` array.
        errors: Option<serde_json::Value>,
        trace: Option<String>,
    },
    /// An attempt, or the whole call, ran out of time.
    Timeout(String),
    /// Connection refused, reset, DNS failure, body cut short.
    Network(String),
    /// The server's certificate was rejected.
    Tls(String),
    /// A 2xx answer that cannot be used (not JSON, no `access_token`).
    BadResponse { status: u16, message: String },
    /// The caller's AbortSignal fired.
    Aborted,
    /// A bug in this package (a panic, an internal task that went away).
    /// Never retried.
    Internal(String),
}

/// What a token service other than IAM said when it refused: its own
/// fields, scrubbed of every secret that was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthFailure {
    pub status: u16,
    /// Which service: `"cp4d"`, `"vpc"` or `"mcsp"`.
    pub service: &'static str,
    pub message: String,
    /// The service's own error code: VPC `errors[0].code`, Cloud Pak for
    /// Data `_messageCode_`, MCSP `errorCode`.
    pub error_code: Option<String>,
    /// The VPC metadata service's `errors` array.
    pub errors: Option<serde_json::Value>,
    /// The VPC metadata service's `trace`.
    pub trace: Option<String>,
    /// A request id the service gave (`context.requestId`, `X-Request-Id`).
    pub request_id: Option<String>,
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArg(_) => "ERR_INVALID_ARG",
            Error::Iam { .. } => "ERR_IAM",
            Error::Auth(_) => "ERR_AUTH",
            Error::Wml { .. } => "ERR_WML",
            Error::Timeout(_) => "ERR_TIMEOUT",
            Error::Network(_) => "ERR_NETWORK",
            Error::Tls(_) => "ERR_TLS",
            Error::BadResponse { .. } => "ERR_BAD_RESPONSE",
            Error::Aborted => "ERR_ABORTED",
            Error::Internal(_) => "ERR_INTERNAL",
        }
    }

    /// The HTTP status the service answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Iam { status, .. }
            | Error::Wml { status, .. }
            | Error::BadResponse { status, .. } => Some(*status),
            Error::Auth(f) => Some(f.status),
            _ => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::InvalidArg(m)
            | Error::Timeout(m)
            | Error::Network(m)
            | Error::Tls(m)
            | Error::Internal(m) => m,
            Error::Iam { message, .. }
            | Error::Wml { message, .. }
            | Error::BadResponse { message, .. } => message,
            Error::Auth(f) => &f.message,
            Error::Aborted => "The operation was aborted",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArg(message.into())
    }

    /// An internal failure: `what` says what went wrong, for the bug report.
    pub fn internal(what: &str) -> Self {
        Error::Internal(format!(
            "internal error in wml-native: {what} (please report it)"
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests;
