//! IP allowlists: a global `allow` list for every request, an `admin_allow` list for admin routes
//! and admin logins, and per-user networks (the `users.allowed_networks` column). An empty list
//! allows everything, so the feature is opt-in. The address checked must come from
//! `client_ip::resolve`, never from a header directly. A refusal is a 403 plus an
//! `allowlist.refused` audit event.
//!
//! Entries are CIDRs, bare addresses (a /32 or /128) or preset names (`lan`, `tailscale`,
//! `loopback`), so an admin can write `allow = ["lan", "tailscale"]`.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::auth::client_ip::canonical;

/// Private and local networks: RFC 1918, IPv6 unique-local (fc00::/7) and loopback.
pub const LAN: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "127.0.0.0/8",
    "::1/128",
];

/// Tailscale's address ranges: the CGNAT block it assigns from and its IPv6 ULA prefix.
pub const TAILSCALE: &[&str] = &["100.64.0.0/10", "fd7a:115c:a1e0::/48"];

pub const LOOPBACK: &[&str] = &["127.0.0.0/8", "::1/128"];

/// The networks of a preset name, if it is one.
pub fn preset(name: &str) -> Option<&'static [&'static str]> {
    match name.trim().to_ascii_lowercase().as_str() {
        "lan" | "private" => Some(LAN),
        "tailscale" => Some(TAILSCALE),
        "loopback" | "local" => Some(LOOPBACK),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is not a CIDR, an IP address or a preset (lan, tailscale, loopback)")]
pub struct BadEntry {
    pub entry: String,
}

/// Parses a configured list; any bad entry fails the whole list (a typo must not open access).
pub fn parse_list<S: AsRef<str>>(entries: &[S]) -> Result<Vec<IpNet>, BadEntry> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref().trim();
        let bad = || BadEntry {
            entry: e.to_string(),
        };
        if let Some(nets) = preset(e) {
            for n in nets {
                out.push(n.parse::<IpNet>().map_err(|_| bad())?);
            }
        } else if let Ok(net) = e.parse::<IpNet>() {
            out.push(net.trunc());
        } else if let Ok(ip) = e.parse::<IpAddr>() {
            out.push(IpNet::from(canonical(ip)));
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// True if `ip` is in `list`, or `list` is empty.
pub fn permits(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    list.is_empty() || list.iter().any(|n| n.contains(&ip))
}

/// Which list refused a request (for the audit event's details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Global,
    Admin,
    User,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Global => "allow",
            Refusal::Admin => "admin_allow",
            Refusal::User => "user",
        }
    }
}

/// The configured server-wide lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlists {
    pub allow: Vec<IpNet>,
    pub admin_allow: Vec<IpNet>,
}

impl Allowlists {
    /// Every request, before authentication.
    pub fn check_global(&self, ip: IpAddr) -> Result<(), Refusal> {
        if permits(&self.allow, ip) {
            Ok(())
        } else {
            Err(Refusal::Global)
        }
    }

    /// After authentication: admin routes and admin users' logins also need `admin_allow`, and
    /// every user their own networks.
    pub fn check_user(
        &self,
        ip: IpAddr,
        is_admin: bool,
        user_networks: &[IpNet],
    ) -> Result<(), Refusal> {
        self.check_global(ip)?;
        if is_admin && !permits(&self.admin_allow, ip) {
            return Err(Refusal::Admin);
        }
        if !permits(user_networks, ip) {
            return Err(Refusal::User);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn presets() {
        let lan = parse_list(&["lan"]).unwrap();
        for (addr, want) in [
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.32.0.1", false),
            ("192.168.1.10", true),
            ("fd12:3456::1", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("::ffff:192.168.1.10", true),
            ("8.8.8.8", false),
            ("100.64.0.1", false),
            ("2001:db8::1", false),
        ] {
            assert_eq!(permits(&lan, ip(addr)), want, "lan {addr}");
        }
        let ts = parse_list(&["tailscale"]).unwrap();
        for (addr, want) in [
            ("100.64.0.1", true),
            ("100.127.255.254", true),
            ("100.128.0.1", false),
            ("fd7a:115c:a1e0:ab12::1", true),
            ("fd7a:115c:a1e1::1", false),
            ("192.168.1.1", false),
        ] {
            assert_eq!(permits(&ts, ip(addr)), want, "tailscale {addr}");
        }
    }

    #[test]
    fn empty_allows_all_and_parse_is_strict() {
        assert!(permits(&[], ip("203.0.113.1")));
        let l = parse_list(&["203.0.113.5", "2001:db8::/32", "192.168.1.77/24"]).unwrap();
        assert!(permits(&l, ip("203.0.113.5")));
        assert!(!permits(&l, ip("203.0.113.6")));
        assert!(permits(&l, ip("2001:db8:ffff::1")));
        assert!(permits(&l, ip("192.168.1.1")), "host bits are dropped");
        assert!(parse_list(&["lan", "10.0.0.0/33"]).is_err());
        assert!(parse_list(&["intranet"]).is_err());
    }

    #[test]
    fn lists_combine() {
        let a = Allowlists {
            allow: parse_list(&["lan", "tailscale"]).unwrap(),
            admin_allow: parse_list(&["192.168.1.0/24"]).unwrap(),
        };
        assert_eq!(a.check_global(ip("8.8.8.8")), Err(Refusal::Global));
        assert_eq!(a.check_global(ip("100.100.1.1")), Ok(()));
        assert_eq!(a.check_user(ip("100.100.1.1"), false, &[]), Ok(()));
        assert_eq!(
            a.check_user(ip("100.100.1.1"), true, &[]),
            Err(Refusal::Admin)
        );
        assert_eq!(a.check_user(ip("192.168.1.9"), true, &[]), Ok(()));
        let mine = parse_list(&["10.9.0.0/16"]).unwrap();
        assert_eq!(a.check_user(ip("10.9.1.1"), false, &mine), Ok(()));
        assert_eq!(
            a.check_user(ip("10.8.1.1"), false, &mine),
            Err(Refusal::User)
        );
        assert_eq!(Refusal::Admin.as_str(), "admin_allow");
    }
}
