use super::*;

#[test]
fn trace_headers_keep_valid_ones_and_never_replace_the_requests_own() {
    let h = |k: &str, v: &str| (k.to_string(), v.to_string());
    let t = CallTrace::new(
        "0af7651916cd43dd8448eb211c80319c".into(),
        &[
            h(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            h("tracestate", "congo=t61rcWkgMzE"),
            h("Authorization", "Bearer stolen"),
            h("content-type", "text/plain"),
            h("bad name", "x"),
            h("baggage", "a=1\r\nx-injected: 1"),
        ],
    );
    let names: Vec<&str> = t.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["traceparent", "tracestate"]);
    assert_eq!(
        format!("{}", Tag(Some(&t))),
        " trace=0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(format!("{}", Tag(None)), "");
}

#[test]
fn a_report_is_taken_once_and_later_records_go_nowhere() {
    let t = CallTrace::new(String::new(), &[]);
    t.answered(429);
    t.retry(
        &Error::Wml {
            status: 429,
            message: "busy".into(),
            errors: None,
            trace: None,
        },
        Duration::from_millis(250),
    );
    t.token_hit("iam");
    t.answered(200);
    let r = t.take();
    assert_eq!(r.status, Some(200));
    assert_eq!(r.resends, 1);
    assert_eq!(
        (r.token_hits, r.token_misses, r.auth_kind),
        (1, 0, Some("iam"))
    );
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(
        (e.name, e.status, e.error, e.ms),
        ("retry", Some(429), None, Some(250.0))
    );
    t.answered(500);
    assert_eq!(t.take(), Report::default());
}

#[test]
fn a_network_failure_is_reported_by_its_code() {
    let t = CallTrace::new(String::new(), &[]);
    t.retry(&Error::Network("reset".into()), Duration::ZERO);
    let e = &t.take().events[0];
    assert_eq!((e.status, e.error), (None, Some("ERR_NETWORK")));
}

#[test]
fn the_endpoint_is_the_origin_of_the_service_url() {
    assert_eq!(
        origin_of("https://iam.cloud.ibm.com").as_deref(),
        Some("https://iam.cloud.ibm.com")
    );
    assert_eq!(
        origin_of("http://169.254.169.254").as_deref(),
        Some("http://169.254.169.254")
    );
    assert_eq!(
        origin_of("https://cpd.example:8443/x/icp4d-api/v1/authorize").as_deref(),
        Some("https://cpd.example:8443")
    );
    assert_eq!(origin_of("no url here"), None);
}

#[tokio::test]
async fn a_fetch_started_by_a_traced_call_is_reported_to_it() {
    let t = Arc::new(CallTrace::new(String::new(), &[]));
    let w = within(Some(&t), async {
        FetchWatch::start("iam", Some("http://127.0.0.1:9"), false)
    })
    .await
    .expect("a traced call listens");
    w.finish(Some(&Error::Iam {
        status: 400,
        message: "bad key".into(),
        iam_error_code: None,
        request_id: None,
    }));
    let r = t.take();
    assert_eq!(r.fetches.len(), 1);
    let f = &r.fetches[0];
    assert_eq!(
        (f.kind, f.background, f.status, f.error),
        ("iam", false, Some(400), Some("ERR_IAM"))
    );
    assert_eq!(f.endpoint.as_deref(), Some("http://127.0.0.1:9"));
    assert!(f.end_ms >= f.start_ms);
    // Background refreshes never belong to the call that happened to start them.
    let bg = within(Some(&t), async { FetchWatch::start("iam", None, true) }).await;
    assert!(bg.is_none(), "nobody listens to background refreshes here");
}

#[tokio::test]
async fn a_fetch_is_timed_from_its_request_not_from_its_start() {
    let t = Arc::new(CallTrace::new(String::new(), &[]));
    let w = within(Some(&t), async {
        FetchWatch::start("iam", Some("http://127.0.0.1:9"), false)
    })
    .await
    .expect("a traced call listens");
    // A wait on the token store, say: not part of the request.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let begun = now_ms();
    w.begin().finish(None);
    let f = &t.take().fetches[0];
    assert!(f.start_ms >= begun, "{} < {begun}", f.start_ms);
    assert!(f.end_ms >= f.start_ms);
}
