//! The rustls client configuration: ring provider, public web roots, an optional extra CA.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::TlsError;

/// Builds the client configuration every connection shares.
///
/// - Crypto: rustls's `ring` provider, its safe default protocol versions (TLS 1.3 and 1.2) and
///   cipher suites.
/// - Trust: the Mozilla root programme as shipped by `webpki-roots`, plus every certificate in
///   `extra_ca_pem` when given (for a private venue, a proxy or the local simulated venue).
///   Certificate and host name verification are always on; nothing in this crate can turn them
///   off.
/// - No client certificate, no ALPN (the WebSocket upgrade is plain HTTP/1.1).
/// - Secret extraction enabled, so [`TlsStream`](super::TlsStream) can protect records itself
///   once rustls has completed the handshake.
///
/// Errors: [`TlsError::NoCertificateInPem`] when the PEM holds no certificate,
/// [`TlsError::BadCaPem`] when it cannot be parsed, [`TlsError::BadCaCertificate`] when a
/// certificate is not a usable trust anchor.
///
/// ```
/// use bitget_cancel::tls::{client_config, TlsError};
///
/// let config = client_config(None)?;
/// assert!(config.alpn_protocols.is_empty());
/// assert!(config.enable_secret_extraction);
///
/// // A PEM without a certificate in it is refused, not silently ignored.
/// let refused = client_config(Some(b"no certificate here".as_slice()));
/// assert!(matches!(refused, Err(TlsError::NoCertificateInPem)));
/// # Ok::<(), TlsError>(())
/// ```
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        add_pem_roots(&mut roots, pem)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Lets `TlsStream` take the traffic keys once the handshake is over, to protect records
    // without allocating. The keys never leave the connection's memory.
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

/// Adds every `CERTIFICATE` section of `pem` to `roots`; at least one must be present.
fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), TlsError> {
    let mut added = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(TlsError::BadCaPem)?;
        roots.add(cert).map_err(TlsError::BadCaCertificate)?;
        added += 1;
    }
    if added == 0 {
        return Err(TlsError::NoCertificateInPem);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated_ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key generation");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signed CA").pem()
    }

    #[test]
    fn accepts_an_extra_ca_certificate() {
        let pem = generated_ca_pem();
        assert!(client_config(Some(pem.as_bytes())).is_ok());
    }

    #[test]
    fn accepts_several_ca_certificates_in_one_pem() {
        let pem = format!("{}{}", generated_ca_pem(), generated_ca_pem());
        let mut roots = RootCertStore::empty();
        add_pem_roots(&mut roots, pem.as_bytes()).expect("two roots");
        assert_eq!(roots.len(), 2);
    }

    #[test]
    fn refuses_a_pem_without_a_certificate() {
        let key_only = rcgen::KeyPair::generate().expect("key").serialize_pem();
        for pem in [b"".as_slice(), b"garbage".as_slice(), key_only.as_bytes()] {
            assert!(matches!(
                client_config(Some(pem)),
                Err(TlsError::NoCertificateInPem)
            ));
        }
    }

    #[test]
    fn refuses_a_pem_with_broken_base64() {
        let pem = b"-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            client_config(Some(pem.as_slice())),
            Err(TlsError::BadCaPem(_))
        ));
    }

    #[test]
    fn refuses_a_certificate_that_is_not_der() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            client_config(Some(pem.as_slice())),
            Err(TlsError::BadCaCertificate(_))
        ));
    }
}
