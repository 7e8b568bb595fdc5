use super::*;
use crate::auth::cache::ManualClock;
use crate::testutil::{FakeIam, Reply};

fn cache() -> Arc<TokenCache> {
    TokenCache::new(
        Arc::new(ManualClock::default()),
        10,
        tokio::runtime::Handle::current(),
    )
}

fn options(url: &str, p: ProfileOptions) -> AssumeOptions {
    AssumeOptions {
        apikey: Secret::new("assume-apikey-secret"),
        profile: p,
        iam: IamOptions {
            url: Some(url.into()),
            client_id: Some("bx".into()),
            client_secret: Some(Secret::new("bx-secret")),
            scope: Some("openid".into()),
            ..Default::default()
        },
    }
}

fn id(v: &str) -> ProfileOptions {
    ProfileOptions {
        id: Some(v.into()),
        ..Default::default()
    }
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_profile_rules() {
    let c = cache();
    let url = "https://iam.cloud.ibm.com";
    let bad = [
        ProfileOptions::default(),
        ProfileOptions {
            id: Some("a".into()),
            crn: Some("b".into()),
            ..Default::default()
        },
        ProfileOptions {
            name: Some("n".into()),
            ..Default::default()
        },
        ProfileOptions {
            id: Some("a".into()),
            account: Some("acc".into()),
            ..Default::default()
        },
    ];
    for p in bad {
        let e = AssumeSource::new(&options(url, p.clone()), &c).err();
        assert_eq!(e.map(|e| e.code()), Some("ERR_INVALID_ARG"), "{p:?}");
    }
    let mut empty_key = options(url, id("a"));
    empty_key.apikey = Secret::default();
    assert!(AssumeSource::new(&empty_key, &c).is_err());
    let by_name = ProfileOptions {
        name: Some("n".into()),
        account: Some("acc".into()),
        ..Default::default()
    };
    assert!(AssumeSource::new(&options(url, by_name), &c).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apikey_token_through_the_cache_then_the_assume_grant() {
    let iam = FakeIam::start().await;
    let c = cache();
    let src = Arc::new(AssumeSource::new(&options(&iam.url, id("Profile-7")), &c).unwrap());
    let t = c.get(&c.entry(src.clone())).await.unwrap();
    let reqs = iam.token_requests.lock().clone();
    assert_eq!(reqs.len(), 2);
    let first = form(&reqs[0].1);
    assert!(first.contains(&("apikey".into(), "assume-apikey-secret".into())));
    assert!(first.contains(&("scope".into(), "openid".into())));
    assert!(reqs[0]
        .0
        .to_ascii_lowercase()
        .contains("authorization: basic"));
    let second = form(&reqs[1].1);
    let names: Vec<&str> = second.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["grant_type", "access_token", "profile_id"]);
    assert_eq!(second[0].1, ASSUME_GRANT);
    assert_eq!(second[2].1, "Profile-7");
    assert!(
        !reqs[1].0.to_ascii_lowercase().contains("authorization:"),
        "no client credentials on the assume step"
    );
    // The API key token is an ordinary cache entry: an IamAuthenticator with
    // the same key and settings gets it without a request.
    let inner = ApikeySource::new(
        Secret::new("assume-apikey-secret"),
        IamConfig::new(&options(&iam.url, id("x")).iam).unwrap(),
    )
    .unwrap();
    let user = c.peek(inner.key()).expect("the apikey token is cached");
    assert_eq!(second[1].1, user.access_token.expose());
    assert_ne!(user.access_token.expose(), t.access_token.expose());

    // A refresh of the assumed token reuses the cached API key token.
    c.invalidate(&c.entry(src.clone()), None);
    c.get(&c.entry(src)).await.unwrap();
    assert_eq!(iam.hits(), 3);
}

#[tokio::test]
async fn a_refused_profile_is_iams_error_without_secrets() {
    let iam = FakeIam::start().await;
    let c = cache();
    let src = Arc::new(
        AssumeSource::new(
            &options(
                &iam.url,
                ProfileOptions {
                    name: Some("p".into()),
                    account: Some("acc-1".into()),
                    ..Default::default()
                },
            ),
            &c,
        )
        .unwrap(),
    );
    iam.push(Reply::Token(3600));
    iam.push(Reply::Raw(
        400,
        "application/json",
        r#"{"errorCode":"BXNIM0398E","errorMessage":"Selected trusted profile not eligible. key assume-apikey-secret","context":{"requestId":"r-9"}}"#.into(),
        None,
    ));
    let e = c.get(&c.entry(src.clone())).await.unwrap_err();
    assert_eq!(e.code(), "ERR_IAM");
    assert!(e.message().contains("BXNIM0398E"));
    assert!(!e.message().contains("assume-apikey-secret"));
    let sent = form(&iam.token_requests.lock()[1].1);
    assert!(sent.contains(&("profile_name".into(), "p".into())));
    assert!(sent.contains(&("account".into(), "acc-1".into())));
    assert!(!src.describe().contains("assume-apikey-secret"));
    assert!(!format!("{:?}", options(&iam.url, id("x"))).contains("assume-apikey-secret"));
    assert!(!format!("{:?}", options(&iam.url, id("x"))).contains("bx-secret"));
}
