//! `tls = "acme"`: certificates from an ACME CA (Let's Encrypt by default) with instant-acme,
//! validated by TLS-ALPN-01 on the HTTPS port or HTTP-01 on the redirect listener. Account and
//! certificate live in DATA/acme; a background task renews and swaps them in without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use super::files::certified_key_from_pem;
use super::{CertStore, renew};
use crate::config::Config;

pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

const ACCOUNT_FILE: &str = "account.json";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
const DOMAINS_FILE: &str = "domains";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    Http01,
    TlsAlpn01,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub domains: Vec<String>,
    pub email: Option<String>,
    pub directory: String,
    pub ca_root: Option<PathBuf>,
    pub challenge: Challenge,
    pub renew_before_days: Option<u32>,
    pub check_interval: Duration,
}

impl Settings {
    pub fn from_config(config: &Config, data_dir: &std::path::Path) -> Settings {
        let directory = config.acme_directory.clone().unwrap_or_else(|| {
            if config.acme_staging {
                LETS_ENCRYPT_STAGING.to_string()
            } else {
                LETS_ENCRYPT.to_string()
            }
        });
        let challenge = match config.acme_challenge.as_str() {
            "http-01" => Challenge::Http01,
            "tls-alpn-01" => Challenge::TlsAlpn01,
            _ if config.redirect_port.is_some() => Challenge::Http01,
            _ => Challenge::TlsAlpn01,
        };
        Settings {
            dir: data_dir.join("acme"),
            domains: config
                .acme_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            email: config.acme_email.clone(),
            directory,
            ca_root: config.acme_ca_root.clone(),
            challenge,
            renew_before_days: config.acme_renew_before_days,
            check_interval: Duration::from_secs(config.acme_check_interval),
        }
    }
}

/// The account file: credentials plus the directory they belong to, so changing CA makes a new account.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// Serves a certificate already on disk (if it is for these domains) and starts the renewal task.
pub fn start(settings: Settings, store: Arc<CertStore>) -> anyhow::Result<()> {
    super::private_dir(&settings.dir)?;
    match load_stored(&settings) {
        Ok(Some(key)) => store.set(Arc::new(key)),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "stored ACME certificate unusable; requesting a new one")
        }
    }
    tokio::spawn(run(settings, store));
    Ok(())
}

fn load_stored(s: &Settings) -> anyhow::Result<Option<rustls::sign::CertifiedKey>> {
    let domains = std::fs::read_to_string(s.dir.join(DOMAINS_FILE)).unwrap_or_default();
    if domains != s.domains.join("\n") {
        return Ok(None);
    }
    let (Ok(cert), Ok(key)) = (
        std::fs::read(s.dir.join(CERT_FILE)),
        std::fs::read(s.dir.join(KEY_FILE)),
    ) else {
        return Ok(None);
    };
    certified_key_from_pem(&cert, &key).map(Some)
}

