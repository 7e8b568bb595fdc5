//! The one error type. Each variant's `code()` is the stable `code` a
//! JavaScript caller switches on; messages never contain a key or a token.

use std::fmt;

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
    /// Watson Machine Learning / watsonx.ai answered with an error status.
    Wml {
        status: u16,
        message: String,
        /// The service's `errors` array, as JSON text.
        errors: Option<String>,
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
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArg(_) => "ERR_INVALID_ARG",
            Error::Iam { .. } => "ERR_IAM",
            Error::Wml { .. } => "ERR_WML",
            Error::Timeout(_) => "ERR_TIMEOUT",
            Error::Network(_) => "ERR_NETWORK",
            Error::Tls(_) => "ERR_TLS",
            Error::BadResponse { .. } => "ERR_BAD_RESPONSE",
            Error::Aborted => "ERR_ABORTED",
        }
    }

    /// The HTTP status the service answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Iam { status, .. }
            | Error::Wml { status, .. }
            | Error::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::InvalidArg(m) | Error::Timeout(m) | Error::Network(m) | Error::Tls(m) => m,
            Error::Iam { message, .. }
            | Error::Wml { message, .. }
            | Error::BadResponse { message, .. } => message,
            Error::Aborted => "The operation was aborted",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArg(message.into())
    }

    /// The error as one JSON object: `{code, message, status?, iamErrorCode?,
    /// requestId?, errors?, trace?}`. The napi layer hands this to JavaScript,
    /// which builds the matching Error class from it.
    pub fn to_json(&self) -> String {
        let mut o = serde_json::Map::new();
        o.insert("code".into(), self.code().into());
        o.insert("message".into(), self.message().into());
        if let Some(s) = self.status() {
            o.insert("status".into(), s.into());
        }
        match self {
            Error::Iam {
                iam_error_code,
                request_id,
                ..
            } => {
                if let Some(c) = iam_error_code {
                    o.insert("iamErrorCode".into(), c.as_str().into());
                }
                if let Some(r) = request_id {
                    o.insert("requestId".into(), r.as_str().into());
                }
            }
            Error::Wml { errors, trace, .. } => {
                if let Some(v) = errors.as_deref().and_then(|e| serde_json::from_str(e).ok()) {
                    o.insert("errors".into(), v);
                }
                if let Some(t) = trace {
                    o.insert("trace".into(), t.as_str().into());
                }
            }
            _ => {}
        }
        serde_json::Value::Object(o).to_string()
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
