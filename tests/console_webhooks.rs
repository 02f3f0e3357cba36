//! The web console's webhook deliveries page, in a real browser: an endpoint whose helpdesk
//! answers 500 (with markup in its error page, shown as text) shows its failed attempts;
//! once the helpdesk is fixed, the operator presses Retry and the event is delivered again
//! with the same webhook-id. The retry form's CSRF check is exercised with a plain HTTP
//! client. Screenshots under `target/console-screenshots/`.

mod common;

use common::browser::{browser_available, Browser};
use common::console::{
    console_addr, console_server_with, csrf_of, get, post_form, set_cookie, sign_in, PASSWORD,
};
use common::receiver::{Answer, Receiver};
use common::webhooks::{
    attempts_until, endpoint, event_of, reply_with_history, stored_id, verifies, SECRET,
};
use common::{block_on, smtp_deliver};
use fantoccini::Locator;
use std::time::Duration;

/// The helpdesk's error page: markup the console must show as text.
const HOSTILE_ERROR: &str = "<script>alert('helpdesk')</script><img src=x onerror=alert(1)>";

#[test]
fn operator_retries_a_failed_webhook_and_it_is_delivered() {
    if !browser_available() {
        return;
    }
    // The helpdesk answers 500 until the operator has fixed it.
    let rx = Receiver::start();
    rx.answer(Answer::Body(500, HOSTILE_ERROR));
    let server = console_server_with(|c| {
        let mut hook = endpoint(&rx.url(), SECRET);
        hook.give_up_after = Duration::from_millis(800);
        c.webhooks = vec![hook];
    });
    let addr = console_addr(&server);
    let conversation = server.conversation("bob@example.org");
    let to = &conversation.reply_address;
    let (code, text) = smtp_deliver(
        server.addr,
        to,
        &reply_with_history(to, "retry-me@example.org"),
    );
    assert_eq!(code, 250, "{text}");
    let (event, _) = event_of(&server, stored_id(&text));
    // Retried every 300 ms, all 500, then given up after 800 ms.
    let given_up = || {
        server
            .block(server.store.webhook_endpoints(0))
            .unwrap()
            .first()
            .map(|e| (e.failed, e.backlog))
    };
    let started = std::time::Instant::now();
    while given_up() != Some((1, 0)) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            given_up()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let failed = attempts_until(&server, &event, |a| a.len() >= 2);
    assert!(failed.iter().all(|a| a.status == Some(500)), "{failed:#?}");
    let sent_before = rx.requests().len();
    assert!(rx.requests().iter().all(|r| r.webhook_id() == event));

    block_on(async {
        let browser = Browser::start().await;
        browser.sign_in(addr, PASSWORD).await;
        browser
            .client
            .find(Locator::LinkText("Webhooks"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(browser.path().await, "/console/webhooks");
        assert_eq!(browser.text("h1").await, "Webhook deliveries");
        let facts = browser.text("section.endpoint dl").await;
        assert!(facts.contains(&rx.url()), "{facts}");
        assert!(facts.contains("Given up\n1"), "{facts}");
        let rows = browser
            .client
            .find_all(Locator::Css("tbody tr.attempt"))
            .await
            .unwrap();
        assert_eq!(rows.len(), sent_before, "one row per attempt");
        let newest = rows[0].text().await.unwrap();
        assert!(newest.contains(&event), "{newest}");
        assert!(newest.contains("message.received"), "{newest}");
        assert!(newest.contains("HTTP 500"), "{newest}");
        // What the helpdesk answered is shown as text; none of it became an element.
        assert!(newest.contains(HOSTILE_ERROR), "{newest}");
        for css in ["main script", "main img"] {
            let found = browser.client.find_all(Locator::Css(css)).await.unwrap();
            assert!(found.is_empty(), "{css} became an element");
        }
        browser.assert_no_dialog().await;
        // One button for the event, on its newest attempt.
        let buttons = browser
            .client
            .find_all(Locator::Css("form.retry button"))
            .await
            .unwrap();
        assert_eq!(buttons.len(), 1);
        browser.screenshot("webhooks-failed").await;

        // The helpdesk is fixed; the operator sends the event again.
        rx.answer(Answer::Status(200));
        buttons[0].click().await.unwrap();
        browser.wait_for_url(|u| u.contains("retried=")).await;
        assert_eq!(browser.path().await, "/console/webhooks");
        let notice = browser.text("p.notice").await;
        assert!(
            notice.contains(&format!("Event {event} queued again for 1 endpoint")),
            "{notice}"
        );
        let got = rx.wait_for(sent_before + 1, Duration::from_secs(10));
        let delivered = &got[sent_before];
        assert_eq!(delivered.webhook_id(), event);
        assert!(verifies(SECRET, delivered));

        // The page shows the 200 attempt (once the worker has recorded it).
        let started = std::time::Instant::now();
        loop {
            browser.open(addr, "/console/webhooks").await;
            let newest = browser.text("tbody tr.attempt").await;
            if newest.contains("HTTP 200") {
                assert!(newest.contains(&event), "{newest}");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{newest}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let facts = browser.text("section.endpoint dl").await;
        assert!(facts.contains("Delivered\n1"), "{facts}");
        assert!(facts.contains("Given up\n0"), "{facts}");
        browser.assert_no_dialog().await;
        browser.screenshot("webhooks").await;
        browser.close().await;
    });

    // Over plain HTTP: a retry posted without the session's token is refused, and nothing
    // is sent; an unknown event is a 404; with the token, the event goes again.
    let signed_in = sign_in(addr, PASSWORD);
    let (session, _) = set_cookie(&signed_in, "replyd_console").unwrap();
    let page = get(addr, "/console/webhooks", Some(&session));
    assert_eq!(page.status, 200);
    let token = csrf_of(&page.body);
    let sent = rx.requests().len();
    let refused = post_form(
        addr,
        "/console/webhooks/retry",
        Some(&session),
        &[("webhook_id", event.as_bytes())],
    );
    assert_eq!(refused.status, 403);
    let forged = post_form(
        addr,
        "/console/webhooks/retry",
        Some(&session),
        &[
            ("csrf", "ab".repeat(32).as_bytes()),
            ("webhook_id", event.as_bytes()),
        ],
    );
    assert_eq!(forged.status, 403);
    let unknown = post_form(
        addr,
        "/console/webhooks/retry",
        Some(&session),
        &[("csrf", token.as_bytes()), ("webhook_id", b"evt_<b>nope")],
    );
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body.contains("evt_&lt;b&gt;nope"),
        "{}",
        unknown.body
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(rx.requests().len(), sent, "a refused form sent nothing");
    let accepted = post_form(
        addr,
        "/console/webhooks/retry",
        Some(&session),
        &[("csrf", token.as_bytes()), ("webhook_id", event.as_bytes())],
    );
    assert_eq!(accepted.status, 303);
    assert_eq!(
        accepted.header("location"),
        Some(format!("/console/webhooks?retried={event}&deliveries=1").as_str())
    );
    let got = rx.wait_for(sent + 1, Duration::from_secs(10));
    assert_eq!(got[sent].webhook_id(), event);

    // An endpoint the operator turned off says so, and why.
    server
        .block(server.store.webhook_set_enabled(&rx.url(), false))
        .unwrap();
    let page = get(addr, "/console/webhooks", Some(&session));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("disabled since "), "{}", page.body);
    assert!(
        page.body.contains("disabled by the operator"),
        "{}",
        page.body
    );
}
