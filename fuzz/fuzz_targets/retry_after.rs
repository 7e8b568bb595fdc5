//! `wml_native::http::parse_retry_after` on arbitrary text, at an arbitrary
//! "now": no panic; a result, if any, is a finite delay; an HTTP date gives
//! at most the time from `now` to that date; and the retry policy caps it.
//!
//! Input layout: bytes 0..5 = "now" as seconds after the epoch (u40 LE,
//! so up to year ~36,800); the rest, as lossy UTF-8, is the header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wml_native::http::{parse_retry_after, RetryPolicy};

fuzz_target!(|data: &[u8]| {
    let (now, text) = if data.len() >= 5 {
        let mut b = [0u8; 8];
        b[..5].copy_from_slice(&data[..5]);
        (u64::from_le_bytes(b), &data[5..])
    } else {
        (1_700_000_000, data)
    };
    let now = UNIX_EPOCH + Duration::from_secs(now);
    let value = String::from_utf8_lossy(text);

    let Some(d) = parse_retry_after(&value, now) else {
        return;
    };
    assert!(d.as_secs_f64().is_finite(), "{value:?} -> {d:?}");

    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        assert_eq!(d, Duration::from_secs(secs), "{value:?}");
    } else if let Ok(secs) = v.parse::<f64>() {
        assert!(secs.is_finite() && secs >= 0.0, "{value:?} -> {d:?}");
        assert!(d <= Duration::from_secs(1_000_000), "{value:?} -> {d:?}");
    } else {
        let when: SystemTime = httpdate::parse_http_date(v).expect("neither a number nor a date");
        let most = when.duration_since(now).unwrap_or(Duration::ZERO);
        assert_eq!(d, most, "{value:?}");
    }

    // Whatever the header says, the policy never waits longer than 60 s.
    let wait = RetryPolicy::new(3).delay(0, Some(d));
    assert!(wait <= Duration::from_secs(60), "{value:?} -> {wait:?}");
});
