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

fn with_proxy(p: Option<&str>) -> ClientOptions {
    ClientOptions {
        proxy: p.map(|p| ProxyUrl::parse(p, "proxy").unwrap()),
        ..Default::default()
    }
}

#[test]
fn the_loopback_guard_judges_the_host_a_request_connects_to() {
    let refused = |url: &str, proxy: Option<&str>| {
        let u = url::Url::parse(url).unwrap();
        loopback_refusal(&u, &with_proxy(proxy), "IAM token request")
            .map(|e| e.message().to_string())
    };
    for ok in [
        "http://127.0.0.1:1/identity/token",
        "http://127.9.9.9/x",
        "http://[::1]:8/x",
        "http://LOCALHOST:8/x",
    ] {
        assert_eq!(refused(ok, None), None, "{ok}");
    }
    let m = refused(
        "https://iam.cloud.ibm.com/identity/token?apikey=k-secret",
        None,
    )
    .unwrap();
    assert_eq!(
        m,
        "IAM token request refused: WML_NATIVE_TEST_LOOPBACK_ONLY is set and iam.cloud.ibm.com is not loopback"
    );
    assert!(refused("http://169.254.169.254/x", None)
        .unwrap()
        .contains("and 169.254.169.254 is not"));
    // Through a proxy, the proxy is what is connected to.
    assert_eq!(
        refused(
            "https://us-south.ml.example.com/x",
            Some("http://127.0.0.1:3128")
        ),
        None
    );
    let m = refused(
        "http://127.0.0.1:1/x",
        Some("http://user:pw-secret@proxy.example.com:3128"),
    )
    .unwrap();
    assert!(m.contains("and proxy.example.com is not loopback"), "{m}");
    assert!(!m.contains("pw-secret") && !m.contains("user"), "{m}");
}

/// Runs the ignored test `name` of this binary in a child process with
/// the guard's variable set (it is read once per process) and `env`.
fn run_guarded(name: &str, env: &[(&str, &str)]) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--ignored", "--test-threads=1"])
        .env(LOOPBACK_ONLY_VAR, "1");
    for k in PROXY_VARS.iter().chain(&["NO_PROXY", "no_proxy"]) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 passed"), "{name} did not run: {text}");
}

#[test]
fn with_the_variable_set_requests_off_loopback_fail_at_once() {
    run_guarded("http::tests::guarded_requests", &[]);
    run_guarded(
        "http::tests::guarded_requests_through_env_proxies",
        &[
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("NO_PROXY", "direct.invalid"),
        ],
    );
}

async fn guarded_send(url: &str, proxy: Option<&str>) -> Result<reqwest::Response> {
    let transport = Transport::new(
        &TransportOptions {
            proxy: proxy.map(str::to_string),
            ..Default::default()
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let req = transport.http().unwrap().get(url);
    transport.send(req, "test request").await
}

/// Asserts that `r` is the guard's refusal of `host`.
fn refused<T>(r: Result<T>, host: &str) {
    let e = r.err().expect("refused");
    assert_eq!(e.code(), "ERR_INVALID_ARG", "{}", e.message());
    let said = format!("refused: {LOOPBACK_ONLY_VAR} is set and {host} is not loopback");
    assert!(e.message().ends_with(&said), "{}", e.message());
}

#[tokio::test]
#[ignore = "run by with_the_variable_set_requests_off_loopback_fail_at_once, with the variable set"]
async fn guarded_requests() {
    use crate::auth::source::TokenSource;
    if !loopback_only() {
        return;
    }
    let e = guarded_send("https://wml.invalid/ml/v4?secret=q-secret", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert_eq!(
        e.message(),
        "test request refused: WML_NATIVE_TEST_LOOPBACK_ONLY is set and wml.invalid is not loopback"
    );
    // Every token service goes through it, and it is not retried.
    let started = std::time::Instant::now();
    let iam = crate::auth::iam::IamConfig::new(&crate::auth::iam::IamOptions {
        url: Some("https://iam.invalid".into()),
        ..Default::default()
    })
    .unwrap();
    let r = iam.request(&[("grant_type", "x")], &[]).await;
    assert!(r
        .as_ref()
        .is_err_and(|e| e.message().starts_with("IAM token request")));
    refused(r, "iam.invalid");
    let vpc = crate::auth::vpc::VpcSource::new(&crate::auth::vpc::VpcOptions {
        url: Some("https://192.0.2.1".into()),
        ..Default::default()
    })
    .unwrap();
    refused(vpc.fetch().await, "192.0.2.1");
    // And WML/watsonx.ai calls.
    let wml = crate::wml::WmlClient::new(
        &crate::wml::WmlOptions {
            url: "https://wml.invalid".into(),
            version: None,
            transport: TransportOptions::default(),
            auth: crate::wml::AuthSpec::Token(crate::secret::Secret::new("t")),
            project_id: None,
            space_id: None,
        },
        crate::auth::cache::TokenCache::new(
            std::sync::Arc::new(crate::auth::cache::ManualClock::default()),
            10,
            tokio::runtime::Handle::current(),
        ),
    )
    .unwrap();
    let r = wml
        .call(
            crate::wml::Op::Score,
            "d",
            bytes::Bytes::from_static(b"{}"),
            &crate::wml::CallOptions::default(),
        )
        .await;
    assert!(r
        .as_ref()
        .is_err_and(|e| e.message().starts_with("WML request")));
    refused(r, "wml.invalid");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no retries, no waiting"
    );
    // A proxy off loopback is refused, one on loopback is used.
    refused(
        guarded_send("http://127.0.0.1:9/", Some("http://proxy.invalid:3128")).await,
        "proxy.invalid",
    );
    let proxy = crate::testutil::FakeIam::start().await;
    let r = guarded_send("http://api.example.invalid/ml/v4/x", Some(&proxy.url)).await;
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(proxy.last_wml_head.lock().contains("api.example.invalid"));
}

#[tokio::test]
#[ignore = "run by with_the_variable_set_requests_off_loopback_fail_at_once, with the variable and HTTPS_PROXY set"]
async fn guarded_requests_through_env_proxies() {
    if !loopback_only() {
        return;
    }
    // HTTPS_PROXY is loopback (nothing listens there): not refused.
    let e = guarded_send("https://a.example.invalid/", None)
        .await
        .unwrap_err();
    assert_ne!(e.code(), "ERR_INVALID_ARG", "{}", e.message());
    // NO_PROXY sends this one straight to its host: refused.
    refused(
        guarded_send("https://x.direct.invalid/", None).await,
        "x.direct.invalid",
    );
}

#[test]
fn the_worst_case_is_every_attempt_timing_out_and_the_longest_backoffs() {
    let t = Transport::new(&TransportOptions::default(), Duration::from_secs(10)).unwrap();
    // 4 attempts of 10 s, and at most 250 ms + 500 ms + 1 s between them.
    assert_eq!(t.worst_case(), Duration::from_millis(41_750));
    let p = RetryPolicy::new(8);
    assert_eq!(
        p.longest_backoff(),
        Duration::from_millis(250 * (1 + 2 + 4 + 8 + 16 + 32)) + 2 * p.cap
    );
    for retry in 0..8 {
        assert!(p.delay(retry, None) <= p.ceiling(retry));
    }
}
