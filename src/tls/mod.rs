//! HTTPS built in: which mode to run in, the certificate store that every mode feeds, and the
//! rustls server configuration. Certificates are swapped in the store, never in the config, so a
//! reload or renewal needs no restart and no new listener.

pub mod acme;
pub mod der;
pub mod files;
pub mod listener;
pub mod redirect;
pub mod renew;
pub mod self_signed;
pub mod store;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::ServerConfig;

use crate::config::Config;
pub use store::CertStore;

/// ALPN id of TLS-ALPN-01 validation handshakes (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Files,
    SelfSigned,
    Acme,
}

/// The mode to run in and why, so the start-up log can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    pub reason: &'static str,
}

/// Addresses that no stranger on the internet can reach directly (RFC 1918, CGNAT/Tailscale, ULA).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback() || v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

/// Plain HTTP is fine on loopback, when the operator insists, or behind a trusted reverse proxy
/// on an address the internet cannot reach.
pub fn plain_http_allowed(config: &Config) -> bool {
    config.bind.is_loopback()
        || config.insecure_http
        || (config.behind_proxy && !config.trusted_proxies.is_empty() && is_private(config.bind))
}

/// Decides the TLS mode from the configuration; fails closed on plain HTTP where it is not safe.
pub fn decide(config: &Config) -> anyhow::Result<Decision> {
    let has_files = config.tls_cert.is_some() || config.tls_key.is_some();
    let files_complete = config.tls_cert.is_some() && config.tls_key.is_some();
    let decision = match config.tls.as_str() {
        "off" => {
            if !plain_http_allowed(config) {
                bail!(
                    "tls = \"off\" on the non-loopback address {} would send passwords in clear text; \
                     use a certificate (tls = \"files\", \"self-signed\" or \"acme\"), or, if a reverse proxy \
                     terminates TLS, set behind_proxy = true with trusted_proxies and a private bind address, \
                     or pass --insecure-http (SHELFWARDEN_INSECURE_HTTP=1)",
                    config.bind
                );
            }
            Decision {
                mode: Mode::Off,
                reason: "tls = \"off\"",
            }
        }
        "files" => Decision {
            mode: Mode::Files,
            reason: "tls = \"files\"",
        },
        "self-signed" => Decision {
            mode: Mode::SelfSigned,
            reason: "tls = \"self-signed\"",
        },
        "acme" => Decision {
            mode: Mode::Acme,
            reason: "tls = \"acme\"",
        },
        "auto" if has_files => Decision {
            mode: Mode::Files,
            reason: "tls_cert and tls_key are set",
        },
        "auto" if !config.acme_domains.is_empty() => Decision {
            mode: Mode::Acme,
            reason: "acme_domains is set",
        },
        "auto" if config.bind.is_loopback() => Decision {
            mode: Mode::Off,
            reason: "loopback bind",
        },
        "auto" if plain_http_allowed(config) => Decision {
            mode: Mode::Off,
            reason: if config.insecure_http {
                "insecure_http is set"
            } else {
                "behind a trusted reverse proxy on a private address"
            },
        },
        "auto" => Decision {
            mode: Mode::SelfSigned,
            reason: "non-loopback bind without a certificate",
        },
        other => bail!(
            "tls must be \"auto\", \"off\", \"files\", \"self-signed\" or \"acme\", got {other:?}"
        ),
    };
    if decision.mode == Mode::Files && !files_complete {
        bail!("TLS from files needs both tls_cert and tls_key (--tls-cert, --tls-key)");
    }
    if decision.mode == Mode::Acme && config.acme_domains.is_empty() {
        bail!("tls = \"acme\" needs at least one domain in acme_domains (--acme-domain)");
    }
    Ok(decision)
}

/// Configuration checks for the TLS keys; called from `Config::validate`.
pub fn validate(config: &Config) -> anyhow::Result<()> {
    decide(config)?;
    if !matches!(
        config.acme_challenge.as_str(),
        "auto" | "http-01" | "tls-alpn-01"
    ) {
        bail!("acme_challenge must be \"auto\", \"http-01\" or \"tls-alpn-01\"");
    }
    if config.acme_challenge == "http-01" && config.redirect_port.is_none() {
        bail!(
            "acme_challenge = \"http-01\" needs the plain-HTTP listener: set redirect_port (usually 80)"
        );
    }
    if let Some(url) = &config.acme_directory
        && !url.starts_with("https://")
    {
        bail!("acme_directory must be an https:// URL");
    }
    if config.acme_check_interval == 0 {
        bail!("acme_check_interval must be at least 1 second");
    }
    if let Some(rp) = config.redirect_port
        && rp != 0
        && rp == config.port
    {
        bail!("redirect_port must differ from port");
    }
    for d in &config.acme_domains {
        if d.is_empty() || d.starts_with('*') || d.contains(['/', ':', ' ']) {
            bail!(
                "acme_domains entry {d:?} is not a plain host name (wildcards need DNS-01, which is not supported)"
            );
        }
    }
    Ok(())
}

