//! `[console]`: the operator's web console (`/console/`).
//!
//! Off by default: every byte its pages show came from strangers, so an operator turns it on
//! knowingly, on `[operator] listen` (a private network) when they can. The password is
//! kept only as an argon2 hash (`replyd console hash-password` makes one), so the config
//! file never holds it; its key contains `password`, so `check-config` redacts it.

use super::{de_duration, ser_duration};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[console]`: the operator's web console.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve `/console/` (beside the operator's endpoints).
    pub enabled: bool,
    /// The login password's argon2 hash (a PHC string, `$argon2id$…`). Unset: only an API
    /// key logs in.
    pub password_hash: Option<String>,
    /// How long a login lasts (sessions are kept in memory: a restart logs everyone out).
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub session_lifetime: Duration,
    /// Login attempts per client IP address and minute; past it, `429`.
    pub max_login_attempts_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: false,
            password_hash: None,
            session_lifetime: Duration::from_secs(8 * 3600),
            max_login_attempts_per_minute: 10,
        }
    }
}

impl ConsoleConfig {
    /// A hash that is not an argon2 PHC string, or a lifetime or limit of zero.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(hash) = &self.password_hash {
            let parsed = argon2::PasswordHash::new(hash).map_err(|e| {
                (
                    "console.password_hash",
                    format!(
                        "not a PHC hash string ({e}); make one with `replyd console hash-password`"
                    ),
                )
            })?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err((
                    "console.password_hash",
                    format!(
                        "an {} hash; an argon2 one is needed (`replyd console hash-password`)",
                        parsed.algorithm
                    ),
                ));
            }
        }
        if self.session_lifetime.is_zero() {
            return Err(("console.session_lifetime", "must be greater than 0".into()));
        }
        if self.max_login_attempts_per_minute == 0 {
            return Err((
                "console.max_login_attempts_per_minute",
                "must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The argon2id hash (default parameters, a fresh 16-byte salt) of `password`, as a PHC
/// string for `[console] password_hash`.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    crate::address::random_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC `hash` (in constant time; CPU-heavy by design: call
/// it off the async runtime).
pub fn password_matches(hash: &str, password: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    match argon2::PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}
