//! Who is on the other end. The socket peer is the client, unless the peer is a configured trusted
//! proxy: only then are forwarding headers read (right-most untrusted hop of `X-Forwarded-For`).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// What a request's origin resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// True when the connection reached us over TLS, directly or as a trusted proxy says.
    pub https: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed forwarding header: {0}")]
pub struct ForwardedError(pub String);

pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|n| n.contains(&ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Resolves the client of one request.
pub fn resolve(
    peer: SocketAddr,
    direct_tls: bool,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Result<ClientInfo, ForwardedError> {
    let peer_ip = canonical(peer.ip());
    if !is_trusted(peer_ip, trusted) {
        return Ok(ClientInfo {
            ip: peer_ip,
            https: direct_tls,
        });
    }
    let mut ip = peer_ip;
    if let Some(xff) = headers.get("x-forwarded-for") {
        let text = xff
            .to_str()
            .map_err(|_| ForwardedError("X-Forwarded-For is not text".into()))?;
        let mut hops = Vec::new();
        for part in text.split(',') {
            let hop = part.trim();
            let parsed: IpAddr = hop
                .parse()
                .map_err(|_| ForwardedError(format!("X-Forwarded-For hop {hop:?} is not an IP")))?;
            hops.push(canonical(parsed));
        }
        // Walk from the right: the first hop that is not one of our proxies is the client.
        ip = hops
            .iter()
            .rev()
            .find(|h| !is_trusted(**h, trusted))
            .copied()
            .or_else(|| hops.first().copied())
            .unwrap_or(peer_ip);
    } else if let Some(real) = headers.get("x-real-ip") {
        let text = real
            .to_str()
            .map_err(|_| ForwardedError("X-Real-IP is not text".into()))?;
        ip = canonical(
            text.trim()
                .parse()
                .map_err(|_| ForwardedError(format!("X-Real-IP {text:?} is not an IP")))?,
        );
    }
    let https = match headers.get("x-forwarded-proto") {
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| ForwardedError("X-Forwarded-Proto is not text".into()))?;
            text.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("https"))
        }
        None => direct_tls,
    };
    Ok(ClientInfo { ip, https })
}
