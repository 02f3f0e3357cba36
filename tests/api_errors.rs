//! The helpdesk API refuses what makes no sense, each time with its status and a JSON error
//! a program can branch on: `404` for ids that name nothing, `400` for malformed ids,
//! parameters and bodies, `405`, `409`, `413`, `415`; never a `500`.

mod common;

use common::http::*;
use serde_json::json;

#[test]
fn every_endpoint_says_404_for_an_unknown_id_and_400_for_a_malformed_one() {
    let (srv, api_key) = api_server(|_| {});
    let key = Some(api_key.as_str());
    let unknown = "01234567-89ab-4def-8123-456789abcdef";
    for path in [
        format!("/api/v1/conversations/{unknown}"),
        format!("/api/v1/conversations/{unknown}/messages"),
        "/api/v1/messages/999999".to_string(),
        "/api/v1/messages/999999/raw".to_string(),
        "/api/v1/attachments/999999".to_string(),
        "/api/v1/nothing/here".to_string(),
    ] {
        api_get(&srv, key, &path).assert_api_error(404, "not_found");
    }
    api_post_json(
        &srv,
        key,
        &format!("/api/v1/conversations/{unknown}/close"),
        &json!({}),
    )
    .assert_api_error(404, "not_found");
    api_post_json(
        &srv,
        key,
        &format!("/api/v1/conversations/{unknown}/rotate"),
        &json!({}),
    )
    .assert_api_error(404, "not_found");
    api_post_json(
        &srv,
        key,
        &format!("/api/v1/conversations/{unknown}/allowed_senders"),
        &json!({"address": "carol@example.org"}),
    )
    .assert_api_error(404, "not_found");
    api_request(
        api_addr(&srv),
        key,
        "POST",
        &format!("/api/v1/conversations/{unknown}/outgoing"),
        Some("message/rfc822"),
        b"From: a@b\r\n\r\nx\r\n".to_vec(),
    )
    .assert_api_error(404, "not_found");
    for bad in [
        "not-a-uuid",
        "01234567-89AB-4DEF-8123-456789ABCDEF",
        "%FF%FE",
    ] {
        for path in [
            format!("/api/v1/conversations/{bad}"),
            format!("/api/v1/conversations/{bad}/messages"),
        ] {
            api_get(&srv, key, &path).assert_api_error(400, "invalid_id");
        }
    }
    for bad in ["abc", "0", "-1", "99999999999999999999999", "1.5"] {
        for path in [
            format!("/api/v1/messages/{bad}"),
            format!("/api/v1/messages/{bad}/raw"),
            format!("/api/v1/attachments/{bad}"),
        ] {
            api_get(&srv, key, &path).assert_api_error(400, "invalid_id");
        }
    }
    let c = api_conversation(&srv, &api_key);
    let uuid = c["uuid"].as_str().unwrap();
    for query in ["limit=0", "limit=abc", "after=-1", "after=1e3"] {
        api_get(
            &srv,
            key,
            &format!("/api/v1/conversations/{uuid}/messages?{query}"),
        )
        .assert_api_error(400, "invalid_parameter");
    }
    for query in ["after=-1", "wait=-5", "wait=x", "limit=0"] {
        api_get(&srv, key, &format!("/api/v1/events?{query}"))
            .assert_api_error(400, "invalid_parameter");
    }
    api_get(&srv, key, "/api/v1/inbox?before=0").assert_api_error(400, "invalid_parameter");
    api_get(&srv, key, "/api/v1/conversations").assert_api_error(400, "missing_parameter");
    // A limit past the cap is cut, not refused.
    let capped = api_get(
        &srv,
        key,
        &format!("/api/v1/conversations/{uuid}/messages?limit=100000"),
    );
    assert_eq!(capped.status, 200, "{}", capped.body);

    // Bodies.
    let create = |body: &[u8], content_type: &str| {
        api_request(
            api_addr(&srv),
            key,
            "POST",
            "/api/v1/conversations",
            Some(content_type),
            body.to_vec(),
        )
    };
    create(b"{not json", "application/json").assert_api_error(400, "invalid_body");
    create(b"[]", "application/json").assert_api_error(400, "invalid_body");
    create(
        br#"{"contact":"bob@example.org","colour":"red"}"#,
        "application/json",
    )
    .assert_api_error(400, "invalid_body");
    create(br#"{"channel":"web"}"#, "application/json").assert_api_error(400, "invalid_body");
    for contact in [
        "",
        "bob",
        "bob@",
        "<bob@example.org>",
        "bob @example.org",
        "a@b@c",
    ] {
        create(
            json!({ "contact": contact }).to_string().as_bytes(),
            "application/json",
        )
        .assert_api_error(400, "invalid_body");
    }
    create(
        br#"{"contact":"bob@example.org","channel":"no spaces"}"#,
        "application/json",
    )
    .assert_api_error(400, "invalid_body");
    create(
        br#"{"contact":"bob@example.org","external_id":""}"#,
        "application/json",
    )
    .assert_api_error(400, "invalid_body");
    create(
        br#"{"contact":"bob@example.org","domain":"evil.example"}"#,
        "application/json",
    )
    .assert_api_error(400, "unknown_domain");
    create(br#"{"contact":"bob@example.org"}"#, "text/plain")
        .assert_api_error(415, "unsupported_media_type");
    let huge = json!({ "contact": "bob@example.org", "subject": "x".repeat(100_000) });
    create(huge.to_string().as_bytes(), "application/json").assert_api_error(413, "too_large");
    // The second domain, named in another case, is accepted.
    let other = create(
        br#"{"contact":"bob@example.org","domain":"HELP.example.org"}"#,
        "application/json",
    );
    assert_eq!(other.status, 201, "{}", other.body);
    assert!(other.json()["reply_address"]
        .as_str()
        .unwrap()
        .ends_with("@help.example.org"));

    // Outgoing: not a message, wrong type, too large.
    let outgoing = format!("/api/v1/conversations/{uuid}/outgoing");
    let post = |body: &[u8], content_type: &str| {
        api_request(
            api_addr(&srv),
            key,
            "POST",
            &outgoing,
            Some(content_type),
            body.to_vec(),
        )
    };
    post(b"", "message/rfc822").assert_api_error(400, "invalid_message");
    post(b"just some text\r\n", "message/rfc822").assert_api_error(400, "invalid_message");
    post(b"From: a@b\r\n\r\nx\r\n", "text/plain").assert_api_error(415, "unsupported_media_type");
    // A wrong method is 405, as JSON.
    api_request(
        api_addr(&srv),
        key,
        "DELETE",
        &format!("/api/v1/conversations/{uuid}"),
        None,
        vec![],
    )
    .assert_api_error(405, "method_not_allowed");
}

#[test]
fn outgoing_mail_past_the_message_size_limit_is_413() {
    let (srv, key) = api_server(|c| c.limits.max_message_size = 10_000);
    let c = api_conversation(&srv, &key);
    let mut big =
        b"From: Alice <alice@support.example.com>\r\nTo: bob@example.org\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 20_000));
    api_request(
        api_addr(&srv),
        Some(&key),
        "POST",
        &format!(
            "/api/v1/conversations/{}/outgoing",
            c["uuid"].as_str().unwrap()
        ),
        Some("message/rfc822"),
        big,
    )
    .assert_api_error(413, "too_large");
}

#[test]
fn every_endpoint_needs_a_key() {
    let (srv, key) = api_server(|_| {});
    let c = api_conversation(&srv, &key);
    let uuid = c["uuid"].as_str().unwrap();
    let endpoints = [
        ("POST", "/api/v1/conversations".to_string()),
        ("GET", "/api/v1/conversations?external_id=x".to_string()),
        ("GET", format!("/api/v1/conversations/{uuid}")),
        ("POST", format!("/api/v1/conversations/{uuid}/close")),
        (
            "POST",
            format!("/api/v1/conversations/{uuid}/allowed_senders"),
        ),
        ("POST", format!("/api/v1/conversations/{uuid}/rotate")),
        ("GET", format!("/api/v1/conversations/{uuid}/messages")),
        ("POST", format!("/api/v1/conversations/{uuid}/outgoing")),
        ("GET", "/api/v1/messages/1".to_string()),
        ("GET", "/api/v1/messages/1/raw".to_string()),
        ("GET", "/api/v1/attachments/1".to_string()),
        ("GET", "/api/v1/inbox".to_string()),
        ("GET", "/api/v1/events?wait=5".to_string()),
        ("GET", "/api/v1/openapi.json".to_string()),
    ];
    for (method, path) in &endpoints {
        for bad in [
            None,
            Some("rk_0123456789ab_not-a-key"),
            Some("not even a key"),
        ] {
            api_request(api_addr(&srv), bad, method, path, None, vec![])
                .assert_api_error(401, "unauthorized");
        }
    }
    // Nothing was done on the way: the conversation is still open.
    let shown = api_get(&srv, Some(&key), &format!("/api/v1/conversations/{uuid}"));
    assert_eq!(shown.json()["status"], "open");
}
