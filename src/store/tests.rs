//! The token store against a real redis-server (see testserver.rs).

use super::testserver::{fixture, free_port, RedisServer};
use super::*;
use redis::AsyncCommands;
use std::time::Instant;

const IKM: &[u8] = b"api-key-UNIQUE-7f3a9c2e41b8d6f0-SECRET";
const CONTEXT: &[u8] = b"iam=https://iam.example.test/identity/token;client=bx;scope=";

/// Short timeouts and back-off, so failure tests take milliseconds.
fn quick(url: &str) -> StoreOptions {
    StoreOptions {
        op_timeout: Duration::from_millis(400),
        connect_timeout: Duration::from_millis(500),
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        ..StoreOptions::new(url)
    }
}

fn store(url: &str) -> Store {
    Store::new(quick(url)).expect("store")
}

/// What no failure may exceed: a few times the configured bounds, far
/// below what an unbounded wait (TCP's own timeouts) would take.
const FAIL_FAST: Duration = Duration::from_secs(2);

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

// ---- derivation and sealing (no server) ----

#[test]
fn slots_are_deterministic_and_separate_credentials_and_contexts() {
    let s = Store::new(StoreOptions::new("redis://127.0.0.1:1/0")).unwrap();
    let a = s.slot(IKM, CONTEXT);
    assert_eq!(a.key(), s.slot(IKM, CONTEXT).key());
    assert!(a.key().starts_with("wmln:v1:t:"), "{}", a.key());
    assert_eq!(a.key().len(), "wmln:v1:t:".len() + 64);
    assert_eq!(
        &a.lease_key()["wmln:v1:l:".len()..],
        &a.key()["wmln:v1:t:".len()..]
    );
    assert_ne!(a.key(), s.slot(b"another key", CONTEXT).key());
    assert_ne!(a.key(), s.slot(IKM, b"iam=https://other").key());
    // Debug shows a short prefix of the (opaque) name only.
    let dbg = format!("{a:?}");
    assert!(dbg.len() < 40 && !dbg.contains(&a.key()[20..]), "{dbg}");
}

#[test]
fn the_derivation_is_the_documented_one() {
    // Recomputes the module docs' formulas independently.
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"wml-native token store v1"), IKM);
    let mut id = [0u8; 32];
    let info = [b"wmln/v1/name\0".as_slice(), CONTEXT].concat();
    hk.expand(&info, &mut id).unwrap();
    let s = Store::new(StoreOptions::new("redis://127.0.0.1:1/0")).unwrap();
    assert_eq!(
        s.slot(IKM, CONTEXT).key(),
        format!("wmln:v1:t:{}", seal::hex(&id))
    );
}

#[test]
fn a_sealed_value_opens_only_in_its_own_slot_and_under_its_own_name() {
    let s = Store::new(StoreOptions::new("redis://127.0.0.1:1/0")).unwrap();
    let a = s.slot(IKM, CONTEXT);
    let sealed = a.seal(b"the record").unwrap();
    assert_eq!(&**a.open(&sealed).unwrap(), b"the record");
    assert_eq!(sealed[0], 1, "version byte");
    // Same key, another name: the AAD no longer matches.
    let mut renamed = a.clone();
    renamed.value_key = s.slot(b"other", CONTEXT).value_key;
    assert!(renamed.open(&sealed).is_none());
    assert!(s.slot(b"other", CONTEXT).open(&sealed).is_none());
    assert!(s.slot(IKM, b"other context").open(&sealed).is_none());
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x40;
        assert!(a.open(&t).is_none(), "byte {i} flipped still opens");
    }
    assert!(a.open(&sealed[..sealed.len() - 1]).is_none());
    assert!(a.open(b"").is_none());
    // Two seals of one record differ (random nonce).
    assert_ne!(sealed, a.seal(b"the record").unwrap());
}

