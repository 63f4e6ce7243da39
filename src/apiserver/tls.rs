//! TLS for the server: its certificate, and client certificates asked for
//! but not required, so a request without one (or with one of another CA)
//! reaches the server and gets the API server's 401 `Status` rather than a
//! TLS alert, as the real API server does (it asks for a certificate and
//! leaves judging it to its authenticators).
//!
//! The handshake checks that the client holds the key of the certificate
//! it sent (its signature, by webpki); whether the certificate chains to
//! our CA is judged after the handshake, by the same webpki verifier, in
//! [`Tls::client_verified`].

use std::sync::Arc;

use anyhow::{Context as _, Result};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConfig, WebPkiClientVerifier};

use super::pki::Pki;
use crate::tls::AnyChain;

/// The server's TLS configuration and the check of client certificates.
pub struct Tls {
    pub config: Arc<ServerConfig>,
    ours: Arc<dyn ClientCertVerifier>,
}

impl Tls {
    pub fn new(pki: &Pki) -> Result<Tls> {
        let ca =
            CertificateDer::from_pem_slice(pki.ca_cert.as_bytes()).context("reading ca.crt")?;
        let mut roots = RootCertStore::empty();
        roots.add(ca).context("loading the CA certificate")?;
        let ours = WebPkiClientVerifier::builder(Arc::new(roots))
            .allow_unauthenticated()
            .build()
            .context("building the client certificate verifier")?;
        let cert = CertificateDer::from_pem_slice(pki.server_cert.as_bytes())
            .context("reading server.crt")?;
        let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes())
            .context("reading server.key")?;
        let mut config = ServerConfig::builder()
            // Any chain in the handshake (judged later, see the module), but
            // the client must hold the key of the certificate it sent.
            .with_client_cert_verifier(Arc::new(AnyChain::new(ours.root_hint_subjects().to_vec())))
            .with_single_cert(vec![cert], key)
            .context("loading the server certificate")?;
        // HTTP/1.1 only: watches and logs are chunked responses, and
        // kubectl speaks it when the server offers nothing else.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            ours,
        })
    }

    /// Whether the certificates a client sent chain to our CA and are fit
    /// for client authentication (now). `None` or an empty chain is no.
    pub fn client_verified(&self, chain: Option<&[CertificateDer<'_>]>) -> bool {
        let Some((end, intermediates)) = chain.and_then(<[_]>::split_first) else {
            return false;
        };
        self.ours
            .verify_client_cert(end, intermediates, UnixTime::now())
            .is_ok()
    }
}
