use super::*;
use crate::auth::iam::{ApikeySource, IamConfig, IamOptions};
use crate::http::TransportOptions;
use crate::testutil::{FakeIam, Reply};
use std::time::Duration;

struct Fixture {
    iam: FakeIam,
    clock: Arc<ManualClock>,
    cache: Arc<TokenCache>,
    cfg: IamConfig,
}

fn iam_config(url: &str, max_retries: f64, timeout_ms: f64) -> IamConfig {
    IamConfig::new(&IamOptions {
        url: Some(url.to_string()),
        transport: TransportOptions {
            max_retries: Some(max_retries),
            timeout_ms: Some(timeout_ms),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

fn source(key: &str, cfg: &IamConfig) -> Arc<ApikeySource> {
    Arc::new(ApikeySource::new(Secret::new(key), cfg.clone()).unwrap())
}

async fn fixture(max_retries: f64) -> Fixture {
    let iam = FakeIam::start().await;
    let clock = Arc::new(ManualClock::default());
    let cache = TokenCache::new(clock.clone(), 100, tokio::runtime::Handle::current());
    let cfg = iam_config(&iam.url, max_retries, 5000.0);
    Fixture {
        iam,
        clock,
        cache,
        cfg,
    }
}

impl Fixture {
    fn spec(&self, key: &str) -> SourceKey {
        source(key, &self.cfg).key().clone()
    }

    fn entry(&self, key: &str) -> Arc<Entry> {
        self.cache.entry(source(key, &self.cfg))
    }

    async fn wait_for_hits(&self, n: usize) {
        for _ in 0..500 {
            if self.iam.hits() >= n && !self.fetching(&self.entry("k")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("IAM saw {} requests, wanted {n}", self.iam.hits());
    }

    fn fetching(&self, e: &Entry) -> bool {
        e.state.lock().fetching
    }
}

fn token_text(t: &Token) -> String {
    t.access_token.expose().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_cold_callers_make_one_request() {
    let f = fixture(3.0).await;
    f.iam.push(Reply::Delay(Duration::from_millis(50)));
    let mut tasks = Vec::new();
    for _ in 0..5000 {
        let (cache, entry) = (f.cache.clone(), f.entry("k"));
        tasks.push(tokio::spawn(async move { cache.get(&entry).await }));
    }
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        tokens.insert(token_text(&t.await.unwrap().unwrap()));
    }
    assert_eq!(f.iam.hits(), 1);
    assert_eq!(tokens.len(), 1);
    assert_eq!(f.cache.requests_started(), 1);
    assert!(f.cache.peek(&f.spec("k")).is_some());
    assert!(f.cache.peek(&f.spec("other")).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_in_the_background_past_eighty_percent() {
    let f = fixture(0.0).await;
    let e = f.entry("k");
    let first = f.cache.get(&e).await.unwrap();
    assert_eq!(first.expires_in, 3600);

    f.clock.advance(2_879_000);
    assert!(Arc::ptr_eq(&f.cache.peek_entry(&e).unwrap(), &first));
    assert_eq!(f.iam.hits(), 1, "no refresh before 80%");

    f.clock.advance(2_000);
    let served = f.cache.peek_entry(&e).unwrap();
    assert!(Arc::ptr_eq(&served, &first), "old token served at once");
    // Many callers at refresh time: still one request.
    for _ in 0..1000 {
        assert!(f.cache.peek_entry(&e).is_some());
    }
    f.wait_for_hits(2).await;
    assert_eq!(f.iam.hits(), 2);
    let second = f.cache.peek_entry(&e).unwrap();
    assert_ne!(token_text(&second), token_text(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_hands_out_a_token_with_under_ten_seconds_left() {
    let f = fixture(0.0).await;
    let e = f.entry("k");
    f.iam.push(Reply::Delay(Duration::ZERO));
    let first = f.cache.get(&e).await.unwrap();
    // Hold back the background refresh so the token runs down.
    f.iam
        .push(Reply::Raw(503, "text/plain", "busy".into(), None));
    f.clock.advance(2_900_000);
    assert!(f.cache.peek_entry(&e).is_some());
    f.wait_for_hits(2).await;
    f.clock.advance(3_589_000 - 2_900_000);
    // 10 s left (counting the token's 3600 s from when it was requested,
    // less a second for whole-second timestamps): not handed out any more.
    assert!(f.cache.peek_entry(&e).is_none());
    let fresh = f.cache.get(&e).await.unwrap();
    assert_ne!(token_text(&fresh), token_text(&first));
    assert_eq!(f.iam.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_scale_the_margin() {
    let f = fixture(0.0).await;
    f.iam.push(Reply::Token(20));
    let e = f.entry("k");
    f.cache.get(&e).await.unwrap();
    // 19 s counted (a second off for whole-second timestamps), a 2 s margin
    // (a tenth of the 20 s life).
    f.clock.advance(16_900);
    assert!(f.cache.peek_entry(&e).is_some());
    f.clock.advance(200);
    assert!(f.cache.peek_entry(&e).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_background_refresh_keeps_serving_and_backs_off() {
    let f = fixture(0.0).await;
    let e = f.entry("k");
    let first = f.cache.get(&e).await.unwrap();
    f.iam
        .push(Reply::Raw(500, "application/json", "{}".into(), None));
    f.clock.advance(3_000_000);
    assert!(Arc::ptr_eq(&f.cache.peek_entry(&e).unwrap(), &first));
    f.wait_for_hits(2).await;
    // Still the old, still-valid token, and no new request during the backoff.
    for _ in 0..100 {
        assert!(Arc::ptr_eq(&f.cache.peek_entry(&e).unwrap(), &first));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(f.iam.hits(), 2);
    f.clock.advance(1_000);
    f.cache.peek_entry(&e);
    f.wait_for_hits(3).await;
    assert_ne!(
        token_text(&f.cache.peek_entry(&e).unwrap()),
        token_text(&first)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_error_for_all_waiters_and_the_next_call_tries_again() {
    let f = fixture(3.0).await;
    f.iam.push(Reply::Raw(
        400,
        "application/json",
        r#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found.","context":{"requestId":"rq-9"}}"#.into(),
        None,
    ));
    // join_all polls every call once before any answer can arrive: all 100
    // are waiting on the one request.
    let entry = f.entry("k");
    let calls = (0..100).map(|_| f.cache.get(&entry));
    for r in futures_util::future::join_all(calls).await {
        let err = r.unwrap_err();
        assert_eq!(err.code(), "ERR_IAM");
        assert_eq!(err.status(), Some(400));
    }
    assert_eq!(f.iam.hits(), 1, "400 is never retried");
    assert!(f.cache.get(&f.entry("k")).await.is_ok());
    assert_eq!(f.iam.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_and_429_then_gives_the_last_error() {
    let f = fixture(2.0).await;
    for _ in 0..3 {
        f.iam.push(Reply::Raw(
            503,
            "text/html",
            "<title>down</title>".into(),
            Some("0"),
        ));
    }
    let err = f.cache.get(&f.entry("k")).await.unwrap_err();
    assert_eq!(err.code(), "ERR_IAM");
    assert_eq!(err.status(), Some(503));
    assert_eq!(f.iam.hits(), 3, "maxRetries 2 means 3 attempts");

    f.iam
        .push(Reply::Raw(429, "application/json", "{}".into(), Some("0")));
    f.iam.push(Reply::Reset);
    assert!(f.cache.get(&f.entry("k")).await.is_ok());
    assert_eq!(f.iam.hits(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_success_bodies_are_bad_responses() {
    let f = fixture(0.0).await;
    f.iam.push(Reply::Raw(
        200,
        "application/json",
        r#"{"access_token": "#.into(),
        None,
    ));
    f.iam.push(Reply::Raw(
        200,
        "application/json",
        r#"{"token_type":"Bearer"}"#.into(),
        None,
    ));
    f.iam.push(Reply::Raw(
        200,
        "application/json",
        r#"{"access_token":"opaque"}"#.into(),
        None,
    ));
    for _ in 0..3 {
        let e = f.cache.get(&f.entry("k")).await.unwrap_err();
        assert_eq!(e.code(), "ERR_BAD_RESPONSE");
    }
    // An opaque token with expires_in is fine.
    f.iam.push(Reply::Raw(
        200,
        "application/json",
        r#"{"access_token":"opaque","expires_in":3600}"#.into(),
        None,
    ));
    let t = f.cache.get(&f.entry("k")).await.unwrap();
    assert_eq!(token_text(&t), "opaque");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lru_bound_and_clear() {
    let f = fixture(0.0).await;
    f.cache.set_capacity(3);
    let first = f.entry("k0");
    for i in 1..5 {
        f.entry(&format!("k{i}"));
    }
    assert_eq!(f.cache.len(), 3);
    assert!(first.is_evicted());
    f.cache.clear();
    assert!(f.cache.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_told_apart_by_every_setting() {
    let f = fixture(0.0).await;
    let a = f.entry("k");
    let with = |o: IamOptions| {
        f.cache.entry(source(
            "k",
            &IamConfig::new(&IamOptions {
                url: Some(f.iam.url.clone()),
                ..o
            })
            .unwrap(),
        ))
    };
    let t = |t: TransportOptions| IamOptions {
        transport: t,
        ..Default::default()
    };
    let variants = [
        with(IamOptions {
            scope: Some("s".into()),
            ..Default::default()
        }),
        with(IamOptions {
            client_id: Some("bx".into()),
            client_secret: Some(Secret::new("bx")),
            ..Default::default()
        }),
        with(IamOptions {
            client_id: Some("bx".into()),
            client_secret: Some(Secret::new("other")),
            ..Default::default()
        }),
        with(t(TransportOptions {
            disable_ssl_verification: true,
            ..Default::default()
        })),
        with(t(TransportOptions {
            ca_cert: Some("-----BEGIN CERTIFICATE-----".into()),
            ..Default::default()
        })),
        with(t(TransportOptions {
            proxy: Some("http://127.0.0.1:3128".into()),
            ..Default::default()
        })),
        with(t(TransportOptions {
            headers: vec![("X-Tenant".into(), "a".into())],
            ..Default::default()
        })),
        with(t(TransportOptions {
            headers: vec![("X-Tenant".into(), "b".into())],
            ..Default::default()
        })),
        f.entry("other"),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert!(!Arc::ptr_eq(&a, v), "variant {i} shares the default entry");
        for w in &variants[i + 1..] {
            assert!(!Arc::ptr_eq(v, w));
        }
    }
    // Equal settings share one entry; timeouts and retries are not settings
    // that change the request or the trust in its answer.
    assert!(Arc::ptr_eq(&a, &f.entry("k")));
    assert!(Arc::ptr_eq(
        &a,
        &with(t(TransportOptions {
            timeout_ms: Some(1.0),
            max_retries: Some(9.0),
            ..Default::default()
        }))
    ));
    assert!(!format!("{a:?}").contains("\"k\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_only_drops_the_named_token() {
    let f = fixture(0.0).await;
    let e = f.entry("k");
    let t1 = f.cache.get(&e).await.unwrap();
    f.cache.invalidate(&e, Some(&t1));
    let t2 = f.cache.get(&e).await.unwrap();
    assert_eq!(f.iam.hits(), 2);
    f.cache.invalidate(&e, Some(&t1)); // stale: ignored
    assert!(Arc::ptr_eq(&f.cache.peek_entry(&e).unwrap(), &t2));
    f.cache.invalidate(&e, None);
    assert!(f.cache.peek_entry(&e).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_the_wire_format() {
    let f = fixture(0.0).await;
    let cfg = IamConfig::new(&IamOptions {
        url: Some(format!("{}/identity/token", f.iam.url)),
        client_id: Some("bx".into()),
        client_secret: Some(Secret::new("bx")),
        scope: Some("ibm openid".into()),
        ..Default::default()
    })
    .unwrap();
    let e = f.cache.entry(source("a&b=c", &cfg));
    f.cache.get(&e).await.unwrap();
    let body = f.iam.last_body.lock().clone();
    assert!(body.contains("grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey"));
    assert!(body.contains("apikey=a%26b%3Dc"));
    assert!(body.contains("response_type=cloud_iam"));
    assert!(body.contains("scope=ibm+openid"));
    assert_eq!(f.iam.last_auth.lock().as_deref(), Some("Basic Yng6Yng="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_refused_connections() {
    let f = fixture(0.0).await;
    let cfg = iam_config(&f.iam.url, 0.0, 100.0);
    f.iam.push(Reply::Delay(Duration::from_secs(2)));
    let e = f.cache.entry(source("k", &cfg));
    assert_eq!(f.cache.get(&e).await.unwrap_err().code(), "ERR_TIMEOUT");

    let closed = TcpListenerGuard::closed_port().await;
    let cfg = iam_config(&format!("http://127.0.0.1:{closed}"), 1.0, 5000.0);
    let e = f.cache.entry(source("k", &cfg));
    let err = f.cache.get(&e).await.unwrap_err();
    assert_eq!(err.code(), "ERR_NETWORK");
    assert!(!err.message().contains("\"k\""));
}

struct TcpListenerGuard;

impl TcpListenerGuard {
    async fn closed_port() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_before_the_answer_is_judged_by_the_issuers_clock() {
    let f = fixture(0.0).await;
    let e = f.entry("k");
    // One hour tokens that a caching proxy hands out 50 minutes after IAM
    // issued them: 10 minutes left by IAM's clock (its Date header).
    f.iam.push(Reply::Aged(3600, 3000));
    let first = f.cache.get(&e).await.unwrap();
    // Past 80% of its life already: served, and one refresh starts at once.
    assert!(f.cache.peek_entry(&e).is_some());
    f.wait_for_hits(2).await;
    let second = f.cache.peek_entry(&e).unwrap();
    assert_ne!(token_text(&second), token_text(&first));

    // A token with 9 s left by its issuer's clock is never handed out.
    let e2 = f.entry("k2");
    f.iam.push(Reply::Aged(3600, 3591));
    let err = f.cache.get(&e2).await.unwrap_err();
    assert_eq!(err.code(), "ERR_BAD_RESPONSE");
    assert!(
        err.message().contains("expires in 9 s"),
        "{}",
        err.message()
    );

    // The old rule held by the old token: it would have been usable for
    // the rest of its life counted from the request.
    let e3 = f.entry("k3");
    f.iam.push(Reply::Aged(3600, 1800));
    let t = f.cache.get(&e3).await.unwrap();
    // 1800 s left less a second for rounding, less the 10 s margin.
    f.clock.advance(1_788_000);
    assert!(f.cache.peek_entry(&e3).is_some());
    f.clock.advance(2_000);
    let after = f.cache.peek_entry(&e3);
    assert!(after.is_none_or(|a| !Arc::ptr_eq(&a, &t)));
}

#[test]
fn schedule_from_the_issuers_clock_without_a_date_header_uses_iat() {
    let token = crate::auth::jwt::make_token(r#"{"iat":1000,"exp":4600}"#);
    let f = Fetched {
        access_token: Secret::new(token),
        ..Default::default()
    };
    // Sent at 100 ms, arrived at 300 ms (local monotonic), no Date header.
    let s = Schedule::new(&f, 100, 300, 0).unwrap();
    assert_eq!(s.life_ms, 3_600_000);
    // The life counts from when the request was sent (the token cannot be
    // older), less a second for whole-second claims.
    assert_eq!(s.usable_until, 100 + 3_600_000 - 1_000 - 10_000);
    assert_eq!(s.refresh_at, 2_880_000 + 100 - 1_000);
    // With a Date header 600 s after iat: 3000 s left from arrival.
    let dated = Fetched {
        server_date: Some(1600),
        ..f
    };
    let s = Schedule::new(&dated, 100, 300, 0).unwrap();
    assert_eq!(s.usable_until, 300 + 3_000_000 - 1_000 - 10_000);
    // Local wall clock skew plays no part: only the issuer's times count.
    assert_eq!(Schedule::new(&dated, 100, 300, 9_999_999).unwrap(), s);
}

#[test]
fn schedule_of_extreme_server_times_never_overflows() {
    use crate::auth::jwt::make_token;
    let extremes = [i64::MIN, -1, 0, 1, i64::MAX];
    for iat in extremes {
        for exp in extremes {
            for date in [None, Some(i64::MIN), Some(i64::MAX)] {
                let f = Fetched {
                    access_token: Secret::new(make_token(&format!(
                        r#"{{"iat":{iat},"exp":{exp}}}"#
                    ))),
                    server_date: date,
                    expires_in: Some(f64::MAX),
                    expiration: Some(-f64::MAX),
                    ..Default::default()
                };
                // A schedule or a refusal, never a panic (overflow checks are on in tests).
                let _ = Schedule::new(&f, u64::MAX / 2, u64::MAX / 2, i64::MAX);
                let _ = Schedule::new(&f, 0, 0, i64::MIN);
            }
        }
    }
}

/// A source whose fetch panics: a bug must surface as ERR_INTERNAL to every
/// waiter, once, and never be retried as if it were a network failure.
struct Panicking {
    key: SourceKey,
    calls: std::sync::atomic::AtomicUsize,
}

impl TokenSource for Panicking {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> crate::auth::source::BoxFuture<'_, Result<Fetched>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { panic!("a bug") })
    }

    fn describe(&self) -> String {
        "panicking".into()
    }

    fn sharing(&self) -> crate::auth::source::Sharing {
        crate::auth::source::Sharing::Never
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_err_internal_for_every_waiter_and_not_retried() {
    let f = fixture(3.0).await;
    let source = Arc::new(Panicking {
        key: SourceKey {
            kind: "test",
            credential: Secret::new("c"),
            settings: Secret::new("s"),
        },
        calls: Default::default(),
    });
    let e = f.cache.entry(source.clone());
    let calls = (0..20).map(|_| f.cache.get(&e));
    for r in futures_util::future::join_all(calls).await {
        let err = r.unwrap_err();
        assert_eq!(err.code(), "ERR_INTERNAL");
        assert!(err.message().contains("please report it"));
    }
    assert_eq!(source.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn max_entries_is_a_whole_number_of_at_least_one() {
    assert_eq!(TokenCache::capacity_from(1.0).unwrap(), 1);
    assert_eq!(TokenCache::capacity_from(5000.0).unwrap(), 5000);
    for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
        let e = TokenCache::capacity_from(bad).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG");
        assert_eq!(
            e.message(),
            "options.maxEntries must be a whole number >= 1"
        );
    }
}
