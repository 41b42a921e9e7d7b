//! TLS for the media link: the hub's development certificate, kept in a directory and
//! renewed before it expires, and the client's pinning of its SHA-256 fingerprint.
//!
//! The development certificate is ECDSA P-256 and valid for 13 days, so that browsers
//! can later reach the same endpoint over WebTransport with `serverCertificateHashes`
//! (which accepts only such short-lived, non-RSA certificates).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::ALPN;

/// File holding the kept certificate (DER).
pub const CERT_FILE: &str = "media-cert.der";
/// File holding the kept private key (PKCS#8 DER).
pub const KEY_FILE: &str = "media-key.der";
/// How long a generated certificate is valid, counted from an hour before it is made.
pub const DEV_VALIDITY: Duration = Duration::from_secs(13 * 24 * 3600);
/// A kept certificate closer than this to its expiry is replaced at start.
pub const RENEW_BEFORE: Duration = Duration::from_secs(3 * 24 * 3600);
/// Backdating of `not_before`, for clocks a little behind.
const BACKDATE: Duration = Duration::from_secs(3600);

/// Why a certificate could not be loaded, generated or used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Reading or writing a certificate file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Generating the key or certificate failed.
    #[error("generating the development certificate failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate is not valid X.509 DER.
    #[error("certificate cannot be parsed: {0}")]
    Parse(String),
    /// rustls refused the certificate or key.
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
    /// A pinned fingerprint is not 64 hex characters.
    #[error("certificate fingerprint {0:?} is not a SHA-256 in hex")]
    BadFingerprint(String),
}

/// SHA-256 of a DER certificate, lowercase hex: the fingerprint clients pin.
pub fn fingerprint(cert_der: &[u8]) -> String {
    hex::encode(Sha256::digest(cert_der))
}

/// The certificate and key the hub's endpoint presents.
#[derive(Debug)]
pub struct ServerIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    sha256: String,
    not_after: SystemTime,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        ServerIdentity {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
            sha256: self.sha256.clone(),
            not_after: self.not_after,
        }
    }
}

impl ServerIdentity {
    /// A configured certificate (DER) and its PKCS#8 private key (DER).
    pub fn from_der(cert_der: Vec<u8>, key_der: Vec<u8>) -> Result<Self, CertificateError> {
        let (_, not_after) = validity(&cert_der)?;
        let key = PrivatePkcs8KeyDer::from(key_der);
        // Fail now, not at the first handshake, if key and certificate do not fit.
        let cert = CertificateDer::from(cert_der);
        rustls::crypto::ring::sign::any_supported_type(&PrivateKeyDer::Pkcs8(key.clone_key()))
            .map_err(CertificateError::Tls)?;
        Ok(ServerIdentity {
            sha256: fingerprint(&cert),
            cert,
            key,
            not_after,
        })
    }

    /// A new self-signed ECDSA P-256 certificate for `server_names` (DNS names or IP
    /// addresses), valid from an hour before `now` until [`DEV_VALIDITY`] after that.
    pub fn generate_dev(
        server_names: &[String],
        now: SystemTime,
    ) -> Result<Self, CertificateError> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(server_names.to_vec())?;
        let not_before = now.checked_sub(BACKDATE).unwrap_or(UNIX_EPOCH);
        params.not_before = offset_date_time(not_before)?;
        params.not_after = offset_date_time(not_before + DEV_VALIDITY)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fieldlens media (development)");
        let cert = params.self_signed(&key_pair)?;
        ServerIdentity::from_der(cert.der().to_vec(), key_pair.serialize_der())
    }

    /// The development certificate kept in `dir`. A new one is generated and kept if
    /// there is none, if it cannot be read, or if it expires within [`RENEW_BEFORE`] of
    /// `now` (so the fingerprint stays the same across restarts until then).
    pub fn load_or_generate_dev(
        dir: &Path,
        server_names: &[String],
        now: SystemTime,
    ) -> Result<Self, CertificateError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if let (Ok(cert), Ok(key)) = (fs::read(&cert_path), fs::read(&key_path)) {
            match ServerIdentity::from_der(cert, key) {
                Ok(identity) if identity.is_fresh(now) => return Ok(identity),
                Ok(_) => {
                    tracing::info!(path = %cert_path.display(), "media certificate expires soon; renewing")
                }
                Err(error) => {
                    tracing::warn!(path = %cert_path.display(), %error, "media certificate unusable; replacing")
                }
            }
        }
        let identity = ServerIdentity::generate_dev(server_names, now)?;
        fs::create_dir_all(dir).map_err(|source| CertificateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_atomically(&key_path, identity.key.secret_pkcs8_der(), true)?;
        write_atomically(&cert_path, &identity.cert, false)?;
        tracing::info!(path = %cert_path.display(), sha256 = %identity.sha256, "generated media certificate");
        Ok(identity)
    }

    /// Whether the certificate is valid at `now` and stays so for [`RENEW_BEFORE`].
    fn is_fresh(&self, now: SystemTime) -> bool {
        now + RENEW_BEFORE < self.not_after
    }

    /// The SHA-256 fingerprint of the certificate (lowercase hex), for pairing to hand out.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert
    }

    /// When the certificate expires.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// quinn configuration of an endpoint presenting this certificate: TLS 1.3, ALPN
    /// `fieldlens/1`, quinn's default transport.
    pub fn quic_server_config(&self) -> Result<quinn::ServerConfig, CertificateError> {
        let mut crypto = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        crypto.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(crypto)
            .map_err(|e| CertificateError::Parse(e.to_string()))?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn offset_date_time(at: SystemTime) -> Result<time::OffsetDateTime, CertificateError> {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| CertificateError::Parse(format!("time out of range: {e}")))
}

