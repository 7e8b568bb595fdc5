use super::*;
use crate::testutil::{FakeIam, Reply};

fn options(url: &str, p: ProfileOptions) -> VpcOptions {
    VpcOptions {
        url: Some(url.into()),
        profile: p,
        transport: TransportOptions {
            max_retries: Some(0.0),
            ..Default::default()
        },
    }
}

#[test]
fn metadata_urls() {
    assert_eq!(metadata_url(None).unwrap(), DEFAULT_VPC_URL);
    assert_eq!(metadata_url(Some("")).unwrap(), DEFAULT_VPC_URL);
    for ok in [
        "http://169.254.169.254/",
        "http://api.metadata.cloud.ibm.com",
        "https://api.metadata.cloud.ibm.com",
        "http://127.0.0.1:8080",
    ] {
        assert!(metadata_url(Some(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "http://example.com",
        "ftp://169.254.169.254",
        "http://user:pw@169.254.169.254",
        "nope",
    ] {
        assert_eq!(
            metadata_url(Some(bad)).unwrap_err().code(),
            "ERR_INVALID_ARG",
            "{bad}"
        );
    }
}

#[test]
fn defaults_construct_without_contacting_anything_and_profiles_are_at_most_one() {
    // Construction is synchronous and does no I/O: the link-local default
    // is only contacted when a token is asked for.
    let s = VpcSource::new(&VpcOptions::default()).unwrap();
    assert_eq!(s.base, DEFAULT_VPC_URL);
    assert_eq!(s.transport.timeout, DEFAULT_TIMEOUT);
    let two = ProfileOptions {
        id: Some("a".into()),
        crn: Some("b".into()),
        ..Default::default()
    };
    assert!(VpcSource::new(&options("http://127.0.0.1:1", two)).is_err());
    let a = VpcSource::new(&options(
        "http://127.0.0.1:1",
        ProfileOptions {
            id: Some("a".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    let b = VpcSource::new(&options(
        "http://127.0.0.1:1",
        ProfileOptions {
            crn: Some("a".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    let none = VpcSource::new(&options("http://127.0.0.1:1", ProfileOptions::default())).unwrap();
    assert!(!a.key().matches(b.key()));
    assert!(!a.key().matches(none.key()));
}

#[tokio::test]
async fn identity_token_then_iam_token_for_the_profile() {
    let srv = FakeIam::start().await;
    let src = VpcSource::new(&options(
        &srv.url,
        ProfileOptions {
            crn: Some("crn:v1:profile".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    let f = src.fetch().await.unwrap();
    let reqs = srv.token_requests.lock().clone();
    assert_eq!(reqs.len(), 2);
    let (h1, b1) = (&reqs[0].0, &reqs[0].1);
    assert!(
        h1.starts_with("PUT /instance_identity/v1/token?version=2022-03-01 "),
        "{h1}"
    );
    assert!(h1.to_ascii_lowercase().contains("metadata-flavor: ibm"));
    assert_eq!(b1, r#"{"expires_in":300}"#);
    let (h2, b2) = (&reqs[1].0, &reqs[1].1);
    assert!(
        h2.starts_with("POST /instance_identity/v1/iam_token?version=2022-03-01 "),
        "{h2}"
    );
    let h2l = h2.to_ascii_lowercase();
    assert!(h2l.contains("metadata-flavor: ibm"));
    assert!(
        h2l.contains("authorization: bearer ey"),
        "the identity token is the bearer"
    );
    assert_eq!(b2, r#"{"trusted_profile":{"crn":"crn:v1:profile"}}"#);
    assert!(!f.access_token.is_empty());

    // Without a profile: no body (the instance's default linked profile).
    let src = VpcSource::new(&options(&srv.url, ProfileOptions::default())).unwrap();
    src.fetch().await.unwrap();
    assert_eq!(srv.token_requests.lock()[3].1, "");
}

#[tokio::test]
async fn refusals_are_auth_errors_with_the_services_fields() {
    let srv = FakeIam::start().await;
    srv.push(Reply::Token(300));
    srv.push(Reply::Raw(
        404,
        "application/json",
        r#"{"errors":[{"code":"trusted_profile_not_found","message":"The trusted profile p is not linked to this instance.","more_info":"https://cloud.ibm.com/docs/vpc"}],"trace":"tr-7","status_code":404}"#.into(),
        None,
    ));
    let src = VpcSource::new(&options(
        &srv.url,
        ProfileOptions {
            id: Some("p".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    match src.fetch().await.unwrap_err() {
        Error::Auth(f) => {
            assert_eq!(f.status, 404);
            assert_eq!(f.service, "vpc");
            assert_eq!(f.error_code.as_deref(), Some("trusted_profile_not_found"));
            assert_eq!(f.trace.as_deref(), Some("tr-7"));
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn a_silent_metadata_service_times_out() {
    let srv = FakeIam::start().await;
    srv.push(Reply::Delay(Duration::from_secs(5)));
    let mut o = options(&srv.url, ProfileOptions::default());
    o.transport.timeout_ms = Some(200.0);
    let src = VpcSource::new(&o).unwrap();
    let t0 = std::time::Instant::now();
    let e = src.fetch().await.unwrap_err();
    assert_eq!(e.code(), "ERR_TIMEOUT");
    assert!(t0.elapsed() < Duration::from_secs(3));
}
