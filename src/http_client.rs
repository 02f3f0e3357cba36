//! What replyd's outgoing HTTP requests share (`replyd relay`, the webhooks): the rustls
//! client configuration, with the system's trust anchors and the `ring` provider, so there
//! is one TLS stack for serving and for calling out.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;

/// The system's trust anchors, for an `https` URL.
pub(crate) fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    tls_connector_trusting(None)
}

/// Trusting the certificates of `ca_file` (PEM) only, or else the system's trust anchors.
pub(crate) fn tls_connector_trusting(
    ca_file: Option<&Path>,
) -> Result<tokio_rustls::TlsConnector, String> {
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client_config(
        ca_file,
    )?)))
}

/// The rustls client configuration: `ca_file`'s certificates (PEM) or else the system's
/// trust anchors, the `ring` provider (also the PostgreSQL store's TLS).
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "{}: no PEM CERTIFICATE in the file",
                    path.display()
                ));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no trusted root certificates found on this system".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
