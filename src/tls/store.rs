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
