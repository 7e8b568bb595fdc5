use super::*;

#[test]
fn retry_after_seconds_and_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("1.5", now),
        Some(Duration::from_millis(1500))
    );
    let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
    assert_eq!(
        parse_retry_after(&later, now),
        Some(Duration::from_secs(30))
    );
    let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-3", now), None);
    assert_eq!(parse_retry_after("", now), None);
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    let p = RetryPolicy::new(5);
    for retry in 0..8 {
        let full = (p.base * 2u32.pow(retry)).min(p.cap);
        for _ in 0..50 {
            let d = p.delay(retry, None);
            assert!(d >= full / 2 && d <= full, "retry {retry}: {d:?}");
        }
    }
    assert_eq!(
        p.delay(0, Some(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    assert_eq!(p.delay(0, Some(Duration::from_secs(999))), MAX_RETRY_AFTER);
    assert!(p.delay(200, None) <= p.cap);
}

#[test]
fn service_urls() {
    assert!(parse_service_url("https://iam.cloud.ibm.com", "url").is_ok());
    assert!(parse_service_url("http://127.0.0.1:8080", "url").is_ok());
    assert!(parse_service_url("http://localhost:1", "url").is_ok());
    assert!(parse_service_url("http://[::1]:1", "url").is_ok());
    for bad in [
        "http://iam.cloud.ibm.com",
        "not a url",
        "ftp://x.y",
        "",
        "https://user:pw@x.y",
    ] {
        let e = parse_service_url(bad, "url").unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG", "{bad}");
    }
}

#[test]
fn describe_body_never_returns_the_page() {
    let page =
        b"<html><head><title>502 Bad Gateway</title></head><body>long page text</body></html>";
    let d = describe_body(Some("text/html; charset=utf-8"), page);
    assert!(d.contains("502 Bad Gateway") && d.contains("text/html"));
    assert!(!d.contains("long page text"));
    assert_eq!(
        describe_body(None, b"xyz"),
        "a no content type body of 3 bytes"
    );
}

#[tokio::test(start_paused = true)]
async fn with_retries_stops_after_the_budget() {
    let calls = std::sync::atomic::AtomicU32::new(0);
    let r: Result<()> = with_retries(
        RetryPolicy::new(2),
        |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Attempt::Retry(Error::Network("x".into()), None) }
        },
        |_, _, _| {},
    )
    .await;
    assert_eq!(r.unwrap_err().code(), "ERR_NETWORK");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);

    let calls = std::sync::atomic::AtomicU32::new(0);
    let r: Result<()> = with_retries(
        RetryPolicy::new(5),
        |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Attempt::Fail(Error::invalid("no")) }
        },
        |_, _, _| {},
    )
    .await;
    assert!(r.is_err());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn service_urls_refuse_a_query_or_fragment_that_would_swallow_the_path() {
    for bad in [
        "https://iam.example.com?x=1",
        "https://iam.example.com/#frag",
        "http://127.0.0.1:1/?a=b",
    ] {
        let e = parse_service_url(bad, "url").unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG", "{bad}");
        assert!(e.message().contains("query or fragment"), "{bad}");
    }
}
