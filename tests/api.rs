//! The helpdesk API against a real server: keys made and revoked with the CLI while it
//! runs, conversations created (and retried) over HTTP, replies delivered over SMTP and
//! read back through the API with their raw bytes and attachments, stamped outgoing mail
//! whose answer threads back, paging and the event long poll while mail arrives, and the
//! API on its own `[api] listen`.

mod common;

use common::http::*;
use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Instant;

#[test]
fn keys_are_made_listed_and_revoked_while_the_server_runs() {
    let (srv, key) = api_server(|_| {});
    // The key: one line, a recognisable prefix, URL-safe, long.
    assert!(key.starts_with("rk_"), "{key}");
    assert!(key.len() >= 50, "{key}");
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{key}"
    );
    // Only its hash is in the store.
    let stored = srv.block(srv.store.api_keys()).unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].sha256.is_empty() && stored[0].sha256 != key.as_bytes());

    for path in [
        "/api/v1/openapi.json",
        "/api/v1/inbox",
        "/api/v1/events",
        "/api/v1/no-such-endpoint",
    ] {
        api_get(&srv, None, path).assert_api_error(401, "unauthorized");
        let last = if key.ends_with('x') { 'y' } else { 'x' };
        let wrong = format!("{}{last}", &key[..key.len() - 1]);
        api_get(&srv, Some(&wrong), path).assert_api_error(401, "unauthorized");
        api_get(&srv, Some("rk_000000000000_nope"), path).assert_api_error(401, "unauthorized");
    }
    let no_bearer = request(
        api_addr(&srv),
        "GET",
        "/api/v1/inbox",
        &[("authorization", basic(&key))],
        vec![],
    );
    no_bearer.assert_api_error(401, "unauthorized");
    assert_eq!(api_get(&srv, Some(&key), "/api/v1/inbox").status, 200);

    // A second key works at once; revoking the first stops it at the next request.
    let second = create_api_key(&srv, "second helpdesk");
    assert_ne!(second, key);
    assert_eq!(api_get(&srv, Some(&second), "/api/v1/inbox").status, 200);
    let key_id = &key[3..15];
    let out = api_key_command(&srv, &["revoke", key_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api_get(&srv, Some(&key), "/api/v1/inbox").assert_api_error(401, "unauthorized");
    assert_eq!(api_get(&srv, Some(&second), "/api/v1/inbox").status, 200);

    let list = String::from_utf8(api_key_command(&srv, &["list"]).stdout).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with(key_id) && lines[0].contains("\trevoked "),
        "{list}"
    );
    assert!(
        lines[1].contains("second helpdesk") && lines[1].ends_with("\tactive"),
        "{list}"
    );
    assert!(
        !list.contains(&second[16..]),
        "the secret is never shown again"
    );
    // Revoking an unknown key says so.
    assert!(!api_key_command(&srv, &["revoke", "0123456789ab"])
        .status
        .success());
}