#[test]
fn bad_urls_and_options_are_invalid_args_that_never_show_the_password() {
    let pw = "pa55-w0rd-NEVER-SHOWN";
    for (url, why) in [
        (format!("http://:{pw}@127.0.0.1:6379/0"), "scheme"),
        (format!("redis://:{pw}@/0"), "host"),
        (format!("redis://:{pw}@127.0.0.1:6379/zero"), "database"),
        (format!("redis://:{pw}@127.0.0.1:6379/-1"), "database"),
        (
            format!("redis://:{pw}@127.0.0.1:6379/0?protocol=resp3"),
            "options",
        ),
        (
            format!("rediss://:{pw}@127.0.0.1:6379/0#insecure"),
            "options",
        ),
        (format!("not a url {pw}"), "valid URL"),
    ] {
        let e = Store::new(StoreOptions::new(url.clone())).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG", "{url}");
        let m = e.message();
        assert!(m.starts_with("store: ") && m.contains(why), "{url}: {m}");
        assert!(!m.contains(pw), "{m}");
    }
    let local = |url: &str| StoreOptions::new(url);
    for (o, why) in [
        (
            StoreOptions {
                ca_cert: Some(std::fs::read_to_string(fixture("ca.pem")).unwrap()),
                ..local("redis://127.0.0.1/0")
            },
            "rediss://",
        ),
        (
            StoreOptions {
                ca_cert: Some("not pem".into()),
                ..local("rediss://127.0.0.1/0")
            },
            "caCert",
        ),
        (
            StoreOptions {
                secret: Some(Secret::new("too-short")),
                ..local("redis://127.0.0.1/0")
            },
            "storeKey",
        ),
        (
            StoreOptions {
                op_timeout: Duration::ZERO,
                ..local("redis://127.0.0.1/0")
            },
            "timeout",
        ),
    ] {
        let e = Store::new(o).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG");
        assert!(e.message().contains(why), "{why}: {}", e.message());
        assert!(!e.message().contains("too-short"));
    }
}

