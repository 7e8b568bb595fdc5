use super::*;

#[test]
fn json_carries_code_status_and_service_fields() {
    let e = Error::Iam {
        status: 400,
        message: "Provided API key could not be found.".into(),
        iam_error_code: Some("BXNIM0415E".into()),
        request_id: Some("r-1".into()),
    };
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(v["code"], "ERR_IAM");
    assert_eq!(v["status"], 400);
    assert_eq!(v["iamErrorCode"], "BXNIM0415E");
    assert_eq!(v["requestId"], "r-1");

    let w = Error::Wml {
        status: 404,
        message: "not found".into(),
        errors: Some(r#"[{"code":"deployment_not_found","message":"not found"}]"#.into()),
        trace: Some("abc".into()),
    };
    let v: serde_json::Value = serde_json::from_str(&w.to_json()).unwrap();
    assert_eq!(v["code"], "ERR_WML");
    assert_eq!(v["errors"][0]["code"], "deployment_not_found");
    assert_eq!(v["trace"], "abc");
    assert_eq!(Error::Aborted.code(), "ERR_ABORTED");
    assert_eq!(Error::Timeout("t".into()).status(), None);
}
