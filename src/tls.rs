//! The one certificate verifier both ends of our TLS use: it takes the
//! peer's certificate chain as it is, but checks the handshake signature
//! against it, so the peer must hold the key of the certificate it shows.
//! The probes' client takes it as the kubelet's `InsecureSkipVerify`;
//! the API server takes any client chain in the handshake and judges it
//! afterwards (`apiserver::tls`), so that a stranger gets a 401 rather
//! than a TLS alert.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Accepts every certificate chain; verifies handshake signatures with
/// the ring provider's algorithms (the crate's only provider).
#[derive(Debug)]
pub struct AnyChain {
    algorithms: WebPkiSupportedAlgorithms,
    /// The CAs a server names when it asks for a client certificate (Go's
    /// TLS client sends only one that chains to them).
    hints: Vec<DistinguishedName>,
}

impl AnyChain {
    pub fn new(hints: Vec<DistinguishedName>) -> AnyChain {
        AnyChain {
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            hints,
        }
    }
}

/// The signature checks, the same in both roles.
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();
}

impl ClientCertVerifier for AnyChain {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures!();
}
