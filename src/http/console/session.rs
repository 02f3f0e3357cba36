//! Sessions and the login rate limit, both in memory: a restart logs everyone out, which is
//! fine for an operator's console and keeps secrets out of the database.
//!
//! A session is a random 256-bit token in a cookie (`HttpOnly`, `SameSite=Strict`, and
//! `Secure` unless the console is reached over plain HTTP on loopback, where a browser
//! would drop a `Secure` cookie). The table is keyed by the token's SHA-256, so a look-up
//! leaks nothing of a live token through its timing, and bounded ([`MAX_SESSIONS`]).

use super::ConsoleState;
use crate::http::router::Client;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "replyd_console";
/// Live sessions kept at most; past it the oldest is dropped.
const MAX_SESSIONS: usize = 10_000;
/// Client addresses whose login attempts are counted at most (a flood from many
/// addresses resets the counts rather than growing the table).
const MAX_COUNTED_CLIENTS: usize = 10_000;

/// A signed-in operator, as the handlers see it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// What every form of this session must send back (`csrf.rs`).
    pub csrf: String,
    /// Who logged in: `password` or `API key <id>` (for the log).
    pub who: String,
    /// The id of the API key signed in with: checked again at every request, so revoking
    /// the key ends the session too.
    pub api_key: Option<String>,
}

struct Entry {
    session: Session,
    expires: Instant,
}

/// The live sessions.
pub(crate) struct Sessions {
    lifetime: Duration,
    table: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `who` (signed in with `api_key`, if a key); returns its token
    /// (the cookie's value).
    pub fn start(&self, who: String, api_key: Option<String>) -> String {
        let token = random_token();
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.retain(|_, e| e.expires > now);
        if table.len() >= MAX_SESSIONS {
            if let Some(oldest) = table.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k) {
                table.remove(&oldest);
            }
        }
        table.insert(
            digest(&token),
            Entry {
                session: Session {
                    csrf: random_token(),
                    who,
                    api_key,
                },
                expires: now + self.lifetime,
            },
        );
        token
    }

    /// The live session of `token`.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let key = digest(token);
        match table.get(&key) {
            Some(e) if e.expires > Instant::now() => Some(e.session.clone()),
            Some(_) => {
                table.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`.
    pub fn end(&self, token: &str) {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest(token));
    }
}

/// Login attempts per client address and minute.
pub(crate) struct LoginLimiter {
    per_minute: u32,
    counts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> LoginLimiter {
        LoginLimiter {
            per_minute,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip`: `false` when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_COUNTED_CLIENTS && !counts.contains_key(&ip) {
            counts.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
            if counts.len() >= MAX_COUNTED_CLIENTS {
                counts.clear();
            }
        }
        let (start, n) = counts.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *n = 0;
        }
        *n += 1;
        *n <= self.per_minute
    }
}

/// Lets the request through with a live session (handed to the handler as an extension);
/// else `303` to the login page. A session signed in with an API key ends when the key is
/// revoked.
pub(crate) async fn require(
    axum::extract::State(console): ConsoleState,
    mut request: Request,
    next: Next,
) -> Response {
    let token = cookie(request.headers(), SESSION_COOKIE).map(str::to_string);
    let Some((token, session)) = token.and_then(|t| console.sessions.get(&t).map(|s| (t, s)))
    else {
        return Redirect::to("/console/login").into_response();
    };
    if let Some(key_id) = &session.api_key {
        match console.store().api_key(key_id).await {
            Ok(Some(key)) if key.revoked_at.is_none() => {}
            Ok(_) => {
                tracing::info!(key_id, "console: session ended, its API key was revoked");
                console.sessions.end(&token);
                return Redirect::to("/console/login").into_response();
            }
            Err(e) => {
                tracing::error!(error = %e, "console: the session's API key could not be checked");
                return super::failure(
                    Some(&session),
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "The sign-in could not be checked (the store did not answer). Try again in a moment.",
                );
            }
        }
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the console's paths. `max_age` `None`: until the browser
/// closes (the server ends the session anyway); `Some(0)`: removes it.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    client: Option<&Client>,
    max_age: Option<u64>,
) -> String {
    let mut cookie = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if needs_secure(client) {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

/// `Secure` everywhere except plain HTTP on loopback (a browser drops a `Secure` cookie
/// set over plain HTTP to an IP address).
fn needs_secure(client: Option<&Client>) -> bool {
    match client {
        Some(c) => c.tls || !c.peer.ip().to_canonical().is_loopback(),
        None => true,
    }
}

/// 256 random bits, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    crate::address::random_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_end() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let token = sessions.start("password".into(), None);
        assert!(sessions.get(&token).is_some());
        assert!(sessions.get("not-a-token").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(sessions.get(&token).is_none());
        let token = sessions.start("password".into(), None);
        sessions.end(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn cookies_are_secure_except_over_plain_http_on_loopback() {
        let client = |peer: &str, tls| Client {
            peer: peer.parse().unwrap(),
            tls,
        };
        let plain_loopback = set_cookie("c", "v", Some(&client("127.0.0.1:1", false)), None);
        assert_eq!(
            plain_loopback,
            "c=v; Path=/console; HttpOnly; SameSite=Strict"
        );
        let mapped = client("[::ffff:127.0.0.1]:1", false);
        assert!(!set_cookie("c", "v", Some(&mapped), None).contains("Secure"));
        for c in [client("127.0.0.1:1", true), client("192.0.2.7:1", false)] {
            let cookie = set_cookie("c", "v", Some(&c), Some(0));
            assert_eq!(
                cookie,
                "c=v; Path=/console; HttpOnly; SameSite=Strict; Secure; Max-Age=0"
            );
        }
    }

    #[test]
    fn login_attempts_are_limited_per_address() {
        let limiter = LoginLimiter::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a)));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
