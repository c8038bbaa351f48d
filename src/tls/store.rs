//! The certificate the listener presents, plus pending ACME challenge answers. Every mode writes
//! here; the handshake reads here, so a new certificate takes effect on the next connection.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::ACME_TLS_ALPN;
use super::der::{self, CertInfo};

#[derive(Default)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// TLS-ALPN-01 validation certificates, by domain.
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01 key authorizations, by token.
    http_challenges: RwLock<HashMap<String, String>>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore").finish_non_exhaustive()
    }
}

// A poisoned lock only means a writer panicked mid-assignment of an Arc or map entry, which
// leaves the value whole; serving on is better than failing every handshake.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl CertStore {
    pub fn new() -> Arc<CertStore> {
        Arc::new(CertStore::default())
    }

    pub fn set(&self, key: Arc<CertifiedKey>) {
        *write(&self.current) = Some(key);
    }

    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        read(&self.current).clone()
    }

    /// Serial and validity of the certificate being served.
    pub fn current_info(&self) -> Option<CertInfo> {
        let key = self.current()?;
        der::cert_info(key.cert.first()?.as_ref())
    }

    pub fn put_alpn_challenge(&self, domain: &str, key: Arc<CertifiedKey>) {
        write(&self.alpn_challenges).insert(domain.to_ascii_lowercase(), key);
    }

    pub fn put_http_challenge(&self, token: &str, key_authorization: &str) {
        write(&self.http_challenges).insert(token.to_string(), key_authorization.to_string());
    }

    pub fn http_challenge(&self, token: &str) -> Option<String> {
        read(&self.http_challenges).get(token).cloned()
    }

    pub fn clear_challenges(&self) {
        write(&self.alpn_challenges).clear();
        write(&self.http_challenges).clear();
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .map(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN))
            .unwrap_or(false);
        if acme {
            let name = hello.server_name()?.to_ascii_lowercase();
            return read(&self.alpn_challenges).get(&name).cloned();
        }
        self.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    /// Accepts any certificate and signature: these tests look at which certificate is presented.
    /// (webpki cannot even parse the validation certificate: its acmeIdentifier extension is
    /// critical and unknown to it.)
    #[derive(Debug)]
    struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// Handshakes over an in-memory pipe; returns the presented leaf and the negotiated ALPN.
    async fn handshake(
        store: Arc<CertStore>,
        alpn: &[u8],
        sni: &str,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = Arc::new(crate::tls::server_config(store, true).ok()?);
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        client.alpn_protocols = vec![alpn.to_vec()];
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        tokio::spawn(async move {
            let _ = acceptor.accept(b).await;
        });
        let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(ServerName::try_from(sni.to_string()).ok()?, a)
            .await
            .ok()?;
        let conn = tls.get_ref().1;
        Some((
            conn.peer_certificates()?.first()?.to_vec(),
            conn.alpn_protocol()?.to_vec(),
        ))
    }

    fn self_signed(name: &str) -> Arc<CertifiedKey> {
        let (cert, key) = crate::tls::self_signed::generate(&[name.to_string()]).expect("cert");
        Arc::new(
            crate::tls::files::certified_key_from_pem(cert.as_bytes(), key.as_bytes())
                .expect("key"),
        )
    }

    #[tokio::test]
    async fn tls_alpn_01_gets_the_challenge_certificate_others_the_real_one() {
        let store = CertStore::new();
        let real = self_signed("books.test");
        store.set(real.clone());
        let challenge =
            Arc::new(crate::tls::acme::alpn_certificate("books.test", &[9u8; 32]).expect("cert"));
        store.put_alpn_challenge("books.test", challenge.clone());

        let (cert, alpn) = handshake(store.clone(), ACME_TLS_ALPN, "books.test")
            .await
            .expect("validation handshake");
        assert_eq!(alpn, ACME_TLS_ALPN);
        assert_eq!(cert, challenge.cert[0].to_vec());

        let (cert, alpn) = handshake(store.clone(), b"http/1.1", "books.test")
            .await
            .expect("normal handshake");
        assert_eq!(alpn, b"http/1.1");
        assert_eq!(cert, real.cert[0].to_vec());

        // No pending challenge for that name: the validation handshake fails.
        assert!(
            handshake(store.clone(), ACME_TLS_ALPN, "other.test")
                .await
                .is_none()
        );
        store.clear_challenges();
        assert!(
            handshake(store, ACME_TLS_ALPN, "books.test")
                .await
                .is_none()
        );
    }
}