#[test]
fn accepted_urls() {
    for url in [
        "redis://127.0.0.1",
        "redis://localhost:6380/3",
        "redis://user:p%40ss@host.example/0",
        "rediss://[::1]:6379/0",
        "valkey://h/1",
        "valkeys://h",
    ] {
        let s = Store::new(StoreOptions::new(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(s.available());
        assert!(!format!("{s:?}").contains("p%40ss") && !format!("{s:?}").contains("p@ss"));
    }
    let s = Store::new(StoreOptions::new("rediss://[::1]:7000/2")).unwrap();
    assert!(format!("{s:?}").contains("rediss://[::1]:7000/2"), "{s:?}");
}

#[test]
fn secret_slot_is_the_slot_of_the_secret() {
    let secret = "store-secret-0123456789abcdef";
    let s = Store::new(StoreOptions {
        secret: Some(Secret::new(secret)),
        ..StoreOptions::new("redis://127.0.0.1/0")
    })
    .unwrap();
    let by_secret = s.secret_slot(b"ctx|profile=p1").unwrap();
    assert_eq!(
        by_secret.key(),
        s.slot(secret.as_bytes(), b"ctx|profile=p1").key()
    );
    assert_ne!(
        by_secret.key(),
        s.secret_slot(b"ctx|profile=p2").unwrap().key()
    );
    assert!(Store::new(StoreOptions::new("redis://127.0.0.1/0"))
        .unwrap()
        .secret_slot(b"ctx")
        .is_none());
    let dbg = format!(
        "{:?}",
        StoreOptions {
            secret: Some(Secret::new(secret)),
            ..StoreOptions::new("redis://u:pw-NEVER-SHOWN@127.0.0.1/0")
        }
    );
    assert!(
        !dbg.contains(secret) && !dbg.contains("pw-NEVER-SHOWN"),
        "{dbg}"
    );
    assert!(
        dbg.contains("redis://u:%3Credacted%3E@127.0.0.1/0"),
        "{dbg}"
    );
}

// ---- against redis-server ----

#[tokio::test]
async fn round_trip_and_miss() {
    let srv = RedisServer::start(&[]).await;
    let s = store(&srv.url());
    let slot = s.slot(IKM, CONTEXT);
    assert!(s.read(&slot).await.unwrap().is_none());
    s.publish(&slot, b"record-1", Duration::from_secs(60))
        .await
        .unwrap();
    let got = s.read(&slot).await.unwrap().expect("published entry");
    assert_eq!(&**got.record, b"record-1");
    assert!(
        got.ttl <= Duration::from_secs(60) && got.ttl > Duration::from_secs(55),
        "{:?}",
        got.ttl
    );
    // Another process (another Store) with the same credential and settings.
    let other = store(&srv.url());
    let got = other
        .read(&other.slot(IKM, CONTEXT))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&**got.record, b"record-1");
    let st = s.stats();
    assert_eq!((st.hits, st.misses, st.published, st.errors), (1, 1, 1, 0));
    // A zero ttl writes nothing.
    let empty = s.slot(b"k2", CONTEXT);
    s.publish(&empty, b"x", Duration::ZERO).await.unwrap();
    assert!(s.read(&empty).await.unwrap().is_none());
}

#[tokio::test]
async fn ttl_is_what_redis_reports() {
    let srv = RedisServer::start(&[]).await;
    let s = store(&srv.url());
    let slot = s.slot(IKM, CONTEXT);
    s.publish(&slot, b"r", Duration::from_secs(3600))
        .await
        .unwrap();
    let mut raw = srv.raw().await;
    let ms = pttl(&mut raw, slot.key()).await;
    assert!(ms > 3_590_000 && ms <= 3_600_000, "{ms}");
    let _: () = raw.pexpire(slot.key(), 1500).await.unwrap();
    let got = s.read(&slot).await.unwrap().unwrap();
    assert!(
        got.ttl <= Duration::from_millis(1500) && got.ttl > Duration::from_millis(1000),
        "{:?}",
        got.ttl
    );
}

#[tokio::test]
async fn exactly_one_of_many_contenders_wins_the_lease() {
    let srv = RedisServer::start(&[]).await;
    let stores: Vec<Store> = (0..12).map(|_| store(&srv.url())).collect();
    let tries = stores.iter().map(|s| {
        let slot = s.slot(IKM, CONTEXT);
        async move { s.try_lease(&slot, Duration::from_secs(5)).await.unwrap() }
    });
    let leases = futures_util::future::join_all(tries).await;
    assert_eq!(leases.iter().filter(|l| l.is_some()).count(), 1);
    let won: u64 = stores.iter().map(|s| s.stats().leases_won).sum();
    let lost: u64 = stores.iter().map(|s| s.stats().leases_lost).sum();
    assert_eq!((won, lost), (1, 11));
    // Holding it does not lock the entry: others still read and publish.
    let s = &stores[3];
    s.publish(&s.slot(IKM, CONTEXT), b"r", Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lease_expires_and_is_released_only_by_its_owner() {
    let srv = RedisServer::start(&[]).await;
    let (a, b) = (store(&srv.url()), store(&srv.url()));
    let slot = a.slot(IKM, CONTEXT);
    let mut raw = srv.raw().await;

    let first = a
        .try_lease(&slot, Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert!(b
        .try_lease(&slot, Duration::from_secs(10))
        .await
        .unwrap()
        .is_none());
    tokio::time::sleep(Duration::from_millis(350)).await;
    // Expired: b takes it; a's late release must not remove b's lease.
    let second = b
        .try_lease(&slot, Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    a.release(first).await;
    assert!(
        raw.exists::<_, bool>(slot.lease_key()).await.unwrap(),
        "a released b's lease"
    );
    assert!(a
        .try_lease(&slot, Duration::from_secs(10))
        .await
        .unwrap()
        .is_none());
    b.release(second).await;
    assert!(!raw.exists::<_, bool>(slot.lease_key()).await.unwrap());
    assert!(a
        .try_lease(&slot, Duration::from_secs(10))
        .await
        .unwrap()
        .is_some());
    let ms = pttl(&mut raw, slot.lease_key()).await;
    assert!(ms > 9_000 && ms <= 10_000, "{ms}");
}

#[tokio::test]
async fn a_waiter_gets_what_the_lease_holder_publishes_passing_over_what_it_does_not_accept() {
    let srv = RedisServer::start(&[]).await;
    let (leader, waiter) = (store(&srv.url()), store(&srv.url()));
    let slot = leader.slot(IKM, CONTEXT);
    // The old token, still in the store while the leader fetches a new one.
    leader
        .publish(&slot, b"old", Duration::from_secs(60))
        .await
        .unwrap();
    let lease = leader
        .try_lease(&slot, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let publish = async {
        tokio::time::sleep(Duration::from_millis(80)).await;
        leader
            .publish(&slot, b"new", Duration::from_secs(60))
            .await
            .unwrap();
        leader.release(lease).await;
    };
    let not_old = |s: &Stored| (&**s.record != b"old").then(|| s.record.clone());
    let t = Instant::now();
    let (got, ()) = tokio::join!(waiter.wait(&slot, Duration::from_secs(5), not_old), publish);
    assert_eq!(&**got.unwrap().unwrap(), b"new");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!((waiter.stats().hits, waiter.stats().misses), (1, 0));

    // The lease gone and only an unaccepted entry: None at once.
    let t = Instant::now();
    let got = waiter
        .wait(&slot, Duration::from_secs(30), |s| {
            (&**s.record != b"new").then_some(())
        })
        .await
        .unwrap();
    assert!(got.is_none());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(waiter.stats().misses, 1);
}

#[tokio::test]
async fn a_waiter_stops_when_the_lease_goes_without_an_entry_or_at_its_limit() {
    let srv = RedisServer::start(&[]).await;
    let (leader, waiter) = (store(&srv.url()), store(&srv.url()));
    let slot = leader.slot(IKM, CONTEXT);

    // The lease holder gives up (its IAM call failed): no need to wait on.
    let lease = leader
        .try_lease(&slot, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let give_up = async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        leader.release(lease).await;
    };
    let t = Instant::now();
    let (got, ()) = tokio::join!(
        waiter.wait(&slot, Duration::from_secs(30), |_| Some(())),
        give_up
    );
    assert!(got.unwrap().is_none());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // A lease held past the wait's limit.
    let _held = leader
        .try_lease(&slot, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let t = Instant::now();
    assert!(waiter
        .wait(&slot, Duration::from_millis(100), |_| Some(()))
        .await
        .unwrap()
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(waiter.stats().misses, 2);
    // No lease and no entry: an immediate None.
    let none = waiter.slot(b"nobody fetches this", CONTEXT);
    let t = Instant::now();
    assert!(waiter
        .wait(&none, Duration::from_secs(30), |_| Some(()))
        .await
        .unwrap()
        .is_none());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn entries_that_do_not_open_read_as_absent_and_are_counted() {
    let srv = RedisServer::start(&[]).await;
    let s = store(&srv.url());
    let mut raw = srv.raw().await;
    let mine = s.slot(IKM, CONTEXT);
    s.publish(&mine, b"token record", Duration::from_secs(60))
        .await
        .unwrap();
    let sealed: Vec<u8> = raw.get(mine.key()).await.unwrap();

    // The same bytes under another credential's or another context's name.
    let other_key = s.slot(b"another-api-key-0000000000", CONTEXT);
    let other_ctx = s.slot(IKM, b"iam=https://private.iam.example.test");
    for slot in [&other_key, &other_ctx] {
        let _: () = raw.pset_ex(slot.key(), &sealed, 60_000).await.unwrap();
        assert!(s.read(slot).await.unwrap().is_none());
    }
    assert_eq!(s.stats().rejected, 2);

    // Tampered, garbage, and an entry without a TTL.
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let _: () = raw.pset_ex(mine.key(), &tampered, 60_000).await.unwrap();
    assert!(s.read(&mine).await.unwrap().is_none());
    let _: () = raw.pset_ex(mine.key(), b"garbage", 60_000).await.unwrap();
    assert!(s.read(&mine).await.unwrap().is_none());
    let _: () = raw.set(mine.key(), &sealed).await.unwrap();
    assert!(s.read(&mine).await.unwrap().is_none());
    let st = s.stats();
    assert_eq!((st.rejected, st.hits, st.errors), (5, 0, 0));
    assert!(s.available(), "a bad entry is not an outage");

    // Published again, it opens.
    s.publish(&mine, b"token record", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        &**s.read(&mine).await.unwrap().unwrap().record,
        b"token record"
    );
}

#[tokio::test]
async fn nothing_in_redis_reveals_the_credential_settings_or_record() {
    let srv = RedisServer::start(&[]).await;
    let s = store(&srv.url());
    let record = b"{\"access_token\":\"eyJ-ACCESS-TOKEN-PLAINTEXT\",\"expiration\":1999999999}";
    let slots = [s.slot(IKM, CONTEXT), s.slot(b"second-key-abcdef", CONTEXT)];
    for slot in &slots {
        s.publish(slot, record, Duration::from_secs(60))
            .await
            .unwrap();
        let _lease = s
            .try_lease(slot, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
    }
    let mut raw = srv.raw().await;
    let keys: Vec<Vec<u8>> = {
        let mut it = raw.scan::<Vec<u8>>().await.unwrap();
        let mut keys = Vec::new();
        while let Some(k) = futures_util::StreamExt::next(&mut it).await {
            keys.push(k.unwrap());
        }
        keys
    };
    assert_eq!(keys.len(), 4, "two entries and two leases");
    let needles: [&[u8]; 6] = [
        IKM,
        b"second-key-abcdef",
        CONTEXT,
        b"iam.example.test",
        b"ACCESS-TOKEN-PLAINTEXT",
        b"access_token",
    ];
    let mut raw2 = srv.raw().await;
    for k in &keys {
        assert!(k.starts_with(KEY_PREFIX.as_bytes()));
        let v: Vec<u8> = raw2.get(k).await.unwrap();
        for n in needles {
            for hay in [k.as_slice(), v.as_slice()] {
                assert!(
                    !hay.windows(n.len()).any(|w| w == n),
                    "{} found in Redis",
                    String::from_utf8_lossy(n)
                );
            }
        }
        // Nor the credential's hex or its SHA-256.
        let ikm_hex = seal::hex(IKM);
        let sha = seal::hex(&<sha2::Sha256 as sha2::Digest>::digest(IKM));
        let text = String::from_utf8_lossy(k);
        assert!(!text.contains(&ikm_hex) && !text.contains(&sha));
    }
}

#[tokio::test]
async fn a_killed_server_fails_fast_and_a_restarted_one_is_used_again() {
    let mut srv = RedisServer::start(&[]).await;
    let s = store(&srv.url());
    let slot = s.slot(IKM, CONTEXT);
    s.publish(&slot, b"r", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(s.available());

    srv.kill();
    let t = Instant::now();
    let err = s.read(&slot).await.unwrap_err();
    assert!(t.elapsed() < FAIL_FAST, "{:?}", t.elapsed());
    assert_ne!(
        err,
        StoreError::Unavailable,
        "the first failure is a real one"
    );
    assert!(!s.available());
    // While backing off: no I/O, an immediate Unavailable, counted as skipped.
    assert_eq!(
        s.try_lease(&slot, Duration::from_secs(1))
            .await
            .unwrap_err(),
        StoreError::Unavailable
    );
    assert_eq!(s.stats().errors, 1);
    assert!(s.stats().skipped >= 1);

    // Still down after the back-off: one more failure, a longer back-off.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(s.available());
    let t = Instant::now();
    assert!(s.read(&slot).await.is_err());
    assert!(t.elapsed() < FAIL_FAST);
    assert!(!s.available());
    assert_eq!(s.stats().errors, 2);

    srv.restart().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if s.available() {
            match s.read(&slot).await {
                // The restarted server is empty.
                Ok(v) => {
                    assert!(v.is_none());
                    break;
                }
                Err(e) => assert!(Instant::now() < deadline, "store not back: {e}"),
            }
        }
        assert!(Instant::now() < deadline, "store never available again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.publish(&slot, b"r2", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(&**s.read(&slot).await.unwrap().unwrap().record, b"r2");
    assert!(s.available());
}

#[tokio::test]
async fn nothing_listening_fails_fast() {
    let s = store(&format!("redis://127.0.0.1:{}/0", free_port()));
    let slot = s.slot(IKM, CONTEXT);
    let t = Instant::now();
    let err = s.read(&slot).await.unwrap_err();
    assert!(t.elapsed() < FAIL_FAST, "{:?}", t.elapsed());
    assert!(matches!(err, StoreError::Connect(_)), "{err:?}");
    assert!(!s.available());
    assert_eq!(s.stats().errors, 1);
}

#[tokio::test]
async fn a_blackholed_server_fails_fast() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            keep.lock().push(sock);
        }
    });
    for url in [
        format!("redis://127.0.0.1:{port}/0"),
        // AUTH and SELECT make the connection setup itself wait for answers.
        format!("redis://:pw@127.0.0.1:{port}/3"),
        format!("rediss://127.0.0.1:{port}/0"),
    ] {
        let s = store(&url);
        let slot = s.slot(IKM, CONTEXT);
        let t = Instant::now();
        let err = s
            .try_lease(&slot, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(t.elapsed() < FAIL_FAST, "{url}: {:?}", t.elapsed());
        assert!(matches!(err, StoreError::Timeout(_)), "{url}: {err:?}");
        assert!(!s.available());
    }
    assert!(!held.lock().is_empty());
}

#[tokio::test]
async fn concurrent_calls_share_one_failed_connection_attempt() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            keep.lock().push(sock);
        }
    });
    let s = store(&format!("redis://:pw@127.0.0.1:{port}/0"));
    let slot = s.slot(IKM, CONTEXT);
    let t = Instant::now();
    let results = futures_util::future::join_all((0..20).map(|_| s.read(&slot))).await;
    assert!(t.elapsed() < FAIL_FAST, "{:?}", t.elapsed());
    assert!(results.iter().all(|r| r.is_err()));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one connection attempt for 20 calls"
    );
    let st = s.stats();
    assert_eq!(st.errors + st.skipped, 20, "{st:?}");
    assert!(st.errors >= 1);
}

#[tokio::test]
async fn a_password_is_used_and_never_shown() {
    let pw = "redis-pass-NEVER-SHOWN-42";
    let srv = RedisServer::start(&["--requirepass", pw]).await;
    let good = store(&format!("redis://:{pw}@127.0.0.1:{}/2", srv.port));
    let slot = good.slot(IKM, CONTEXT);
    good.publish(&slot, b"r", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(&**good.read(&slot).await.unwrap().unwrap().record, b"r");
    assert!(!format!("{good:?}").contains(pw), "{good:?}");

    for url in [
        format!("redis://:wrong-{pw}@127.0.0.1:{}/2", srv.port),
        format!("redis://127.0.0.1:{}/2", srv.port),
    ] {
        let bad = store(&url);
        let err = bad.read(&slot).await.unwrap_err();
        let text = format!("{err} {err:?} {bad:?}");
        assert!(!text.contains(pw), "{text}");
        assert!(!bad.available());
    }
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let srv = RedisServer::tls().await;
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("rediss://{host}:{}/0", srv.port);
        let s = Store::new(StoreOptions {
            ca_cert: Some(ca.clone()),
            ..quick(&url)
        })
        .unwrap();
        let slot = s.slot(IKM, CONTEXT);
        s.publish(&slot, b"over tls", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            &**s.read(&slot).await.unwrap().unwrap().record,
            b"over tls",
            "{host}"
        );
    }

    // Without the CA: the certificate is rejected, quickly.
    let s = store(&srv.url());
    let t = Instant::now();
    let err = s.read(&s.slot(IKM, CONTEXT)).await.unwrap_err();
    assert!(t.elapsed() < FAIL_FAST);
    assert!(
        matches!(&err, StoreError::Tls(m) if m.contains("caCert")),
        "{err:?}"
    );

    // disableSslVerification: accepted without the CA.
    let s = Store::new(StoreOptions {
        disable_ssl_verification: true,
        ..quick(&srv.url())
    })
    .unwrap();
    let slot = s.slot(IKM, CONTEXT);
    assert_eq!(&**s.read(&slot).await.unwrap().unwrap().record, b"over tls");

    // Plain redis:// to the TLS port: an error, not a hang.
    let s = store(&format!("redis://127.0.0.1:{}/0", srv.port));
    let t = Instant::now();
    assert!(s.read(&slot).await.is_err());
    assert!(t.elapsed() < FAIL_FAST);
}

async fn connected_clients(raw: &mut redis::aio::MultiplexedConnection) -> u32 {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(raw)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn dropping_the_store_closes_its_connection() {
    let srv = RedisServer::start(&[]).await;
    let mut raw = srv.raw().await;
    let before = connected_clients(&mut raw).await;
    let s = store(&srv.url());
    assert!(s.read(&s.slot(IKM, CONTEXT)).await.unwrap().is_none());
    assert_eq!(connected_clients(&mut raw).await, before + 1);
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while connected_clients(&mut raw).await != before {
        assert!(
            Instant::now() < deadline,
            "the store's connection outlived it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_lease_is_renewed_only_by_its_owner() {
    let srv = RedisServer::start(&[]).await;
    let (a, b) = (store(&srv.url()), store(&srv.url()));
    let slot = a.slot(IKM, CONTEXT);
    let mut raw = srv.raw().await;
    let lease = a
        .try_lease(&slot, Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert!(a.renew(&lease, Duration::from_secs(20)).await.unwrap());
    let ms = pttl(&mut raw, slot.lease_key()).await;
    assert!(ms > 19_000 && ms <= 20_000, "{ms}");
    // Taken over by b after it expired: a's renewal must not extend b's.
    let _: () = raw.pexpire(slot.lease_key(), 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _theirs = b
        .try_lease(&slot, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(!a.renew(&lease, Duration::from_secs(60)).await.unwrap());
    let ms = pttl(&mut raw, slot.lease_key()).await;
    assert!(ms <= 5_000, "{ms}");
}
