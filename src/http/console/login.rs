//! Signing in and out. The login form takes the console password (checked against
//! `[console] password_hash`) or a helpdesk API key (`rk_…`, checked like the API does).
//! Attempts are limited per client address (`429` past `max_login_attempts_per_minute`),
//! and a wrong password and an unknown key get the same answer.
//!
//! Before there is a session, the login form's CSRF token is a random value sent both in a
//! cookie and in the form (the double-submit pattern): another site can make a browser post
//! the form, but cannot read or set the cookie, so it cannot send the matching field.

use super::session::{cookie, random_token, set_cookie, SESSION_COOKIE};
use super::{csrf, layout, ConsoleState, Session};
use crate::http::router::Client;
use axum::body::Body;
use axum::extract::Extension;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

/// The login form's own token cookie.
const LOGIN_COOKIE: &str = "replyd_console_login";
/// How long a login form stays usable.
const LOGIN_FORM_SECONDS: u64 = 3600;

/// `GET /console/login`.
pub(crate) async fn form(client: Option<Extension<Client>>, headers: HeaderMap) -> Response {
    login_page(client.as_deref(), &headers, StatusCode::OK, None)
}

/// The login page, and `problem` said above the form. The form token is the one the
/// browser already holds, if any: a second tab (or a browser loading the page twice) must
/// not make the first form stale.
fn login_page(
    client: Option<&Client>,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let token = cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map_or_else(random_token, str::to_string);
    let body = html! {
        h1 { "replyd console" }
        @if let Some(problem) = problem {
            p role="alert" { (problem) }
        }
        form method="post" action="/console/login" class="login" {
            (csrf::hidden(&token))
            label {
                "Console password or helpdesk API key"
                input type="password" name="secret" autocomplete="current-password" required autofocus;
            }
            button type="submit" { "Sign in" }
        }
    };
    let mut response = (status, layout::page("Sign in", None, body)).into_response();
    append_cookie(
        &mut response,
        &set_cookie(LOGIN_COOKIE, &token, client, Some(LOGIN_FORM_SECONDS)),
    );
    response
}

/// `POST /console/login`.
pub(crate) async fn submit(
    axum::extract::State(console): ConsoleState,
    client: Option<Extension<Client>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let client = client.as_deref().copied();
    if let Some(c) = &client {
        if !console.logins.allow(c.peer.ip().to_canonical()) {
            tracing::warn!(client_ip = %c.peer.ip(), "console: too many login attempts");
            let mut response = login_page(
                Some(c),
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many sign-in attempts from your address. Wait a minute and try again."),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return response;
        }
    }
    let fields = match csrf::form(body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !csrf::matches(&fields, expected) {
        tracing::warn!("console: a login form without its CSRF token was refused");
        return csrf::refused(None);
    }
    let secret = csrf::field(&fields, "secret").unwrap_or("").to_string();
    let (who, api_key) = match check(&console, secret).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            tracing::warn!(
                client_ip = %client.map(|c| c.peer.ip().to_string()).unwrap_or_default(),
                "console: sign-in refused (wrong password or key)"
            );
            return login_page(
                client.as_ref(),
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("Wrong password or API key."),
            );
        }
        Err(message) => {
            tracing::error!(error = %message, "console: sign-in could not be checked");
            return login_page(
                client.as_ref(),
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The sign-in could not be checked (the log says why). Try again in a moment."),
            );
        }
    };
    tracing::info!(who = %who, "console: signed in");
    let token = console.sessions.start(who, api_key);
    let mut response = Redirect::to("/console/activity").into_response();
    append_cookie(
        &mut response,
        &set_cookie(SESSION_COOKIE, &token, client.as_ref(), None),
    );
    append_cookie(
        &mut response,
        &set_cookie(LOGIN_COOKIE, "", client.as_ref(), Some(0)),
    );
    response
}

/// Who `secret` signs in as: `password`, or `API key <id>` and the key id; `None` for
/// nobody.
async fn check(
    console: &super::Console,
    secret: String,
) -> Result<Option<(String, Option<String>)>, String> {
    if secret.is_empty() {
        return Ok(None);
    }
    if secret.starts_with(crate::http::api::keys::PREFIX) {
        return crate::http::api::keys::live_key(console.store(), &secret)
            .await
            .map(|id| id.map(|id| (format!("API key {id}"), Some(id))))
            .map_err(|e| e.to_string());
    }
    let Some(hash) = console.http.intake.config.console.password_hash.clone() else {
        return Ok(None);
    };
    // argon2 is slow on purpose: off the runtime's workers.
    tokio::task::spawn_blocking(move || crate::config::password_matches(&hash, &secret))
        .await
        .map(|ok| ok.then(|| ("password".to_string(), None)))
        .map_err(|e| e.to_string())
}

/// `POST /console/logout` (with the session's CSRF token).
pub(crate) async fn logout(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
    client: Option<Extension<Client>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(refused) = csrf::checked_form(&session, body).await {
        return refused;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        console.sessions.end(token);
    }
    tracing::info!(who = %session.who, "console: signed out");
    let mut response = Redirect::to("/console/login").into_response();
    append_cookie(
        &mut response,
        &set_cookie(SESSION_COOKIE, "", client.as_deref(), Some(0)),
    );
    response
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
