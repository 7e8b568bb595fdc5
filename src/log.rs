//! Opt-in debug logging to stderr: set `WML_NATIVE_DEBUG=1`. Callers pass
//! only redacted facts (hosts, statuses, key fingerprints), never secrets.

use std::sync::OnceLock;

pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("WML_NATIVE_DEBUG")
            .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
            .unwrap_or(false)
    })
}

/// `debug!("refresh for {}", key)`: formats only when logging is on.
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            $crate::log::line(format_args!($($arg)*));
        }
    };
}
pub(crate) use debug;

/// Writes one log line to stderr in one piece, so that lines written at the
/// same time by other threads (the JS layer logs too) never cut into it.
pub fn line(args: std::fmt::Arguments) {
    use std::io::Write;
    let text = format!("[wml-native] {args}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
