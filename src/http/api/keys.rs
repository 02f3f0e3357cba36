//! API keys: made by `replyd api-key create`, checked on every request.
//!
//! A key is `rk_<key id>_<secret>`: 12 hex digits that name it (shown by `replyd api-key
//! list`, what a request is looked up by) and 256 random bits in URL-safe base64. Only a
//! SHA-256 of the whole key is stored, and a presented key is compared with it in constant
//! time. The look-up goes to the store on every request, without a cache, so a key created
//! or revoked from the command line counts at the next request.

use super::errors::ApiError;
use crate::http::HttpState;
use crate::store::{ApiKey, Store, StoreError};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What every key starts with.
pub const PREFIX: &str = "rk_";
/// Hex digits of the key id.
const KEY_ID_LEN: usize = 12;
/// Longest key name.
const MAX_NAME_CHARS: usize = 100;

/// Makes a new key named `name` and records its hash; returns the key, which is shown
/// once and never stored.
pub async fn create(store: &Store, name: &str) -> Result<(String, ApiKey), StoreError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "a key name is 1 to {MAX_NAME_CHARS} characters, without control characters"
        )));
    }
    let mut id = [0u8; KEY_ID_LEN / 2];
    let mut secret = [0u8; 32];
    crate::address::random_bytes(&mut id);
    crate::address::random_bytes(&mut secret);
    let key_id = hex::encode(id);
    let key = format!(
        "{PREFIX}{key_id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let record = ApiKey {
        key_id,
        name: name.to_string(),
        created_at: crate::time::rfc3339(crate::time::unix_now()),
        revoked_at: None,
        sha256: Sha256::digest(key.as_bytes()).to_vec(),
    };
    store.add_api_key(&record).await?;
    Ok((key, record))
}

/// The key id of a key (`rk_<key id>_…`), or of a bare key id.
pub fn key_id_of(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(PREFIX).unwrap_or(text);
    let id = rest.get(..KEY_ID_LEN)?;
    let after = &rest[KEY_ID_LEN..];
    let well_formed =
        id.bytes().all(|b| b.is_ascii_hexdigit()) && (after.is_empty() || after.starts_with('_'));
    well_formed.then_some(id)
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| t.starts_with(PREFIX))
}

/// Lets the request through only with a live key: `401` without one or with a wrong,
/// unknown or revoked one; `503` when the store cannot say.
pub async fn require_key(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(presented) = bearer(request.headers()).map(str::to_string) else {
        return ApiError::unauthorized("an API key is needed: Authorization: Bearer rk_…")
            .into_response();
    };
    match live_key(&state.intake.store, &presented).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => ApiError::unauthorized("the API key is not valid").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The key id of `presented` when it is a live key (known, matching, not revoked);
/// `None` otherwise (logged); `Err` when the store cannot say. The web console's login
/// takes a key too.
pub(crate) async fn live_key(store: &Store, presented: &str) -> Result<Option<String>, StoreError> {
    let Some(key_id) = key_id_of(presented).map(str::to_string) else {
        return Ok(None);
    };
    match store.api_key(&key_id).await? {
        Some(key) => {
            let digest = Sha256::digest(presented.as_bytes());
            let matches: bool = digest.as_slice().ct_eq(&key.sha256).into();
            if matches && key.revoked_at.is_none() {
                return Ok(Some(key_id));
            }
            tracing::info!(
                key_id,
                revoked = key.revoked_at.is_some(),
                "API key refused"
            );
            Ok(None)
        }
        None => {
            tracing::info!(key_id, "unknown API key refused");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert_eq!(key_id_of("rk_0123456789ab_secret"), Some("0123456789ab"));
        assert_eq!(key_id_of("0123456789ab"), Some("0123456789ab"));
        assert_eq!(key_id_of("rk_0123456789abX"), None);
        assert_eq!(key_id_of("rk_0123"), None);
        assert_eq!(key_id_of("rk_0123456789éa_x"), None);
    }
}
