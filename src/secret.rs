//! A string that must never be shown: API keys, client secrets, access tokens.
//!
//! `Debug` and `Display` print a fixed placeholder, the bytes are zeroized when
//! the value is dropped, and comparison runs in constant time.

use std::fmt;
use zeroize::Zeroize;

#[derive(Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for the one place that must send it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality with another string (no early exit on a mismatch).
    pub fn matches(&self, other: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), other.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces every occurrence of each secret in `text` (a server message that
/// might echo what it was sent) with `<redacted>`.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(*s) {
            out = out.replace(*s, "<redacted>");
        }
    }
    out
}

/// `scrub` on every string of a JSON value a service sent (object keys
/// included), in place. Scrubbing the value, not its text, matters: in JSON
/// text a secret with a quote, a backslash or a control character is
/// escaped, and would slip past a search for its plain form.
pub fn scrub_json(v: &mut serde_json::Value, secrets: &[&str]) {
    use serde_json::Value;
    let holds = |t: &str| secrets.iter().any(|s| s.len() >= 4 && t.contains(s));
    match v {
        Value::String(t) if holds(t) => *t = scrub(t, secrets),
        Value::Array(items) => items.iter_mut().for_each(|x| scrub_json(x, secrets)),
        Value::Object(map) => {
            if map.keys().any(|k| holds(k)) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, x)| (scrub(&k, secrets), x))
                    .collect();
            }
            map.values_mut().for_each(|x| scrub_json(x, secrets));
        }
        _ => {}
    }
}

/// Secrets with characters JSON escapes (a quote, a backslash, non-ASCII
/// letters, a control character), for tests of scrubbing.
#[cfg(test)]
pub(crate) const AWKWARD_SECRETS: [&str; 4] = [
    r#"pa"ss-word"#,
    r"pa\ss-word",
    "pässwörd-ü",
    "pa\u{1}ss-word",
];

/// `v` as a service writes it: JSON text, with non-ASCII letters escaped
/// too (`\u00e4`), so that no `AWKWARD_SECRETS` entry stands in it plain.
#[cfg(test)]
pub(crate) fn as_service_writes(v: &serde_json::Value) -> String {
    v.to_string().replace('ä', "\\u00e4")
}

/// Fails if `shown` holds `secret`, plain or JSON-escaped.
#[cfg(test)]
pub(crate) fn assert_hidden(shown: &str, secret: &str) {
    let escaped = serde_json::to_string(secret).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    assert!(
        !shown.contains(secret) && !shown.contains(escaped),
        "a secret shows in {shown}"
    );
}

#[cfg(test)]
mod tests;
