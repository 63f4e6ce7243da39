//! TLS for httpGet probes and hooks with `scheme: HTTPS`. The kubelet
//! dials them with `InsecureSkipVerify`: any certificate is accepted
//! (self-signed, expired, for another name), but the handshake itself is
//! still checked, so the peer must hold the key of the certificate it
//! shows. This does the same with rustls and its ring provider.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Accepts every certificate chain; verifies handshake signatures.
#[derive(Debug)]
struct SkipVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for SkipVerify {
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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// One client configuration for the supervisor's life.
fn config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(SkipVerify(provider.signature_verification_algorithms));
            let config =
                ClientConfig::builder_with_provider(Arc::<CryptoProvider>::clone(&provider))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("tls: {e}"))?
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Runs the TLS handshake on `stream`, connected to `host`. An IP address
/// sends no SNI, as in Go.
pub async fn connect(
    stream: TcpStream,
    host: std::net::IpAddr,
) -> Result<TlsStream<TcpStream>, String> {
    let connector = TlsConnector::from(config()?);
    connector
        .connect(ServerName::IpAddress(host.into()), stream)
        .await
        .map_err(|e| tls_error(&e))
}

/// Go's wording for the common handshake failures.
fn tls_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        return "tls: first record does not look like a TLS handshake".into();
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "EOF".into(),
        _ => format!("tls: {text}"),
    }
}
