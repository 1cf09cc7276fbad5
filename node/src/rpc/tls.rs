//! Certificates and TLS settings of the RPC.
//!
//! The server needs a certificate; a node usually has no domain name and no CA, so by default it makes a
//! self-signed one (rcgen) on first start and keeps it next to its database (`DB.cert.pem`,
//! `DB.key.pem`, the key readable by its owner only), reusing it on every start so that clients can pin
//! it. `--cert`/`--key` supply real ones instead.
//!
//! A client trusts a server in one of two ways ([`Trust`]): **pinned** — the server must present exactly
//! the certificate in a given file (for a self-signed node, the `DB.cert.pem` it printed; the host name
//! is not checked, the pin is stronger than a name) — or **insecure** — any certificate, for loopback and
//! development only: it encrypts but does not authenticate the server. Both still verify the TLS 1.3
//! handshake signature, so a pinned server must hold the certificate's key.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// A certificate problem.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(path: &Path, why: impl ToString) -> TlsError {
    TlsError::File { path: path.to_owned(), why: why.to_string() }
}

/// A server's certificate chain and key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key.
    pub fn load(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| file_error(cert, e))?;
        if chain.is_empty() {
            return Err(file_error(cert, "no certificate in the file"));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
        Ok(Identity { chain, key: key_der })
    }

    /// The self-signed identity kept next to the database `db` (`DB.cert.pem`, `DB.key.pem`), made on the
    /// first call. Returns it and the certificate's path (for clients to pin).
    pub fn self_signed_for(db: &Path) -> Result<(Identity, PathBuf), TlsError> {
        let (cert, key) = (sibling(db, "cert.pem"), sibling(db, "key.pem"));
        if !(cert.exists() && key.exists()) {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
            // The key first: a crash between the two leaves no certificate, so both are made again.
            write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
            std::fs::write(&cert, made.cert.pem()).map_err(|e| file_error(&cert, e))?;
        }
        Ok((Identity::load(&cert, &key)?, cert))
    }
}

/// `DB.suffix`, beside the database.
fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push(".");
    name.push(suffix);
    db.with_file_name(name)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).and_then(|mut f| f.write_all(bytes)).map_err(|e| file_error(path, e))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The server's TLS 1.3 settings for QUIC.
pub(crate) fn server_config(identity: Identity) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)?;
    config.alpn_protocols = vec![super::protocol::ALPN.to_vec(), super::protocol::ALPN_V1.to_vec()];
    Ok(config)
}

/// How a client decides to trust a server (see the module docs).
#[derive(Clone, Debug)]
pub enum Trust {
    /// Exactly this certificate.
    Pinned(CertificateDer<'static>),
    /// Any certificate: encrypted, not authenticated. Loopback and development only.
    Insecure,
}

impl Trust {
    /// Pins the first certificate of a PEM file.
    pub fn pinned_file(path: &Path) -> Result<Trust, TlsError> {
        CertificateDer::from_pem_file(path).map(Trust::Pinned).map_err(|e| file_error(path, e))
    }
}

/// The client's TLS 1.3 settings for QUIC.
pub(crate) fn client_config(trust: Trust) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let verifier = Arc::new(Verifier { trust, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![super::protocol::ALPN.to_vec()];
    Ok(config)
}

/// Checks the server's certificate against the pin (or not at all), and the handshake signatures always.
#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            Trust::Pinned(pin) if pin.as_ref() != end_entity.as_ref() => {
                Err(rustls::Error::General("the server's certificate is not the pinned one (--cert)".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
