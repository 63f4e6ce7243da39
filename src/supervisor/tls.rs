//! TLS for httpGet probes and hooks with `scheme: HTTPS`. The kubelet
//! dials them with `InsecureSkipVerify`: any certificate is accepted
//! (self-signed, expired, for another name), but the handshake itself is
//! still checked, so the peer must hold the key of the certificate it
//! shows. This does the same with rustls and its ring provider.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tls::AnyChain;

/// One client configuration for the supervisor's life.
fn config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AnyChain::new(Vec::new()));
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
