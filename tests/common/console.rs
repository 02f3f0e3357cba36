//! The web console's test helpers: a server with the console on and a password, and a
//! plain HTTP client's view of it (sign in, the session cookie, the forms' CSRF token) for
//! the access rules that need no browser.

use super::http::{request, urlencoded, Reply};
use super::TestServer;
use std::net::SocketAddr;

pub const PASSWORD: &str = "correct horse battery staple";

/// A server with the console on `[http] listen`, signed in with [`PASSWORD`].
pub fn console_server() -> TestServer {
    console_server_with(|_| {})
}

/// The same, with more configuration.
pub fn console_server_with(tweak: impl FnOnce(&mut replyd::Config)) -> TestServer {
    let hash = replyd::config::hash_password(PASSWORD).unwrap();
    TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.console.enabled = true;
        c.console.password_hash = Some(hash);
        c.console.max_login_attempts_per_minute = 5;
        tweak(c);
    })
}

pub fn console_addr(server: &TestServer) -> SocketAddr {
    server.operator_addr.expect("the console's listener")
}

/// A plain HTTP request with `cookie`.
pub fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    let headers: Vec<(&str, String)> = cookie
        .map(|c| ("cookie", c.to_string()))
        .into_iter()
        .collect();
    request(addr, "GET", path, &headers, vec![])
}

pub fn post_form(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &[u8])],
) -> Reply {
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    if let Some(c) = cookie {
        headers.push(("cookie", c.to_string()));
    }
    request(addr, "POST", path, &headers, urlencoded(fields))
}

/// The `name=value` of the `Set-Cookie` named `name`.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<(String, String)> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v)
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or("").to_string();
            (pair, v.clone())
        })
}

/// The hidden CSRF field of a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_string()
}

/// Signs in over plain HTTP; returns the session cookie (`name=value`).
pub fn sign_in(addr: SocketAddr, secret: &str) -> Reply {
    let form = get(addr, "/console/login", None);
    let (login_cookie, _) = set_cookie(&form, "replyd_console_login").unwrap();
    let token = csrf_of(&form.body);
    post_form(
        addr,
        "/console/login",
        Some(&login_cookie),
        &[("csrf", token.as_bytes()), ("secret", secret.as_bytes())],
    )
}
