//! STARTTLS (RFC 3207): the certificate, and re-reading it without a restart.
//!
//! Certificates are renewed every few weeks (ACME) and a mail server must not drop sessions
//! to pick up the new one, so the loaded configuration sits behind a lock and SIGHUP swaps
//! it; sessions take a snapshot when they start a handshake. A reload that fails keeps the
//! old certificate and says why in the log. rustls runs on the `ring` provider only.

use crate::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// A certificate or key that cannot be used.
#[derive(Debug)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// The STARTTLS certificate, reloadable.
pub(crate) struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Loads `[tls]`; `None` when TLS is not configured.
    pub fn load(config: &TlsConfig) -> Result<Option<Tls>, TlsError> {
        let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
            return Ok(None);
        };
        let current = RwLock::new(Arc::new(server_config(cert, key)?));
        Ok(Some(Tls {
            cert: cert.clone(),
            key: key.clone(),
            current,
        }))
    }

    /// Re-reads the files; on error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(server_config(&self.cert, &self.key)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// An acceptor with the certificate in use now.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        TlsAcceptor::from(config)
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("tls.cert {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "tls.cert {}: no PEM CERTIFICATE in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError(format!("tls.key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError(format!(
                "tls.cert {} does not go with tls.key: {e}",
                cert.display()
            ))
        })
}
