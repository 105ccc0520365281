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

/// The CA the clients trust and the TLS configuration the venue serves with.
pub(super) struct SimCerts {
    pub(super) ca_pem: String,
    pub(super) ca_der: CertificateDer<'static>,
    pub(super) server_config: Arc<ServerConfig>,
}

impl std::fmt::Debug for SimCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCerts").finish_non_exhaustive()
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "bitget-cancel sim");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl SimCerts {
    /// Generates fresh keys and certificates (ECDSA P-256) and the rustls server configuration
    /// (ring provider, TLS 1.2 and 1.3).
    pub(super) fn generate() -> Result<SimCerts, SimError> {
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

        Ok(SimCerts {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_config: Arc::new(server_config),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_ca_pem_parses_and_matches_the_der() {
        let certs = SimCerts::generate().unwrap();
        assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let parsed = CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).unwrap();
        assert_eq!(parsed, certs.ca_der);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(parsed).unwrap();
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn every_start_makes_a_different_ca() {
        let a = SimCerts::generate().unwrap();
        let b = SimCerts::generate().unwrap();
        assert_ne!(a.ca_der, b.ca_der);
    }
}