#[test]
fn create_retry_then_an_smtp_reply_its_raw_bytes_and_its_attachment() {
    let (srv, key) = api_server(|_| {});
    let created = api_create_conversation(&srv, &key, "bob@example.org", Some("ticket-7"));
    assert_eq!(created.status, 201, "{}", created.body);
    let c = created.json();
    let uuid = c["uuid"].as_str().unwrap().to_string();
    assert_eq!(c["external_id"], "ticket-7");
    assert_eq!(c["status"], "open");
    assert_eq!(c["contact"], "bob@example.org");
    assert_eq!(
        created.header("location"),
        Some(&*format!("/api/v1/conversations/{uuid}"))
    );
    let address = c["reply_address"].as_str().unwrap().to_string();
    assert!(address.starts_with("reply+") && address.ends_with(&format!("@{DOMAIN}")));

    // The helpdesk retries (it never saw the answer): the same conversation, 200.
    let again = api_create_conversation(&srv, &key, "bob@example.org", Some("ticket-7"));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["uuid"], uuid.as_str());
    assert_eq!(srv.stats().conversations, 1);
    let found = api_get(
        &srv,
        Some(&key),
        "/api/v1/conversations?external_id=ticket-7",
    )
    .json();
    assert_eq!(found["conversations"][0]["uuid"], uuid.as_str());
    let none = api_get(&srv, Some(&key), "/api/v1/conversations?external_id=other").json();
    assert_eq!(none["conversations"], json!([]));
    let shown = api_get(&srv, Some(&key), &format!("/api/v1/conversations/{uuid}"));
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["reply_address"], address.as_str());

    // The customer answers over SMTP, with a PDF.
    let pdf: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..70_000u32).map(|i| (i % 251) as u8))
        .collect();
    let raw = reply_with_attachment(
        &address,
        "answer-1@example.org",
        "Yes, the parcel arrived.",
        ("../../etc/passwd\u{202e}fdp.pdf", "application/pdf", &pdf),
    );
    let (code, text) = smtp_deliver(srv.addr, &address, &raw);
    assert_eq!(code, 250, "{text}");

    let page = api_get(
        &srv,
        Some(&key),
        &format!("/api/v1/conversations/{uuid}/messages"),
    )
    .json();
    assert_eq!(page["next"], Value::Null);
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let id = messages[0]["id"].as_i64().unwrap();

    let m = api_get(&srv, Some(&key), &format!("/api/v1/messages/{id}")).json();
    assert_eq!(m["conversation"], uuid.as_str());
    assert_eq!(m["direction"], "incoming");
    assert_eq!(m["reply_text"], "Yes, the parcel arrived.");
    assert_eq!(m["from"], "bob@example.org");
    assert_eq!(m["message_id"], "answer-1@example.org");
    assert_eq!(m["sender_is_contact"], true);
    assert_eq!(m["envelope"]["sender"], "bob@example.org");
    assert_eq!(m["raw_url"], format!("/api/v1/messages/{id}/raw").as_str());
    let attachment = &m["attachments"][0];
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["size"], pdf.len() as i64);
    assert_eq!(attachment["kept"], true);
    let safe = attachment["safe_filename"].as_str().unwrap();
    assert!(!safe.contains('/') && !safe.contains('\u{202e}'), "{safe}");

    // The raw bytes: our Received: header, then exactly the client's bytes.
    let raw_reply = api_get(&srv, Some(&key), m["raw_url"].as_str().unwrap());
    assert_eq!(raw_reply.status, 200);
    assert_eq!(raw_reply.header("content-type"), Some("message/rfc822"));
    assert!(raw_reply.bytes.starts_with(b"Received: "));
    assert!(raw_reply.bytes.ends_with(&raw));

    // The attachment: its bytes, its type, a download under a safe name, never sniffed.
    let file = api_get(&srv, Some(&key), attachment["url"].as_str().unwrap());
    assert_eq!(file.status, 200);
    assert_eq!(file.bytes, pdf);
    let length = pdf.len().to_string();
    assert_eq!(file.header("content-length"), Some(length.as_str()));
    assert_eq!(file.header("content-type"), Some("application/pdf"));
    assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
    let disposition = file.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    assert!(!disposition.contains(".."), "{disposition}");
    assert!(
        disposition.contains(&format!(
            "filename=\"{}\"",
            safe.replace(|c: char| !c.is_ascii(), "_")
        )),
        "{disposition}"
    );
}

#[test]
fn a_stamped_outgoing_message_is_answered_into_the_same_conversation() {
    let (srv, key) = api_server(|c| c.outbound.display_name = Some("Example Support".into()));
    let c = api_conversation(&srv, &key);
    let uuid = c["uuid"].as_str().unwrap();
    let address = c["reply_address"].as_str().unwrap();
    let agent = b"From: Alice <alice@support.example.com>\r\nTo: bob@example.org\r\n\
                  Subject: Order 42\r\n\r\nYour parcel left today.\r\n";
    let r = api_request(
        api_addr(&srv),
        Some(&key),
        "POST",
        &format!("/api/v1/conversations/{uuid}/outgoing"),
        Some("message/rfc822"),
        agent.to_vec(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("message/rfc822"));
    assert_eq!(r.header("x-replyd-envelope-sender"), Some(address));
    let message_id = r.header("x-replyd-message-id").unwrap().to_string();
    let stored: i64 = r
        .header("x-replyd-stored-message")
        .unwrap()
        .parse()
        .unwrap();
    // Stamped as `replyd stamp` stamps: our Message-ID and Reply-To, the rest unchanged.
    assert!(
        r.body
            .starts_with(&format!("Message-ID: <{message_id}>\r\n")),
        "{}",
        r.body
    );
    let unfolded = r.body.replace("\r\n ", " ");
    assert!(
        unfolded.contains(&format!("Reply-To: Example Support <{address}>\r\n")),
        "{}",
        r.body
    );
    assert!(r.body.ends_with("\r\n\r\nYour parcel left today.\r\n"));
    let recorded = api_get(&srv, Some(&key), &format!("/api/v1/messages/{stored}")).json();
    assert_eq!(recorded["direction"], "outgoing");
    assert_eq!(recorded["message_id"], message_id.as_str());

    // The customer's client answers it: In-Reply-To names our Message-ID.
    let answer = format!(
        "From: Bob Customer <bob@example.org>\r\nTo: Example Support <{address}>\r\n\
         Subject: Re: Order 42\r\nMessage-ID: <answer-2@example.org>\r\n\
         In-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\n\r\n\
         Thanks!\r\n\r\nOn Tue, Alice wrote:\r\n> Your parcel left today.\r\n"
    );
    let (code, text) = smtp_deliver(srv.addr, address, answer.as_bytes());
    assert_eq!(code, 250, "{text}");
    let page = api_get(
        &srv,
        Some(&key),
        &format!("/api/v1/conversations/{uuid}/messages"),
    )
    .json();
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["direction"], "outgoing");
    assert_eq!(messages[1]["direction"], "incoming");
    assert_eq!(messages[1]["in_reply_to"], message_id.as_str());
    assert_eq!(messages[1]["reply_text"], "Thanks!");

    // A closed conversation takes no more outgoing mail.
    let closed = api_post_json(
        &srv,
        Some(&key),
        &format!("/api/v1/conversations/{uuid}/close"),
        &json!({}),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.json()["status"], "closed");
    api_request(
        api_addr(&srv),
        Some(&key),
        "POST",
        &format!("/api/v1/conversations/{uuid}/outgoing"),
        Some("message/rfc822"),
        agent.to_vec(),
    )
    .assert_api_error(409, "conversation_closed");
}