/// Loads or obtains the certificate for `mode` and starts its reload or renewal task.
/// Returns the store the listener serves from. Call inside the Tokio runtime.
pub fn start(mode: Mode, config: &Config, data_dir: &Path) -> anyhow::Result<Arc<CertStore>> {
    install_crypto_provider();
    let store = CertStore::new();
    match mode {
        Mode::Off => {}
        Mode::Files => {
            let (Some(cert), Some(key)) = (config.tls_cert.clone(), config.tls_key.clone()) else {
                bail!("TLS from files needs both tls_cert and tls_key");
            };
            files::start(cert, key, store.clone())?;
        }
        Mode::SelfSigned => {
            let names = self_signed::wanted_names(config);
            let (key, fp) = self_signed::load_or_create(&data_dir.join("tls"), &names)?;
            store.set(Arc::new(key));
            println!("Shelfwarden TLS certificate (self-signed) SHA-256 fingerprint: {fp}");
            tracing::info!(fingerprint = %fp, names = ?names, "serving a self-signed certificate: browsers will warn until you trust it; use tls = \"files\" or \"acme\" for a trusted one");
        }
        Mode::Acme => {
            acme::start(acme::Settings::from_config(config, data_dir), store.clone())?;
        }
    }
    Ok(store)
}

/// Installs ring as the process-wide rustls provider; a second call is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The server config: rustls defaults (TLS 1.2 and 1.3), certificates from the store.
pub fn server_config(store: Arc<CertStore>, acme_alpn: bool) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme_alpn {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    Ok(config)
}

/// Writes a file that holds a secret: 0600 from the first byte, replaced atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A folder in the data dir for TLS material, 0700.
pub fn private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// `AB:CD:…` SHA-256 of a certificate, the form browsers show.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The host part of `public_url`, if any.
pub fn public_host(config: &Config) -> Option<String> {
    let url = config.public_url.as_deref()?;
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(f: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        f(&mut c);
        c
    }

    #[test]
    fn loopback_defaults_to_plain_http() {
        let d = decide(&Config::default()).expect("decide");
        assert_eq!(d.mode, Mode::Off);
    }

    #[test]
    fn public_bind_without_certificate_gets_self_signed() {
        let c = cfg(|c| c.bind = "0.0.0.0".parse().expect("ip"));
        assert_eq!(decide(&c).expect("decide").mode, Mode::SelfSigned);
        let c = cfg(|c| c.bind = "192.168.1.5".parse().expect("ip"));
        assert_eq!(decide(&c).expect("decide").mode, Mode::SelfSigned);
    }

    #[test]
    fn plain_http_on_public_bind_needs_a_reason() {
        let off = |f: fn(&mut Config)| {
            cfg(|c| {
                c.bind = "0.0.0.0".parse().expect("ip");
                c.tls = "off".into();
                f(c)
            })
        };
        assert!(decide(&off(|_| {})).is_err());
        assert_eq!(
            decide(&off(|c| c.insecure_http = true))
                .expect("decide")
                .mode,
            Mode::Off
        );
        // behind_proxy only counts on an address the internet cannot reach.
        assert!(decide(&off(|c| c.behind_proxy = true)).is_err());
        let proxied = cfg(|c| {
            c.bind = "10.0.0.2".parse().expect("ip");
            c.tls = "off".into();
            c.behind_proxy = true;
        });
        assert_eq!(decide(&proxied).expect("decide").mode, Mode::Off);
        let no_proxies = cfg(|c| {
            c.bind = "10.0.0.2".parse().expect("ip");
            c.behind_proxy = true;
            c.trusted_proxies.clear();
        });
        assert_eq!(decide(&no_proxies).expect("decide").mode, Mode::SelfSigned);
    }

    #[test]
    fn certificates_select_their_mode() {
        let c = cfg(|c| {
            c.tls_cert = Some("c.pem".into());
            c.tls_key = Some("k.pem".into());
        });
        assert_eq!(decide(&c).expect("decide").mode, Mode::Files);
        assert!(decide(&cfg(|c| c.tls_cert = Some("c.pem".into()))).is_err());
        let c = cfg(|c| c.acme_domains = vec!["books.example.org".into()]);
        assert_eq!(decide(&c).expect("decide").mode, Mode::Acme);
        assert!(decide(&cfg(|c| c.tls = "acme".into())).is_err());
        assert!(decide(&cfg(|c| c.tls = "on".into())).is_err());
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "100.100.1.1",
            "fd00::1",
            "::1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["0.0.0.0", "8.8.8.8", "100.128.0.1", "2001:db8::1", "::"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn public_host_of_url() {
        let c = cfg(|c| c.public_url = Some("https://books.example.org:8443/x".into()));
        assert_eq!(public_host(&c).as_deref(), Some("books.example.org"));
        let c = cfg(|c| c.public_url = Some("https://[fd00::1]/".into()));
        assert_eq!(public_host(&c).as_deref(), Some("fd00::1"));
    }
}