async fn run(settings: Settings, store: Arc<CertStore>) {
    let mut failures = 0u32;
    loop {
        let now = chrono::Utc::now().timestamp();
        let current = store.current_info();
        let due = current
            .as_ref()
            .map(|info| renew::is_due(now, info, settings.renew_before_days))
            .unwrap_or(true);
        if !due {
            let info = current.as_ref();
            let wait = info
                .map(|i| {
                    renew::next_check(now, i, settings.renew_before_days, settings.check_interval)
                })
                .unwrap_or(settings.check_interval);
            tokio::time::sleep(wait).await;
            continue;
        }
        match issue(&settings, &store).await {
            Ok(serial) => {
                failures = 0;
                tracing::info!(domains = ?settings.domains, %serial, "ACME certificate issued and now served");
                if let Some(info) = store.current_info()
                    && renew::is_due(
                        chrono::Utc::now().timestamp(),
                        &info,
                        settings.renew_before_days,
                    )
                {
                    tracing::warn!(
                        "acme_renew_before_days is longer than the CA's certificate lifetime; renewing every acme_check_interval"
                    );
                    tokio::time::sleep(settings.check_interval).await;
                }
            }
            Err(e) => {
                store.clear_challenges();
                let wait = renew::retry_delay(failures, settings.check_interval);
                failures = failures.saturating_add(1);
                tracing::warn!(error = %format!("{e:#}"), retry_in_secs = wait.as_secs(), "ACME certificate request failed");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn account(s: &Settings) -> anyhow::Result<Account> {
    let builder = || -> anyhow::Result<_> {
        Ok(match &s.ca_root {
            Some(root) => Account::builder_with_root(root)
                .with_context(|| format!("cannot use acme_ca_root {}", root.display()))?,
            None => Account::builder()?,
        })
    };
    let path = s.dir.join(ACCOUNT_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(stored) = serde_json::from_str::<StoredAccount>(&text)
        && stored.directory == s.directory
    {
        return builder()?
            .from_credentials(stored.credentials)
            .await
            .context("cannot restore the ACME account");
    }
    let contact = s.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.directory.clone(),
            None,
        )
        .await
        .with_context(|| format!("cannot create an ACME account at {}", s.directory))?;
    let stored = StoredAccount {
        directory: s.directory.clone(),
        credentials,
    };
    super::write_private(&path, serde_json::to_string(&stored)?.as_bytes())?;
    tracing::info!(directory = %s.directory, "ACME account created");
    Ok(account)
}

/// One complete order: challenges, finalize, download, store, swap in. Returns the new serial.
async fn issue(s: &Settings, store: &CertStore) -> anyhow::Result<String> {
    let account = account(s).await?;
    let identifiers: Vec<Identifier> = s.domains.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("new order")?;
    let challenge_type = match s.challenge {
        Challenge::Http01 => ChallengeType::Http01,
        Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.context("authorization")?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => bail!("authorization is {other:?}"),
            }
            let mut challenge = authz
                .challenge(challenge_type.clone())
                .with_context(|| format!("the CA offers no {challenge_type:?} challenge"))?;
            let domain = match challenge.identifier().identifier {
                Identifier::Dns(d) => d.clone(),
                other => bail!("unexpected identifier {other:?}"),
            };
            let key_auth = challenge.key_authorization();
            match s.challenge {
                Challenge::Http01 => store.put_http_challenge(&challenge.token, key_auth.as_str()),
                Challenge::TlsAlpn01 => store.put_alpn_challenge(
                    &domain,
                    Arc::new(alpn_certificate(&domain, key_auth.digest().as_ref())?),
                ),
            }
            challenge.set_ready().await.context("challenge ready")?;
        }
    }
    let retry = RetryPolicy::new().timeout(Duration::from_secs(120));
    let status = order
        .poll_ready(&retry)
        .await
        .context("waiting for validation")?;
    if status != OrderStatus::Ready {
        bail!("order is {status:?} after validation");
    }
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(s.domains.clone())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key)?;
    order.finalize_csr(csr.der()).await.context("finalize")?;
    let chain = order
        .poll_certificate(&retry)
        .await
        .context("certificate download")?;
    store.clear_challenges();
    let key_pem = key.serialize_pem();
    let certified = certified_key_from_pem(chain.as_bytes(), key_pem.as_bytes())?;
    super::write_private(&s.dir.join(KEY_FILE), key_pem.as_bytes())?;
    super::write_private(&s.dir.join(CERT_FILE), chain.as_bytes())?;
    super::write_private(&s.dir.join(DOMAINS_FILE), s.domains.join("\n").as_bytes())?;
    let serial = certified
        .cert
        .first()
        .and_then(|c| super::der::cert_info(c.as_ref()))
        .map(|i| i.serial_hex())
        .unwrap_or_default();
    store.set(Arc::new(certified));
    Ok(serial)
}

/// The RFC 8737 validation certificate: the domain as SAN and the key authorization digest in a
/// critical acmeIdentifier extension.
pub fn alpn_certificate(domain: &str, digest: &[u8]) -> anyhow::Result<rustls::sign::CertifiedKey> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key)?;
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki, which
    // rejects the critical acmeIdentifier extension this certificate exists to carry.
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    let signer = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der.into())?;
    Ok(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_certificate_carries_the_domain() {
        let k = alpn_certificate("books.example.org", &[7u8; 32]).expect("cert");
        assert_eq!(k.cert.len(), 1);
        assert!(k.key.public_key().is_some());
    }

    #[test]
    fn directory_and_challenge_from_config() {
        let dir = std::path::Path::new("/data");
        let mut c = Config::default();
        let s = Settings::from_config(&c, dir);
        assert_eq!(s.directory, LETS_ENCRYPT);
        assert_eq!(s.challenge, Challenge::TlsAlpn01);
        c.acme_staging = true;
        c.redirect_port = Some(80);
        let s = Settings::from_config(&c, dir);
        assert_eq!(s.directory, LETS_ENCRYPT_STAGING);
        assert_eq!(s.challenge, Challenge::Http01);
        c.acme_directory = Some("https://ca.internal/dir".into());
        assert_eq!(
            Settings::from_config(&c, dir).directory,
            "https://ca.internal/dir"
        );
    }
}