#[test]
fn paging_returns_every_message_exactly_once_while_new_ones_arrive() {
    let (srv, key) = api_server(|_| {});
    let c = api_conversation(&srv, &key);
    let uuid = c["uuid"].as_str().unwrap();
    let address = c["reply_address"].as_str().unwrap();
    for i in 0..7 {
        deliver_reply(&srv, address, &format!("early {i}"));
    }
    let mut seen = Vec::new();
    let mut after = 0;
    let mut delivered = 7;
    // Three messages per page; two new ones arrive after each page, for four pages.
    for round in 0.. {
        let page = api_get(
            &srv,
            Some(&key),
            &format!("/api/v1/conversations/{uuid}/messages?after={after}&limit=3"),
        )
        .json();
        let ids: Vec<i64> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        seen.extend(&ids);
        if let Some(last) = ids.last() {
            after = *last;
        }
        if round < 4 {
            deliver_reply(&srv, address, &format!("late {round} a"));
            deliver_reply(&srv, address, &format!("late {round} b"));
            delivered += 2;
        } else if page["next"].is_null() && ids.is_empty() {
            break;
        }
        assert!(round < 50, "paging did not end");
    }
    assert_eq!(seen.len(), delivered, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let all: HashSet<i64> = srv.messages(uuid).iter().map(|m| m.id).collect();
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), all);
}

