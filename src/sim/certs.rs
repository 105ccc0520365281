//! Certificates made at start: a CA, and a server certificate for `localhost` and `127.0.0.1`
//! signed by it. Clients trust the CA by adding it as a root; nothing switches verification off.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::SimError;

/// A private CA and a server certificate for `localhost` and `127.0.0.1` signed by it, with the
/// rustls server configuration that serves it: what the simulated venue (or any loopback test
/// server) presents, and what its clients trust by adding [`ca_pem`](Self::ca_pem) as a root.
///
/// ```
/// let certs = bitget_cancel::sim::LoopbackCerts::generate()?;
/// assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
/// let trusting_only_it = certs.client_config()?;
/// # let _ = trusting_only_it;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LoopbackCerts {
    /// The CA certificate, PEM: what clients add as a root.
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
    /// The server side: the certificate chain and key (ring provider, TLS 1.2 and 1.3).
    pub server_config: Arc<ServerConfig>,
}

impl std::fmt::Debug for LoopbackCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackCerts").finish_non_exhaustive()
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "bitget-cancel sim");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl LoopbackCerts {
    /// Generates fresh keys and certificates (ECDSA P-256) and the rustls server configuration
    /// (ring provider, TLS 1.2 and 1.3).
    pub fn generate() -> Result<LoopbackCerts, SimError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = named("bitget-cancel sim CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        server_params.distinguished_name = named("localhost");
        server_params.is_ca = IsCa::ExplicitNoCa;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::from(server_key),
            )?;

        Ok(LoopbackCerts {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_config: Arc::new(server_config),
        })
    }

    /// A rustls client configuration (ring provider) that trusts this CA and nothing else, for
    /// peers of a loopback server that are not this crate's engine (which adds the CA to the
    /// public roots through [`crate::tls::client_config`]).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_ca_pem_parses_and_matches_the_der() {
        let certs = LoopbackCerts::generate().unwrap();
        assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let parsed = CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).unwrap();
        assert_eq!(parsed, certs.ca_der);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(parsed).unwrap();
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn every_start_makes_a_different_ca() {
        let a = LoopbackCerts::generate().unwrap();
        let b = LoopbackCerts::generate().unwrap();
        assert_ne!(a.ca_der, b.ca_der);
    }
}
