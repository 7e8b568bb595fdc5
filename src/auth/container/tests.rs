use super::*;
use crate::auth::cache::{ManualClock, TokenCache};
use crate::http::TransportOptions;
use crate::testutil::{FakeIam, Reply};
use std::sync::Arc;

fn tmp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wml-native-container-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn options(url: &str, file: Option<&Path>, id: Option<&str>) -> ContainerOptions {
    ContainerOptions {
        cr_token_filename: file.map(|f| f.to_string_lossy().into_owned()),
        profile: ProfileOptions {
            id: id.map(str::to_string),
            ..Default::default()
        },
        iam: IamOptions {
            url: Some(url.to_string()),
            transport: TransportOptions {
                max_retries: Some(0.0),
                ..Default::default()
            },
            ..Default::default()
        },
    }
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn a_profile_is_required() {
    let e = ContainerSource::new(&options("https://iam.cloud.ibm.com", None, None))
        .err()
        .unwrap();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert!(e.message().contains("iamProfileId"), "{}", e.message());
    // An empty string counts as absent.
    let e = ContainerSource::new(&options("https://iam.cloud.ibm.com", None, Some(" ")));
    assert!(e.is_err());
}

#[test]
fn missing_empty_and_unreadable_files_name_the_file_never_its_contents() {
    let missing = std::env::temp_dir().join("wml-native-no-such-cr-token");
    let e = read_token_file(&missing).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert!(
        e.message().contains(&*missing.to_string_lossy()),
        "{}",
        e.message()
    );
    assert!(e.message().contains("no such file"), "{}", e.message());

    let empty = tmp_file("empty", " \n");
    let e = read_token_file(&empty).unwrap_err();
    assert!(e.message().contains("empty"), "{}", e.message());

    let dir = empty.parent().unwrap();
    let e = read_token_file(dir).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");

    let big = tmp_file("big", &"x".repeat(MAX_CR_TOKEN as usize + 10));
    let e = read_token_file(&big).unwrap_err();
    assert!(e.message().contains("larger"), "{}", e.message());
    assert!(!e.message().contains("xxxx"));

    let ok = tmp_file("ok", "  cr-token-secret-value\n");
    assert_eq!(
        read_token_file(&ok).unwrap().expose(),
        "cr-token-secret-value"
    );
}

#[test]
fn the_key_is_the_path_profile_and_settings_not_the_token() {
    let a = tmp_file("key-a", "token-one");
    let url = "https://iam.cloud.ibm.com";
    let k1 = ContainerSource::new(&options(url, Some(&a), Some("Profile-1")))
        .unwrap()
        .key()
        .clone();
    std::fs::write(&a, "token-two").unwrap();
    let k2 = ContainerSource::new(&options(url, Some(&a), Some("Profile-1")))
        .unwrap()
        .key()
        .clone();
    assert!(k1.matches(&k2), "a rotated file is the same identity");
    let other_profile = ContainerSource::new(&options(url, Some(&a), Some("Profile-2"))).unwrap();
    assert!(!k1.matches(other_profile.key()));
    let other_file = ContainerSource::new(&options(
        url,
        Some(&tmp_file("key-b", "t")),
        Some("Profile-1"),
    ))
    .unwrap();
    assert!(!k1.matches(other_file.key()));
    let default_files = ContainerSource::new(&options(url, None, Some("Profile-1"))).unwrap();
    assert!(!k1.matches(default_files.key()));
    let other_url = ContainerSource::new(&options(
        "https://iam.test.cloud.ibm.com",
        Some(&a),
        Some("Profile-1"),
    ))
    .unwrap();
    assert!(!k1.matches(other_url.key()));
    let mut by_name = options(url, Some(&a), None);
    by_name.profile.name = Some("Profile-1".into());
    let by_name = ContainerSource::new(&by_name).unwrap();
    assert!(
        !k1.matches(by_name.key()),
        "an id and a name with equal text differ"
    );
}

#[tokio::test]
async fn sends_the_cr_token_grant_and_reads_the_file_at_every_request() {
    let iam = FakeIam::start().await;
    let file = tmp_file("rotating", "first-cr-token\n");
    let mut o = options(&iam.url, Some(&file), Some("Profile-1"));
    o.profile.name = Some("my-profile".into());
    o.iam.scope = Some("a b".into());
    let src = ContainerSource::new(&o).unwrap();
    src.fetch().await.unwrap();
    let sent = form(&iam.last_body.lock());
    let pairs: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("grant_type", CR_TOKEN_GRANT),
            ("cr_token", "first-cr-token"),
            ("profile_name", "my-profile"),
            ("profile_id", "Profile-1"),
            ("scope", "a b"),
        ]
    );
    std::fs::write(&file, "second-cr-token").unwrap();
    src.fetch().await.unwrap();
    assert!(iam.last_body.lock().contains("cr_token=second-cr-token"));
    assert_eq!(iam.hits(), 2);
}

#[tokio::test]
async fn iam_refusals_are_iam_errors_without_the_cr_token() {
    let iam = FakeIam::start().await;
    iam.push(Reply::Raw(
        400,
        "application/json",
        r#"{"errorCode":"BXNIM0398E","errorMessage":"Selected trusted profile not eligible for cr token secret-cr-token-1","context":{"requestId":"r"}}"#.into(),
        None,
    ));
    let file = tmp_file("refused", "secret-cr-token-1");
    let src = ContainerSource::new(&options(&iam.url, Some(&file), Some("Profile-x"))).unwrap();
    let e = src.fetch().await.unwrap_err();
    assert_eq!(e.code(), "ERR_IAM");
    assert!(
        !e.message().contains("secret-cr-token-1"),
        "{}",
        e.message()
    );
    assert!(!format!("{e:?}").contains("secret-cr-token-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_callers_share_one_request_and_a_missing_file_fails_at_once() {
    let iam = FakeIam::start().await;
    iam.push(Reply::Delay(std::time::Duration::from_millis(50)));
    let cache = TokenCache::new(
        Arc::new(ManualClock::default()),
        10,
        tokio::runtime::Handle::current(),
    );
    let file = tmp_file("shared", "shared-cr-token");
    let mut tasks = Vec::new();
    for _ in 0..2000 {
        let src =
            Arc::new(ContainerSource::new(&options(&iam.url, Some(&file), Some("P"))).unwrap());
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            let e = cache.entry(src);
            cache.get(&e).await.map(|t| t.serial)
        }));
    }
    let mut serials = std::collections::HashSet::new();
    for t in tasks {
        serials.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(serials.len(), 1);
    assert_eq!(iam.hits(), 1);

    let gone = std::env::temp_dir().join("wml-native-container-gone");
    let src = Arc::new(ContainerSource::new(&options(&iam.url, Some(&gone), Some("P"))).unwrap());
    let e = cache.get(&cache.entry(src.clone())).await.unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    // The next caller asks again at once (no parked queue, unlike sdk-core).
    let e2 = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        cache.get(&cache.entry(src)),
    )
    .await
    .expect("the second caller is not parked")
    .unwrap_err();
    assert_eq!(e2.code(), "ERR_INVALID_ARG");
    assert_eq!(iam.hits(), 1, "nothing was sent for the missing file");
}
