//! The cache with a token store: several caches ("processes", each with its
//! own `Store` and connection) against one real redis-server and one fake IAM.

use super::*;
use crate::auth::cache::{Clock, Entry, ManualClock};
use crate::auth::iam::{ApikeySource, IamConfig, IamOptions};
use crate::auth::source::{BoxFuture, SourceKey};
use crate::http::TransportOptions;
use crate::store::testserver::RedisServer;
use crate::testutil::{FakeIam, Reply};
use redis::AsyncCommands;

/// One process: its cache, its clock, its own connection to the store.
struct Proc {
    cache: Arc<TokenCache>,
    clock: Arc<ManualClock>,
}

fn quick_store(url: &str, secret: Option<&str>) -> Store {
    Store::new(StoreOptions {
        op_timeout: Duration::from_millis(400),
        connect_timeout: Duration::from_millis(500),
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        secret: secret.map(Secret::new),
        ..StoreOptions::new(url)
    })
    .unwrap()
}

fn proc_with(url: &str, secret: Option<&str>) -> Proc {
    let clock = Arc::new(ManualClock::default());
    let cache = TokenCache::new(clock.clone(), 100, tokio::runtime::Handle::current());
    cache.set_store(Some(quick_store(url, secret)));
    Proc { cache, clock }
}

fn proc(url: &str) -> Proc {
    proc_with(url, None)
}