#[test]
fn events_wait_for_the_next_reply_and_resume_from_a_cursor() {
    let (srv, key) = api_server(|c| c.api.max_wait = Duration::from_secs(5));
    let c = api_conversation(&srv, &key);
    let address = c["reply_address"].as_str().unwrap().to_string();
    deliver_reply(&srv, &address, "first");
    let all = api_get(&srv, Some(&key), "/api/v1/events").json();
    assert_eq!(all["events"].as_array().unwrap().len(), 1);
    assert_eq!(all["events"][0]["type"], "message.received");
    assert_eq!(all["events"][0]["message"]["reply_text"], "first");
    let cursor = all["next"].as_i64().unwrap();
    assert_eq!(all["events"][0]["cursor"], cursor);

    // Nothing new: `wait=0` answers at once; a long wait is cut to max_wait (5 s).
    let started = Instant::now();
    let empty = api_get(&srv, Some(&key), &format!("/api/v1/events?after={cursor}")).json();
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["next"], cursor);
    assert!(started.elapsed() < Duration::from_secs(1));
    let started = Instant::now();
    let waited = api_get(
        &srv,
        Some(&key),
        &format!("/api/v1/events?after={cursor}&wait=600"),
    )
    .json();
    assert_eq!(waited["events"], json!([]));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4900) && took < Duration::from_secs(15),
        "{took:?}"
    );

    // A poll waiting when the reply comes returns it at once.
    let addr = api_addr(&srv);
    let poll_key = key.clone();
    let poll = std::thread::spawn(move || {
        let started = Instant::now();
        let r = api_request(
            addr,
            Some(&poll_key),
            "GET",
            &format!("/api/v1/events?after={cursor}&wait=5"),
            None,
            vec![],
        );
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    deliver_reply(&srv, &address, "second");
    let (r, took) = poll.join().unwrap();
    let v = r.json();
    assert_eq!(v["events"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(v["events"][0]["message"]["reply_text"], "second");
    assert_eq!(v["events"][0]["conversation"], c["uuid"]);
    // Before the 5 s wait ran out (a loaded machine may take a second or two to deliver).
    assert!(took < Duration::from_millis(4900), "{took:?}");
}

#[test]
fn the_inbox_lists_what_reached_the_operator() {
    let (srv, key) = api_server(|_| {});
    let postmaster = format!("postmaster@{DOMAIN}");
    for i in 0..3 {
        let (code, text) = smtp_deliver(
            srv.addr,
            &postmaster,
            &reply_to(&postmaster, &format!("pm{i}@example.org"), "hello"),
        );
        assert_eq!(code, 250, "{text}");
    }
    let first = api_get(&srv, Some(&key), "/api/v1/inbox?limit=2").json();
    let entries = first["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["reason"], "postmaster");
    assert!(entries[0]["id"].as_i64() > entries[1]["id"].as_i64());
    let next = first["next"].as_i64().unwrap();
    let second = api_get(
        &srv,
        Some(&key),
        &format!("/api/v1/inbox?before={next}&limit=2"),
    )
    .json();
    assert_eq!(second["entries"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);
}

#[test]
fn the_openapi_document_is_served_and_describes_every_endpoint() {
    let (srv, key) = api_server(|_| {});
    let r = api_get(&srv, Some(&key), "/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["paths"].as_object().unwrap().len(), 12);
    assert_eq!(
        doc["components"]["schemas"]["NewConversationRequest"]["properties"]["domain"]["enum"],
        json!([DOMAIN, "help.example.org", null])
    );
}

#[test]
fn with_its_own_listen_the_api_is_served_only_there() {
    let (srv, key) = api_server(|c| {
        c.api.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.ingress.relay.password = Some(PASSWORD.into());
    });
    let http = srv.http_addr.unwrap();
    let api = api_addr(&srv);
    assert_ne!(http, api);
    let on_api = api_request(api, Some(&key), "GET", "/api/v1/openapi.json", None, vec![]);
    assert_eq!(on_api.status, 200);
    let on_http = api_request(
        http,
        Some(&key),
        "GET",
        "/api/v1/openapi.json",
        None,
        vec![],
    );
    assert_eq!(on_http.status, 404);
    // The ingresses stay on [http] listen only.
    let relay = post(
        api,
        RELAY,
        "message/rfc822",
        Some(PASSWORD),
        b"From: a@b\r\n\r\nx\r\n".to_vec(),
    );
    assert_eq!(relay.status, 404);
    let relay = post(
        http,
        RELAY,
        "message/rfc822",
        Some(PASSWORD),
        b"From: a@b\r\n\r\nx\r\n".to_vec(),
    );
    assert_ne!(relay.status, 404, "{}", relay.body);
}

#[test]
fn a_sender_is_allowed_and_a_leaked_address_rotated() {
    let (srv, key) = api_server(|_| {});
    let c = api_conversation(&srv, &key);
    let uuid = c["uuid"].as_str().unwrap();
    let old = c["reply_address"].as_str().unwrap().to_string();
    let path = format!("/api/v1/conversations/{uuid}/allowed_senders");
    for _ in 0..2 {
        let r = api_post_json(
            &srv,
            Some(&key),
            &path,
            &json!({"address": "carol@example.org"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["address"], "carol@example.org");
    }
    for bad in [
        json!({"address": "not an address"}),
        json!({"adress": "x@y.z"}),
    ] {
        api_post_json(&srv, Some(&key), &path, &bad).assert_api_error(400, "invalid_body");
    }
    let r = api_post_json(
        &srv,
        Some(&key),
        &format!("/api/v1/conversations/{uuid}/rotate"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let new = r.json()["reply_address"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(r.json()["uuid"], uuid);
    // Both thread into the conversation during the grace period.
    deliver_reply(&srv, &new, "to the new address");
    deliver_reply(&srv, &old, "to the old address");
    let page = api_get(
        &srv,
        Some(&key),
        &format!("/api/v1/conversations/{uuid}/messages"),
    )
    .json();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2, "{page}");
}
