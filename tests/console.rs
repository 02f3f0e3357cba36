//! The operator's web console (`/console/`), in a real browser: headless Chromium driven
//! through chromedriver. An operator signs in, finds a refused delivery by its recipient,
//! opens a conversation and downloads an attachment; a hostile message (markup and script
//! in its subject, sender name, attachment name and HTML body, CSS pointing at a listener
//! of ours) is shown as text, opens no dialog and makes the browser fetch nothing.
//! The access rules (redirects, CSRF, rate limit, headers) are checked with a plain HTTP
//! client. A screenshot of each page is written under `target/console-screenshots/`.

mod common;

use common::browser::{browser_available, Browser};
use common::console::{
    console_addr, console_server, csrf_of, get, post_form, set_cookie, sign_in, PASSWORD,
};
use common::http::unknown_reply_address;
use common::{block_on, run_with_stdin, smtp_deliver, TestServer};
use fantoccini::Locator;
use replyd::store::ApiKey;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn operator_finds_a_refused_delivery_and_downloads_an_attachment() {
    if !browser_available() {
        return;
    }
    let server = console_server();
    let addr = console_addr(&server);
    let conversation = server.conversation("bob@example.org");
    let attachment = b"%PDF-1.4 the invoice\n".as_slice();
    let mail = common::reply_with_attachment(
        &conversation.reply_address,
        "invoice@example.org",
        "Here is the invoice you asked for.\n\nOn Monday, Support wrote:\n> Could you send the invoice?",
        ("invoice-42.pdf", "application/pdf", attachment),
    );
    assert_eq!(
        smtp_deliver(server.addr, &conversation.reply_address, &mail).0,
        250
    );
    let unknown = unknown_reply_address();
    // A bounce (null sender) in the same conversation: flagged as automated.
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce@mx.example.org>\r\n\
         \r\nThis is the mail system: your message could not be delivered.\r\n",
        to = conversation.reply_address
    );
    let (code, _) =
        common::Raw::greeted(server.addr).send_mail("", &[&conversation.reply_address], &bounce);
    assert_eq!(code, 250);
    let mut smtp = common::Raw::greeted(server.addr);
    smtp.expect("EHLO client.test", 250, "");
    smtp.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    smtp.expect(&format!("RCPT TO:<{unknown}>"), 550, "5.1.1");
    smtp.expect("QUIT", 221, "");
    server.activity(2);

    block_on(async {
        let browser = Browser::start().await;
        // Not signed in: the console sends the browser to the login page.
        browser.open(addr, "/console/activity").await;
        assert_eq!(browser.path().await, "/console/login");
        browser.screenshot("login").await;

        browser.sign_in(addr, PASSWORD).await;
        assert_eq!(browser.path().await, "/console/activity");
        browser.screenshot("activity").await;

        // The refused delivery, found by its recipient, with its reason in words.
        let field = browser
            .client
            .find(Locator::Css("input[name=recipient]"))
            .await
            .unwrap();
        field.send_keys(&unknown).await.unwrap();
        browser
            .client
            .find(Locator::Css("form.filters button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser.wait_for_url(|u| u.contains("recipient=")).await;
        let rows = browser
            .client
            .find_all(Locator::Css("tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one attempt for {unknown}");
        let row = rows[0].text().await.unwrap();
        assert!(row.contains(&unknown), "{row}");
        assert!(row.contains("refused (550)"), "{row}");
        assert!(
            row.contains("The reply address names no conversation"),
            "{row}"
        );
        browser.screenshot("activity-refused").await;

        browser.open(addr, "/console/conversations").await;
        browser.screenshot("conversations").await;
        browser
            .client
            .find(Locator::LinkText("Order 42"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(
            browser.path().await,
            format!("/console/conversations/{}", conversation.uuid)
        );
        // The reply text first; the quoted history folded away.
        let reply = browser.text("article.message pre").await;
        assert_eq!(reply, "Here is the invoice you asked for.");
        let quoted = browser
            .client
            .find(Locator::Css("article.message details"))
            .await
            .unwrap();
        assert_eq!(quoted.attr("open").await.unwrap(), None);
        let bounce = browser.text("article.message:nth-of-type(2) dl").await;
        assert!(bounce.contains("Automated\nbounce"), "{bounce}");
        browser.screenshot("conversation").await;
        // Readable on a phone: the same page at a phone's width.
        browser.client.set_window_size(390, 844).await.unwrap();
        browser.screenshot("conversation-phone").await;
        browser.client.set_window_size(1000, 900).await.unwrap();

        browser
            .client
            .find(Locator::LinkText("invoice-42.pdf"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(browser.downloaded("invoice-42.pdf"), attachment);

        browser
            .client
            .find(Locator::LinkText("Raw source"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(browser
            .text("pre")
            .await
            .contains("Message-ID: <invoice@example.org>"));
        browser.screenshot("raw").await;

        browser.open(addr, "/console/inbox").await;
        assert_eq!(browser.text("h1").await, "Operator inbox");
        browser.screenshot("inbox").await;

        // Signing out ends the session.
        browser
            .client
            .find(Locator::Css("form.logout button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser.open(addr, "/console/conversations").await;
        assert_eq!(browser.path().await, "/console/login");
        browser.close().await;
    });
}

/// A listener that counts the connections it is sent (it must stay at zero).
fn silent_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut [0u8; 1024]);
        }
    });
    (addr, hits)
}

#[test]
fn a_hostile_message_is_shown_as_text_and_runs_nothing() {
    if !browser_available() {
        return;
    }
    let (bait, hits) = silent_listener();
    let server = console_server();
    let addr = console_addr(&server);
    let conversation = server.conversation("bob@example.org");
    let to = &conversation.reply_address;
    let subject = "<script>alert('subject')</script> Order \u{202e}fdp.exe";
    let name = "<img src=x onerror=alert('name')>";
    let filename = "<img src=x onerror=alert('file')>.html";
    let html = format!(
        "<html><head><style>body {{ background: url(http://{bait}/style) }}</style>\
         <link rel=stylesheet href=\"http://{bait}/link\"></head><body>\
         <script>alert('body')</script><img src=x onerror=\"alert('img')\">\
         <img src=\"http://{bait}/pixel\"><a href=\"javascript:alert('link')\">click me</a>\
         </body></html>"
    );
    let mail = format!(
        "From: \"{name}\" <evil@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
         --b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee the HTML part\r\n\
         --b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b2--\r\n\
         --b1\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"{}\"\r\n\r\n\
         <script>alert('attachment')</script>\r\n--b1--\r\n",
        filename.replace('"', "\\\"")
    );
    assert_eq!(smtp_deliver(server.addr, to, mail.as_bytes()).0, 250);

    block_on(async {
        let browser = Browser::start().await;
        browser.sign_in(addr, PASSWORD).await;
        browser
            .open(
                addr,
                &format!("/console/conversations/{}", conversation.uuid),
            )
            .await;
        browser.assert_no_dialog().await;
        // Shown as text: the markup is in the text of the page, and no element came of it.
        let heading = browser.text("article.message h3").await;
        assert!(
            heading.contains("<img src=x onerror=alert('name')>"),
            "{heading}"
        );
        let page = browser.text("main").await;
        assert!(page.contains("<script>alert('subject')</script>"), "{page}");
        // The bidi override is shown as an escape, not obeyed.
        assert!(page.contains(r"Order \u{202e}fdp.exe"), "{page}");
        assert!(page.contains("onerror=alert('file')>.html"), "{page}");
        for css in [
            "main script",
            "main img",
            "main a[href^=javascript]",
            "main style",
            "main link",
        ] {
            let found = browser.client.find_all(Locator::Css(css)).await.unwrap();
            assert!(found.is_empty(), "{css} became an element");
        }
        // The HTML body, unfolded: its source as text.
        browser
            .client
            .find(Locator::XPath("//summary[contains(., 'HTML body')]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let source = browser
            .client
            .find(Locator::XPath(
                "//summary[contains(., 'HTML body')]/following-sibling::pre",
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            source.contains("<script>alert('body')</script>"),
            "{source}"
        );
        assert!(source.contains("javascript:alert('link')"), "{source}");
        browser.assert_no_dialog().await;
        browser.screenshot("conversation-hostile").await;

        browser.open(addr, "/console/messages/1/raw").await;
        assert!(browser
            .text("pre")
            .await
            .contains("<script>alert('attachment')</script>"));
        browser.assert_no_dialog().await;
        browser.screenshot("raw-hostile").await;
        browser.open(addr, "/console/activity").await;
        browser.assert_no_dialog().await;
        browser.close().await;
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the browser fetched from {bait}"
    );
}

#[test]
fn without_a_session_every_page_sends_to_the_login_and_forms_need_their_token() {
    let server = console_server();
    let addr = console_addr(&server);
    for path in [
        "/console",
        "/console/",
        "/console/activity?recipient=x",
        "/console/conversations",
        "/console/conversations/00000000-0000-0000-0000-000000000000",
        "/console/messages/1/raw",
        "/console/attachments/1",
        "/console/inbox",
        "/console/webhooks",
        "/console/no-such-page",
    ] {
        let reply = get(addr, path, None);
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.header("location"), Some("/console/login"), "{path}");
        // A forged cookie is no session either.
        let reply = get(addr, path, Some("replyd_console=00ff"));
        assert_eq!(reply.header("location"), Some("/console/login"), "{path}");
    }
    assert_eq!(post_form(addr, "/console/logout", None, &[]).status, 303);
    let retry = post_form(
        addr,
        "/console/webhooks/retry",
        None,
        &[("webhook_id", b"evt_1")],
    );
    assert_eq!(retry.status, 303);
    assert_eq!(retry.header("location"), Some("/console/login"));

    // The login page: strict headers, a cookie that is HttpOnly and SameSite=Strict (not
    // Secure: plain HTTP on loopback).
    let form = get(addr, "/console/login", None);
    assert_eq!(form.status, 200);
    let csp = form.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'self'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(form.header("x-content-type-options"), Some("nosniff"));
    let (login_cookie, full) = set_cookie(&form, "replyd_console_login").unwrap();
    assert!(
        full.contains("HttpOnly") && full.contains("SameSite=Strict"),
        "{full}"
    );
    assert!(!full.contains("Secure"), "{full}");
    let css = get(addr, "/console/style.css", None);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    // A login posted without its token (or with another one) is refused, password or not.
    let no_token = post_form(
        addr,
        "/console/login",
        Some(&login_cookie),
        &[("secret", PASSWORD.as_bytes())],
    );
    assert_eq!(no_token.status, 403);
    assert!(set_cookie(&no_token, "replyd_console").is_none());
    let wrong_token = post_form(
        addr,
        "/console/login",
        Some(&login_cookie),
        &[
            ("csrf", "ab".repeat(32).as_bytes()),
            ("secret", PASSWORD.as_bytes()),
        ],
    );
    assert_eq!(wrong_token.status, 403);

    // The right password: a session; the pages answer.
    let signed_in = sign_in(addr, PASSWORD);
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), Some("/console/activity"));
    let (session, full) = set_cookie(&signed_in, "replyd_console").unwrap();
    assert!(
        full.contains("HttpOnly") && full.contains("SameSite=Strict"),
        "{full}"
    );
    let page = get(addr, "/console/activity", Some(&session));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Activity</h1>"));

    // Signing out without the session's token is refused, and the session lives on.
    let refused = post_form(addr, "/console/logout", Some(&session), &[]);
    assert_eq!(refused.status, 403);
    assert_eq!(get(addr, "/console/inbox", Some(&session)).status, 200);
    let token = csrf_of(&page.body);
    let out = post_form(
        addr,
        "/console/logout",
        Some(&session),
        &[("csrf", token.as_bytes())],
    );
    assert_eq!(out.status, 303);
    assert_eq!(get(addr, "/console/inbox", Some(&session)).status, 303);
}

#[test]
fn a_helpdesk_api_key_signs_in_and_a_wrong_secret_does_not() {
    let server = console_server();
    let addr = console_addr(&server);
    let key = format!("rk_0123456789ab_{}", "s".repeat(43));
    server
        .block(server.store.add_api_key(&ApiKey {
            key_id: "0123456789ab".into(),
            name: "helpdesk".into(),
            created_at: "2026-12-03T08:00:00Z".into(),
            revoked_at: None,
            sha256: Sha256::digest(key.as_bytes()).to_vec(),
        }))
        .unwrap();
    let signed_in = sign_in(addr, &key);
    assert_eq!(signed_in.status, 303);
    let (session, _) = set_cookie(&signed_in, "replyd_console").unwrap();
    assert_eq!(
        get(addr, "/console/conversations", Some(&session)).status,
        200
    );

    for wrong in [
        "wrong password",
        "rk_0123456789ab_wrong",
        "rk_ffffffffffff_x",
        "",
    ] {
        let reply = sign_in(addr, wrong);
        assert_eq!(reply.status, 401, "{wrong}");
        assert!(reply.body.contains("Wrong password or API key."));
        assert!(set_cookie(&reply, "replyd_console").is_none());
    }
    // Five attempts a minute (this server's limit): the sixth is refused even when right.
    let limited = sign_in(addr, PASSWORD);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("60"));
}

#[test]
fn the_console_is_off_unless_enabled() {
    let server = TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
    });
    let addr = console_addr(&server);
    assert_eq!(get(addr, "/console/login", None).status, 404);
    assert_eq!(get(addr, "/console/activity", None).status, 404);
}

#[test]
fn with_operator_listen_the_console_is_served_only_there() {
    let server = TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.operator.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.console.enabled = true;
    });
    let operator = console_addr(&server);
    let shared = server.http_addr.unwrap();
    assert_ne!(operator, shared);
    assert_eq!(get(operator, "/console/login", None).status, 200);
    assert_eq!(get(shared, "/console/login", None).status, 404);
    assert_eq!(get(shared, "/console/activity", None).status, 404);
}

#[test]
fn hash_password_prints_a_hash_that_checks() {
    let mut command = std::process::Command::new(common::replyd_bin());
    command.args(["console", "hash-password"]);
    let out = run_with_stdin(command, b"s3cret pass\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(replyd::config::password_matches(hash, "s3cret pass"));
    assert!(!replyd::config::password_matches(hash, "s3cret pass "));
    // The config takes it; a hash of another kind is refused by name.
    let mut config = replyd::Config::default();
    config.console.password_hash = Some(hash.to_string());
    assert!(config.console.validate().is_ok());
    config.console.password_hash = Some("$2b$12$notargon".into());
    assert_eq!(
        config.console.validate().unwrap_err().0,
        "console.password_hash"
    );
}