fn cfg(iam: &FakeIam) -> IamConfig {
    IamConfig::new(&IamOptions {
        url: Some(iam.url.clone()),
        transport: TransportOptions {
            max_retries: Some(0.0),
            timeout_ms: Some(5000.0),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

fn apikey(key: &str, iam: &FakeIam) -> Arc<ApikeySource> {
    Arc::new(ApikeySource::new(Secret::new(key), cfg(iam)).unwrap())
}

impl Proc {
    fn entry(&self, source: Arc<dyn TokenSource>) -> Arc<Entry> {
        self.cache.entry(source)
    }

    async fn token(&self, key: &str, iam: &FakeIam) -> Arc<Token> {
        let e = self.entry(apikey(key, iam));
        self.cache.get(&e).await.unwrap()
    }

    /// Peeks past the refresh point and waits for the background refresh.
    async fn refreshed(&self, e: &Arc<Entry>, old: &Arc<Token>) -> Arc<Token> {
        assert!(self.cache.peek_entry(e).is_some());
        for _ in 0..500 {
            let cur = self.cache.peek_entry(e).unwrap();
            if !Arc::ptr_eq(&cur, old) && !e.state.lock().fetching {
                return cur;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no refresh");
    }
}

fn text(t: &Arc<Token>) -> String {
    t.access_token.expose().to_string()
}

async fn all_keys(srv: &RedisServer) -> Vec<String> {
    let mut raw = srv.raw().await;
    let mut it = raw.scan::<String>().await.unwrap();
    let mut keys = Vec::new();
    while let Some(k) = futures_util::StreamExt::next(&mut it).await {
        keys.push(k.unwrap());
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_takes_the_token_from_the_store() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let (a, b) = (proc(&srv.url()), proc(&srv.url()));
    let ta = a.token("k", &iam).await;
    assert_eq!(iam.hits(), 1);
    let tb = b.token("k", &iam).await;
    assert_eq!(iam.hits(), 1, "b asked IAM");
    assert_eq!(text(&ta), text(&tb));
    // What IAM said of the token comes along.
    assert_eq!(
        (
            tb.expires_in,
            tb.expiration,
            tb.scope.as_deref(),
            tb.ims_user_id
        ),
        (ta.expires_in, ta.expiration, Some("ibm openid"), Some(42))
    );
    assert_eq!(tb.token_type, "Bearer");
    assert_eq!(
        tb.refresh_token.as_ref().map(|r| r.expose()),
        Some("not_supported")
    );
    // Its schedule: Redis's TTL, within a little of the publisher's own.
    let (fa, fb) = (
        a.cache.fresh_for_ms(&ta) as i64,
        b.cache.fresh_for_ms(&tb) as i64,
    );
    assert!((fa - fb).abs() < 1_000, "{fa} vs {fb}");
    assert_eq!(
        a.cache.fleet_stats(),
        FleetStats {
            misses: 1,
            leases_won: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        b.cache.fleet_stats(),
        FleetStats {
            hits: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        (a.cache.requests_started(), b.cache.requests_started()),
        (1, 0)
    );
    // One entry in Redis, its lease released; it expires with the token.
    let keys = all_keys(&srv).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let mut raw = srv.raw().await;
    let pttl: i64 = raw.pttl(&keys[0]).await.unwrap();
    assert!(
        pttl > 0 && pttl as u64 <= ta.usable_for_ms(a.clock.now_ms()),
        "{pttl}"
    );
    assert!(pttl > 3_500_000, "{pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_herd_of_processes_makes_one_request_per_key() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    iam.push(Reply::Delay(Duration::from_millis(200)));
    let procs: Vec<Proc> = (0..12).map(|_| proc(&srv.url())).collect();
    let keys = ["k0", "k1", "k2", "k3", "k4"];
    let calls = procs.iter().flat_map(|p| {
        let iam = &iam;
        keys.iter()
            .map(move |k| async move { (*k, text(&p.token(k, iam).await)) })
    });
    let got = futures_util::future::join_all(calls).await;
    assert_eq!(iam.hits(), keys.len(), "one IAM request per key");
    for k in keys {
        let texts: std::collections::HashSet<&String> = got
            .iter()
            .filter(|(g, _)| *g == k)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(texts.len(), 1, "{k}: every process got the same token");
    }
    let won: u64 = procs.iter().map(|p| p.cache.fleet_stats().leases_won).sum();
    let hits: u64 = procs.iter().map(|p| p.cache.fleet_stats().hits).sum();
    assert_eq!(won, keys.len() as u64);
    assert_eq!(hits, (procs.len() * keys.len()) as u64 - won);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_happens_once_for_the_fleet() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let procs: Vec<Proc> = (0..4).map(|_| proc(&srv.url())).collect();
    let entries: Vec<_> = procs.iter().map(|p| p.entry(apikey("k", &iam))).collect();
    let mut held = Vec::new();
    for (p, e) in procs.iter().zip(&entries) {
        held.push(p.cache.get(e).await.unwrap());
    }
    assert_eq!(iam.hits(), 1);
    for round in 0..3 {
        // Every process past its refresh point at once: one request.
        iam.push(Reply::Delay(Duration::from_millis(100)));
        for p in &procs {
            p.clock.advance(2_900_000);
        }
        let next = futures_util::future::join_all(
            procs
                .iter()
                .zip(&entries)
                .zip(&held)
                .map(|((p, e), old)| p.refreshed(e, old)),
        )
        .await;
        assert_eq!(iam.hits(), 2 + round, "round {round}");
        let texts: std::collections::HashSet<String> = next.iter().map(text).collect();
        assert_eq!(texts.len(), 1, "round {round}: one new token for all");
        assert_ne!(text(&next[0]), text(&held[0]));
        held = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_never_taken_from_the_store_again() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let (a, b, c) = (proc(&srv.url()), proc(&srv.url()), proc(&srv.url()));
    let t1 = a.token("k", &iam).await;
    let eb = b.entry(apikey("k", &iam));
    let t1b = b.cache.get(&eb).await.unwrap();
    assert_eq!(text(&t1), text(&t1b));
    // The service refused it (a 401): b drops it and must not adopt it again.
    b.cache.invalidate(&eb, Some(&t1b));
    let t2 = b.cache.get(&eb).await.unwrap();
    assert_ne!(text(&t2), text(&t1));
    assert_eq!(iam.hits(), 2);
    // The new one replaced it in the store.
    assert_eq!(text(&c.token("k", &iam).await), text(&t2));
    assert_eq!(iam.hits(), 2);
    // invalidate() without a token named drops whatever is current, too.
    b.cache.invalidate(&eb, None);
    let t3 = b.cache.get(&eb).await.unwrap();
    assert_ne!(text(&t3), text(&t2));
    assert_eq!(iam.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_down_each_process_asks_by_itself_and_comes_back() {
    let (mut srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let a = proc(&srv.url());
    let ea = a.entry(apikey("k", &iam));
    let t1 = a.cache.get(&ea).await.unwrap();
    srv.kill();
    // A new process and a's refresh: both go to IAM, and both succeed.
    let b = proc(&srv.url());
    let started = std::time::Instant::now();
    let tb = b.token("k", &iam).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_ne!(text(&tb), text(&t1));
    a.clock.advance(2_900_000);
    let t2 = a.refreshed(&ea, &t1).await;
    assert_eq!(iam.hits(), 3);
    assert!(b.cache.fleet_stats().errors >= 1);
    assert!(a.cache.fleet_stats().errors >= 1);

    srv.restart().await;
    // Past the back-off, a's next refresh goes through the store again...
    tokio::time::sleep(Duration::from_millis(500)).await;
    let won = a.cache.fleet_stats().leases_won;
    a.clock.advance(2_900_000);
    let t3 = a.refreshed(&ea, &t2).await;
    assert_eq!(a.cache.fleet_stats().leases_won, won + 1);
    // ...and a new process takes that token from it.
    let c = proc(&srv.url());
    assert_eq!(text(&c.token("k", &iam).await), text(&t3));
    assert_eq!(iam.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_another_key_tampered_or_replayed_are_ignored() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let a = proc(&srv.url());
    let store = a.cache.fleet.store().unwrap();
    let t1 = a.token("k1", &iam).await;
    let slot = |key: &str| slot_for(&store, &*apikey(key, &iam)).unwrap();
    let mut raw = srv.raw().await;
    let sealed: Vec<u8> = raw.get(slot("k1").key()).await.unwrap();

    // k1's entry under k2's name: does not open; k2 gets its own token.
    let _: () = raw
        .pset_ex(slot("k2").key(), &sealed, 60_000)
        .await
        .unwrap();
    let t2 = proc(&srv.url()).token("k2", &iam).await;
    assert_ne!(text(&t2), text(&t1));
    assert_eq!(iam.hits(), 2);

    // Tampered: ignored, k1 asked for again.
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let _: () = raw.pset_ex(slot("k1").key(), &bad, 60_000).await.unwrap();
    let t3 = proc(&srv.url()).token("k1", &iam).await;
    assert_ne!(text(&t3), text(&t1));
    assert_eq!(iam.hits(), 3);

    // An old record replayed with a fresh TTL (it opens: it was sealed with
    // k3's key): its expiration is past, so it is not used.
    let record = |expiration: i64, life_ms: u64| {
        serde_json::json!({
            "access_token": "replayed-token", "token_type": "Bearer",
            "expires_in": 3600, "expiration": expiration,
            "life_ms": life_ms, "refresh_lead_ms": life_ms / 5,
        })
        .to_string()
    };
    let now = crate::auth::jwt::wall_secs();
    store
        .publish(
            &slot("k3"),
            record(now - 7200, 3_600_000).as_bytes(),
            Duration::from_secs(3000),
        )
        .await
        .unwrap();
    let t4 = proc(&srv.url()).token("k3", &iam).await;
    assert_ne!(text(&t4), "replayed-token");
    assert_eq!(iam.hits(), 4);

    // A TTL longer than the token's whole life: the life bounds it.
    store
        .publish(
            &slot("k4"),
            record(now + 3600, 20_000).as_bytes(),
            Duration::from_secs(3000),
        )
        .await
        .unwrap();
    let p = proc(&srv.url());
    let t5 = p.token("k4", &iam).await;
    assert_eq!(text(&t5), "replayed-token");
    assert!(t5.usable_for_ms(p.clock.now_ms()) <= 20_000);
    assert!(p.cache.fresh_for_ms(&t5) <= 16_000);
    assert_eq!(iam.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_nothing_usable() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let keys = ["api-key-ONE-6a1f0c", "api-key-TWO-93be4d"];
    let mut texts = Vec::new();
    for k in keys {
        let a = proc(&srv.url());
        texts.push(text(&a.token(k, &iam).await));
        // A lease held mid-fetch is in there too.
        let s = a.cache.fleet.store().unwrap();
        let _ = s
            .try_lease(
                &slot_for(&s, &*apikey(k, &iam)).unwrap(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    let mut needles: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    for t in &texts {
        needles.push(t.clone());
        // Each part of the JWT on its own (its claims, its signature).
        needles.extend(t.split('.').filter(|p| p.len() > 8).map(str::to_string));
    }
    needles.push(iam.url.clone());
    needles.push("access_token".into());
    let names = all_keys(&srv).await;
    assert_eq!(names.len(), 4, "{names:?}");
    let mut raw = srv.raw().await;
    for name in names {
        let value: Vec<u8> = raw.get(&name).await.unwrap();
        for n in &needles {
            let n = n.as_bytes();
            assert!(!name.as_bytes().windows(n.len()).any(|w| w == n));
            assert!(!value.windows(n.len()).any(|w| w == n));
        }
    }
}

/// An API key source that says it shares otherwise.
struct Sharer {
    inner: ApikeySource,
    profile: Option<&'static str>,
}

impl TokenSource for Sharer {
    fn key(&self) -> &SourceKey {
        self.inner.key()
    }
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        self.inner.fetch()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn sharing(&self) -> Sharing {
        match self.profile {
            Some(p) => Sharing::WithStoreKey {
                identity: Secret::new(p),
            },
            None => Sharing::Never,
        }
    }
}

fn sharer(key: &str, iam: &FakeIam, profile: Option<&'static str>) -> Arc<Sharer> {
    Arc::new(Sharer {
        inner: ApikeySource::new(Secret::new(key), cfg(iam)).unwrap(),
        profile,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_share_as_they_say() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let url = srv.url();
    let get = |p: &Proc, s: Arc<Sharer>| {
        let e = p.entry(s);
        let cache = p.cache.clone();
        async move { text(&cache.get(&e).await.unwrap()) }
    };
    // Never: each process asks, nothing is written.
    get(&proc(&url), sharer("bearer", &iam, None)).await;
    get(&proc(&url), sharer("bearer", &iam, None)).await;
    assert_eq!(iam.hits(), 2);
    assert!(all_keys(&srv).await.is_empty());
    // Per-process credentials without a store secret: the same.
    get(&proc(&url), sharer("pod-1", &iam, Some("Profile-a"))).await;
    get(&proc(&url), sharer("pod-2", &iam, Some("Profile-a"))).await;
    assert_eq!(iam.hits(), 4);
    assert!(all_keys(&srv).await.is_empty());
    // With the secret: shared per profile, whatever the per-pod credential...
    let secret = Some("fleet-secret-0123456789abcdef");
    let t1 = get(
        &proc_with(&url, secret),
        sharer("pod-1", &iam, Some("Profile-a")),
    )
    .await;
    let t2 = get(
        &proc_with(&url, secret),
        sharer("pod-2", &iam, Some("Profile-a")),
    )
    .await;
    assert_eq!(t1, t2);
    assert_eq!(iam.hits(), 5);
    // ...but not across profiles, nor with another secret.
    let t3 = get(
        &proc_with(&url, secret),
        sharer("pod-1", &iam, Some("Profile-b")),
    )
    .await;
    let other = Some("another-secret-0123456789abcdef");
    let t4 = get(
        &proc_with(&url, other),
        sharer("pod-1", &iam, Some("Profile-a")),
    )
    .await;
    assert!(t3 != t1 && t4 != t1 && t3 != t4);
    assert_eq!(iam.hits(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_fetch_by_themselves_when_the_lease_holder_dies() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let b = proc(&srv.url());
    // A process took the lease (for a short while) and died.
    let s = quick_store(&srv.url(), None);
    let slot = slot_for(&s, &*apikey("k", &iam)).unwrap();
    let _dead = s
        .try_lease(&slot, Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    b.token("k", &iam).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(iam.hits(), 1);
    assert_eq!(b.cache.fleet_stats().leases_won, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_keeps_its_lease_through_a_slow_fetch() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let (a, b) = (proc(&srv.url()), proc(&srv.url()));
    for p in [&a, &b] {
        *p.cache.fleet.lease.lock() = (Duration::from_millis(500), Duration::from_millis(100));
    }
    // IAM takes three lease lives to answer a (a renewal may come 400 ms
    // late on a loaded machine and still hold the lease).
    iam.push(Reply::Delay(Duration::from_millis(1500)));
    let ea = a.entry(apikey("k", &iam));
    let first = {
        let cache = a.cache.clone();
        tokio::spawn(async move { cache.get(&ea).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tb = b.token("k", &iam).await;
    let ta = first.await.unwrap();
    assert_eq!(text(&ta), text(&tb));
    assert_eq!(iam.hits(), 1);
}

#[test]
fn store_settings_from_the_environment() {
    use std::env::VarError;
    let from = |url: Option<&str>, key: Option<&str>| {
        store_from_vars(|name| {
            let v = if name == "WML_NATIVE_TOKEN_STORE" {
                url
            } else {
                key
            };
            v.map(str::to_string).ok_or(VarError::NotPresent)
        })
    };
    assert!(from(None, None).unwrap().is_none());
    assert!(from(Some("  "), None).unwrap().is_none());
    let s = from(Some("redis://:pw-NEVER-SHOWN@127.0.0.1:6380/2"), None)
        .unwrap()
        .unwrap();
    assert_eq!(s.target(), "redis://127.0.0.1:6380/2");
    let s = from(Some("redis://127.0.0.1/0"), Some("fleet-secret-0123456789"))
        .unwrap()
        .unwrap();
    assert!(s.secret_slot(b"x").is_some());
    for (url, key, says) in [
        (
            None,
            Some("fleet-secret-0123456789"),
            "WML_NATIVE_TOKEN_STORE_KEY is set but WML_NATIVE_TOKEN_STORE is not",
        ),
        (
            Some("http://:pw-NEVER-SHOWN@h/0"),
            None,
            "unsupported scheme",
        ),
        (
            Some("redis://:pw-NEVER-SHOWN@h/0"),
            Some("short"),
            "at least 16",
        ),
    ] {
        let e = from(url, key).unwrap_err();
        assert!(
            e.contains(says) && e.contains("the token store is off"),
            "{e}"
        );
        assert!(!e.contains("NEVER-SHOWN") && !e.contains("short"), "{e}");
    }
    let e = store_from_vars(|_| Err(VarError::NotUnicode("x".into()))).unwrap_err();
    assert!(e.contains("not valid UTF-8"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_can_be_replaced_and_turned_off() {
    let (srv, iam) = (RedisServer::start(&[]).await, FakeIam::start().await);
    let a = proc("redis://127.0.0.1:1/0");
    assert_eq!(
        a.cache.store_target().as_deref(),
        Some("redis://127.0.0.1:1/0")
    );
    a.cache.set_store(Some(quick_store(&srv.url(), None)));
    a.token("k", &iam).await;
    assert_eq!(a.cache.fleet_stats().leases_won, 1);
    assert_eq!(a.cache.fleet_stats().errors, 0);
    a.cache.set_store(None);
    assert_eq!(a.cache.store_target(), None);
    a.token("k2", &iam).await;
    assert_eq!(
        all_keys(&srv).await.len(),
        1,
        "nothing written without a store"
    );
    assert_eq!(a.cache.fleet_stats().misses, 1);
}

#[test]
fn each_kind_shares_as_the_docs_say() {
    use crate::auth::container::{ContainerOptions, ContainerSource};
    use crate::auth::cp4d::{Cp4dOptions, Cp4dSource};
    use crate::auth::profile::ProfileOptions;
    use crate::auth::vpc::{VpcOptions, VpcSource};
    let plain = Store::new(StoreOptions::new("redis://127.0.0.1:1/0")).unwrap();
    let keyed = Store::new(StoreOptions {
        secret: Some(Secret::new("fleet-secret-0123456789abcdef")),
        ..StoreOptions::new("redis://127.0.0.1:1/0")
    })
    .unwrap();
    let name = |store: &Store, s: &dyn TokenSource| slot_for(store, s).map(|s| s.key().to_string());
    let id = |v: &str| ProfileOptions {
        id: Some(v.into()),
        ..Default::default()
    };
    let container = |file: &str, profile: ProfileOptions| {
        ContainerSource::new(&ContainerOptions {
            cr_token_filename: Some(file.into()),
            profile,
            iam: IamOptions {
                url: Some("https://iam.example.test".into()),
                ..Default::default()
            },
        })
        .unwrap()
    };
    let vpc = |profile: ProfileOptions| {
        VpcSource::new(&VpcOptions {
            url: Some("http://127.0.0.1:1".into()),
            profile,
            ..Default::default()
        })
        .unwrap()
    };

    // Per-pod credentials: only with the secret, per profile, whatever the file.
    let (pod1, pod2) = (
        container("/a/token", id("Profile-1")),
        container("/b/token", id("Profile-1")),
    );
    assert_eq!(name(&plain, &pod1), None);
    assert!(name(&keyed, &pod1).is_some());
    assert_eq!(name(&keyed, &pod1), name(&keyed, &pod2));
    assert_ne!(
        name(&keyed, &pod1),
        name(&keyed, &container("/a/token", id("Profile-2")))
    );
    assert_eq!(name(&plain, &vpc(id("Profile-1"))), None);
    assert!(name(&keyed, &vpc(id("Profile-1"))).is_some());
    assert_ne!(
        name(&keyed, &vpc(id("Profile-1"))),
        name(&keyed, &pod1),
        "kinds apart"
    );
    // A VPC instance's default profile differs from instance to instance.
    assert_eq!(name(&keyed, &vpc(ProfileOptions::default())), None);

    // Shared credentials: with or without the secret, by the credential.
    let cp4d = |password: &str| {
        Cp4dSource::new(&Cp4dOptions {
            url: Some("https://cpd.example.test".into()),
            username: Some("admin".into()),
            password: Some(Secret::new(password)),
            ..Default::default()
        })
        .unwrap()
    };
    assert!(name(&plain, &cp4d("pw-1")).is_some());
    assert_eq!(name(&plain, &cp4d("pw-1")), name(&keyed, &cp4d("pw-1")));
    assert_ne!(name(&plain, &cp4d("pw-1")), name(&plain, &cp4d("pw-2")));
}