/// `(not_before, not_after)` of a DER certificate.
fn validity(cert_der: &[u8]) -> Result<(SystemTime, SystemTime), CertificateError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| CertificateError::Parse(e.to_string()))?;
    let at = |timestamp: i64| UNIX_EPOCH + Duration::from_secs(timestamp.max(0) as u64);
    let validity = cert.validity();
    Ok((
        at(validity.not_before.timestamp()),
        at(validity.not_after.timestamp()),
    ))
}

fn write_atomically(path: &Path, data: &[u8], private: bool) -> Result<(), CertificateError> {
    let io = |source| CertificateError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Accepts exactly one server certificate: the one whose DER hashes to the pinned
/// SHA-256, while it is within its validity. The handshake signature is still verified,
/// so the server must hold the certificate's key.
#[derive(Debug)]
struct PinnedCertVerifier {
    sha256: [u8; 32],
    provider: Arc<CryptoProvider>,
}

/// The pinned certificate did not match.
#[derive(Debug, thiserror::Error)]
#[error("server certificate sha256 {actual} is not the pinned {expected}")]
struct PinMismatch {
    expected: String,
    actual: String,
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = Sha256::digest(end_entity.as_ref());
        if actual.as_slice() != self.sha256 {
            let mismatch = PinMismatch {
                expected: hex::encode(self.sha256),
                actual: hex::encode(actual),
            };
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch))),
            ));
        }
        let (not_before, not_after) = validity(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let now = UNIX_EPOCH + Duration::from_secs(now.as_secs());
        if now < not_before {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidYet,
            ));
        }
        if now > not_after {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// quinn configuration of a client that accepts only the certificate whose SHA-256 is
/// `certificate_sha256` (hex): TLS 1.3, ALPN `fieldlens/1`, quinn's default transport.
pub fn quic_client_config(
    certificate_sha256: &str,
) -> Result<quinn::ClientConfig, CertificateError> {
    let crypto =
        quinn::crypto::rustls::QuicClientConfig::try_from(client_crypto(certificate_sha256)?)
            .map_err(|e| CertificateError::Parse(e.to_string()))?;
    Ok(quinn::ClientConfig::new(Arc::new(crypto)))
}

/// rustls configuration of a client that pins `certificate_sha256` (hex): TLS 1.3,
/// ALPN `fieldlens/1`.
fn client_crypto(certificate_sha256: &str) -> Result<rustls::ClientConfig, CertificateError> {
    let bad = || CertificateError::BadFingerprint(certificate_sha256.to_owned());
    let sha256: [u8; 32] = hex::decode(certificate_sha256.trim())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    let provider = provider();
    let verifier = PinnedCertVerifier {
        sha256,
        provider: provider.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into()]
    }

    #[test]
    fn a_kept_certificate_is_reused_until_it_nears_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let start = SystemTime::now();
        let first = ServerIdentity::load_or_generate_dev(dir.path(), &names(), start).unwrap();
        let again = ServerIdentity::load_or_generate_dev(dir.path(), &names(), start).unwrap();
        assert_eq!(first.sha256(), again.sha256());
        assert_eq!(first.sha256(), fingerprint(first.certificate_der()));

        let lifetime = first.not_after().duration_since(start).unwrap();
        assert!(
            lifetime <= Duration::from_secs(14 * 24 * 3600),
            "{lifetime:?}"
        );

        let later = start + DEV_VALIDITY - RENEW_BEFORE;
        let renewed = ServerIdentity::load_or_generate_dev(dir.path(), &names(), later).unwrap();
        assert_ne!(renewed.sha256(), first.sha256());
        assert!(renewed.not_after() > first.not_after());
    }

    #[test]
    fn an_unreadable_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CERT_FILE), b"not a certificate").unwrap();
        fs::write(dir.path().join(KEY_FILE), b"not a key").unwrap();
        let identity =
            ServerIdentity::load_or_generate_dev(dir.path(), &names(), SystemTime::now()).unwrap();
        assert_eq!(
            fs::read(dir.path().join(CERT_FILE)).unwrap(),
            identity.certificate_der()
        );
    }

    #[test]
    fn the_certificate_is_ecdsa_p256() {
        let identity = ServerIdentity::generate_dev(&names(), SystemTime::now()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(identity.certificate_der()).unwrap();
        let algorithm = &cert.signature_algorithm.algorithm;
        assert_eq!(
            algorithm.to_id_string(),
            "1.2.840.10045.4.3.2",
            "ecdsa-with-SHA256"
        );
    }

    #[test]
    fn a_pin_must_be_a_sha256_in_hex() {
        assert!(matches!(
            client_crypto("abc"),
            Err(CertificateError::BadFingerprint(_))
        ));
        assert!(client_crypto(&"ab".repeat(32)).is_ok());
    }
}
