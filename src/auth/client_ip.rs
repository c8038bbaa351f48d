//! Who is on the other end. The socket peer is the client, unless the peer is a configured trusted
//! proxy: only then are forwarding headers read. A client talking to us directly can send any header
//! it likes, so believing headers from an untrusted peer is how ABS's limiter gets bypassed.
//!
//! Header order when the peer is trusted: `X-Forwarded-For`, else RFC 7239 `Forwarded`, else
//! `X-Real-IP`. Within a list the right-most hop that is not one of our proxies is the client: each
//! proxy appends what it saw, so everything left of that hop was written by the client itself.
//! The proxy must append to (or overwrite) the header we read; `resolve_with` pins one header for
//! setups where the proxy passes the others through untouched.

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

/// Which forwarding header names the client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardHeader {
    /// `X-Forwarded-For`, else `Forwarded`, else `X-Real-IP`.
    #[default]
    Auto,
    XForwardedFor,
    Forwarded,
    XRealIp,
}

impl ForwardHeader {
    pub fn parse(s: &str) -> Option<ForwardHeader> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(ForwardHeader::Auto),
            "x-forwarded-for" => Some(ForwardHeader::XForwardedFor),
            "forwarded" => Some(ForwardHeader::Forwarded),
            "x-real-ip" => Some(ForwardHeader::XRealIp),
            _ => None,
        }
    }
}

/// The default `trusted_proxies`: loopback only, so a proxy on the same host works out of the box.
pub fn default_trusted() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|n| n.contains(&ip))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) becomes plain IPv4 so that
/// limits, allowlists and logs see one address, not two spellings of it.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Resolves the client of one request (header choice `Auto`).
pub fn resolve(
    peer: SocketAddr,
    direct_tls: bool,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Result<ClientInfo, ForwardedError> {
    resolve_with(peer, direct_tls, headers, trusted, ForwardHeader::Auto)
}

/// Resolves the client of one request, reading only `which` for the address.
pub fn resolve_with(
    peer: SocketAddr,
    direct_tls: bool,
    headers: &HeaderMap,
    trusted: &[IpNet],
    which: ForwardHeader,
) -> Result<ClientInfo, ForwardedError> {
    let peer_ip = canonical(peer.ip());
    if !is_trusted(peer_ip, trusted) {
        return Ok(ClientInfo {
            ip: peer_ip,
            https: direct_tls,
        });
    }
    let xff = joined(headers, "x-forwarded-for")?;
    let fwd = joined(headers, "forwarded")?;
    let real = joined(headers, "x-real-ip")?;
    let use_xff = matches!(which, ForwardHeader::Auto | ForwardHeader::XForwardedFor);
    let use_fwd = matches!(which, ForwardHeader::Auto | ForwardHeader::Forwarded);
    let use_real = matches!(which, ForwardHeader::Auto | ForwardHeader::XRealIp);

    let mut ip = peer_ip;
    let mut fwd_proto = None;
    if let (true, Some(text)) = (use_xff, xff.as_deref()) {
        let hops = parse_xff(text)?;
        ip = pick_client(&hops, trusted, peer_ip);
    } else if let (true, Some(text)) = (use_fwd, fwd.as_deref()) {
        let elements = parse_forwarded(text)?;
        let hops: Vec<Hop> = elements.iter().map(|e| e.node).collect();
        let idx = pick_index(&hops, trusted);
        ip = resolve_hop(&hops, idx, peer_ip);
        fwd_proto = idx.and_then(|i| elements.get(i)).and_then(|e| e.proto);
    } else if let (true, Some(text)) = (use_real, real.as_deref()) {
        ip = parse_node(text.trim())
            .and_then(Hop::ip)
            .ok_or_else(|| ForwardedError(format!("X-Real-IP {text:?} is not an IP")))?;
    }

    let https = match joined(headers, "x-forwarded-proto")? {
        // Any `https` in the list counts (ABS reads Nginx Proxy Manager's `http, https` so). A wrong
        // `https` only makes cookies stricter, never weaker.
        Some(text) => {
            let mut any = false;
            for p in text.split(',') {
                any |= parse_proto(p.trim(), "X-Forwarded-Proto")?;
            }
            any
        }
        None => fwd_proto.unwrap_or(direct_tls),
    };
    Ok(ClientInfo { ip, https })
}

/// All values of a header joined with commas (RFC 9110 list semantics), or None if absent.
fn joined(headers: &HeaderMap, name: &str) -> Result<Option<String>, ForwardedError> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        let text = v
            .to_str()
            .map_err(|_| ForwardedError(format!("{name} is not text")))?;
        if text.trim().is_empty() {
            return Err(ForwardedError(format!("{name} is empty")));
        }
        match &mut out {
            Some(s) => {
                s.push(',');
                s.push_str(text);
            }
            None => out = Some(text.to_string()),
        }
    }
    Ok(out)
}

fn parse_proto(p: &str, header: &str) -> Result<bool, ForwardedError> {
    match p.to_ascii_lowercase().as_str() {
        "https" => Ok(true),
        "http" => Ok(false),
        _ => Err(ForwardedError(format!(
            "{header} proto {p:?} is not http(s)"
        ))),
    }
}

/// One hop: an address, or an RFC 7239 `unknown` / obfuscated node that names no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Ip(IpAddr),
    Hidden,
}

impl Hop {
    fn ip(self) -> Option<IpAddr> {
        match self {
            Hop::Ip(ip) => Some(ip),
            Hop::Hidden => None,
        }
    }
}

fn parse_xff(text: &str) -> Result<Vec<Hop>, ForwardedError> {
    text.split(',')
        .map(|part| {
            let hop = part.trim();
            parse_node(hop)
                .ok_or_else(|| ForwardedError(format!("X-Forwarded-For hop {hop:?} is not an IP")))
        })
        .collect()
}

/// Accepts `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`, `unknown` and `_obfuscated`.
fn parse_node(s: &str) -> Option<Hop> {
    if s.eq_ignore_ascii_case("unknown") {
        return Some(Hop::Hidden);
    }
    if let Some(rest) = s.strip_prefix('_') {
        let ok = !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        return ok.then_some(Hop::Hidden);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(Hop::Ip(canonical(ip)));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(Hop::Ip(canonical(sa.ip())));
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|v6| Hop::Ip(canonical(IpAddr::V6(v6))))
}

/// Index of the right-most hop that is not a trusted proxy; None when every hop is trusted.
fn pick_index(hops: &[Hop], trusted: &[IpNet]) -> Option<usize> {
    hops.iter().rposition(|h| match h {
        Hop::Ip(ip) => !is_trusted(*ip, trusted),
        Hop::Hidden => true,
    })
}

fn pick_client(hops: &[Hop], trusted: &[IpNet], peer_ip: IpAddr) -> IpAddr {
    resolve_hop(hops, pick_index(hops, trusted), peer_ip)
}

fn resolve_hop(hops: &[Hop], idx: Option<usize>, peer_ip: IpAddr) -> IpAddr {
    match idx {
        // A hidden client is attributed to the proxy that hid it: the nearest address to its right.
        Some(i) => hops
            .get(i..)
            .and_then(|rest| rest.iter().find_map(|h| h.ip()))
            .unwrap_or(peer_ip),
        // Only our own proxies: the left-most one is where the request entered.
        None => hops.iter().find_map(|h| h.ip()).unwrap_or(peer_ip),
    }
}

#[derive(Debug, Clone, Copy)]
struct FwdElement {
    node: Hop,
    proto: Option<bool>,
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::1]:4711"`.
fn parse_forwarded(text: &str) -> Result<Vec<FwdElement>, ForwardedError> {
    let err = |m: String| ForwardedError(format!("Forwarded: {m}"));
    let mut out = Vec::new();
    for element in split_unquoted(text, ',')? {
        let mut node = None;
        let mut proto = None;
        for pair in split_unquoted(&element, ';')? {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{pair:?} is not key=value")))?;
            let v = unquote(v.trim()).ok_or_else(|| err(format!("bad value in {pair:?}")))?;
            match k.trim().to_ascii_lowercase().as_str() {
                "for" => {
                    if node.is_some() {
                        return Err(err("two for= in one element".into()));
                    }
                    node = Some(
                        parse_node(&v).ok_or_else(|| err(format!("for={v:?} is not a node")))?,
                    );
                }
                "proto" => proto = Some(parse_proto(&v, "Forwarded")?),
                "by" | "host" => {}
                other => {
                    // RFC 7239 allows extensions; a token name is all we insist on.
                    if other.is_empty() || !other.chars().all(is_tchar) {
                        return Err(err(format!("bad parameter name {other:?}")));
                    }
                }
            }
        }
        let node = node.ok_or_else(|| err(format!("element {element:?} has no for=")))?;
        out.push(FwdElement { node, proto });
    }
    Ok(out)
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn unquote(v: &str) -> Option<String> {
    match v.strip_prefix('"') {
        Some(rest) => {
            let body = rest.strip_suffix('"')?;
            let mut out = String::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?),
                    '"' => return None,
                    c => out.push(c),
                }
            }
            Some(out)
        }
        None => (!v.is_empty() && v.chars().all(|c| is_tchar(c) || c == ':')).then(|| v.into()),
    }
}

/// Splits on `sep` outside double quotes; an unterminated quote is malformed.
fn split_unquoted(text: &str, sep: char) -> Result<Vec<String>, ForwardedError> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c == sep && !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(ForwardedError("Forwarded: unterminated quote".into()));
    }
    parts.push(cur);
    Ok(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn run(
        peer: &str,
        tls: bool,
        hdrs: &[(&str, &str)],
        trusted: &[&str],
    ) -> Result<ClientInfo, ForwardedError> {
        let mut h = HeaderMap::new();
        for (k, v) in hdrs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        resolve(peer.parse().unwrap(), tls, &h, &nets(trusted))
    }

    fn ok(ip: &str, https: bool) -> Result<ClientInfo, ForwardedError> {
        Ok(ClientInfo {
            ip: ip.parse().unwrap(),
            https,
        })
    }

    const LOOP: &[&str] = &["127.0.0.0/8", "::1/128"];

    #[test]
    fn table() {
        let proxies: &[&str] = &["127.0.0.0/8", "::1/128", "10.0.0.0/8"];
        let cases: Vec<(&str, Result<ClientInfo, ForwardedError>)> = vec![
            (
                "untrusted peer, spoofed XFF ignored",
                run(
                    "203.0.113.9:5000",
                    false,
                    &[("x-forwarded-for", "1.1.1.1")],
                    LOOP,
                ),
            ),
            (
                "untrusted peer, every spoofing header ignored",
                run(
                    "203.0.113.9:5000",
                    false,
                    &[
                        ("x-forwarded-for", "1.1.1.1"),
                        ("forwarded", "for=2.2.2.2;proto=https"),
                        ("x-real-ip", "3.3.3.3"),
                        ("x-forwarded-proto", "https"),
                        ("x-client-ip", "4.4.4.4"),
                    ],
                    LOOP,
                ),
            ),
            (
                "untrusted peer, malformed headers ignored (no 400)",
                run(
                    "203.0.113.9:5000",
                    true,
                    &[("x-forwarded-for", "garbage"), ("forwarded", "\"")],
                    LOOP,
                ),
            ),
            (
                "trusted proxy, no headers",
                run("127.0.0.1:1", true, &[], LOOP),
            ),
            (
                "trusted proxy, XFF single",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-for", "198.51.100.7")],
                    LOOP,
                ),
            ),
            (
                "client-prepended fake hop: right-most untrusted wins",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-for", "1.1.1.1, 198.51.100.7")],
                    LOOP,
                ),
            ),
            (
                "multiple proxies: skip trusted hops from the right",
                run(
                    "10.0.0.2:1",
                    false,
                    &[(
                        "x-forwarded-for",
                        "6.6.6.6, 198.51.100.7, 10.0.0.5, 10.0.0.3",
                    )],
                    proxies,
                ),
            ),
            (
                "XFF split over two header lines",
                run(
                    "10.0.0.2:1",
                    false,
                    &[
                        ("x-forwarded-for", "6.6.6.6"),
                        ("x-forwarded-for", "198.51.100.7, 10.0.0.3"),
                    ],
                    proxies,
                ),
            ),
            (
                "all hops trusted: left-most",
                run(
                    "10.0.0.2:1",
                    false,
                    &[("x-forwarded-for", "10.0.0.9, 10.0.0.3")],
                    proxies,
                ),
            ),
            (
                "XFF with port",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-for", "198.51.100.7:4711")],
                    LOOP,
                ),
            ),
            (
                "IPv6 peer and IPv6 client",
                run(
                    "[::1]:1",
                    false,
                    &[("x-forwarded-for", "2001:db8::7")],
                    LOOP,
                ),
            ),
            (
                "IPv6 bracketed with port",
                run(
                    "[::1]:1",
                    false,
                    &[("x-forwarded-for", "[2001:db8::7]:443")],
                    LOOP,
                ),
            ),
            (
                "IPv4-mapped peer is trusted as IPv4",
                run(
                    "[::ffff:127.0.0.1]:1",
                    false,
                    &[("x-forwarded-for", "::ffff:198.51.100.7")],
                    &["127.0.0.1/32"],
                ),
            ),
            (
                "IPv4-mapped untrusted peer reported as IPv4",
                run(
                    "[::ffff:198.51.100.7]:1",
                    false,
                    &[("x-forwarded-for", "1.1.1.1")],
                    LOOP,
                ),
            ),
            (
                "XFP https",
                run(
                    "127.0.0.1:1",
                    false,
                    &[
                        ("x-forwarded-for", "198.51.100.7"),
                        ("x-forwarded-proto", "https"),
                    ],
                    LOOP,
                ),
            ),
            (
                "XFP list containing https (Nginx Proxy Manager)",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-proto", "http, https")],
                    LOOP,
                ),
            ),
            (
                "XFP http overrides direct TLS of the proxy hop",
                run("127.0.0.1:1", true, &[("x-forwarded-proto", "http")], LOOP),
            ),
            (
                "Forwarded for + proto",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("forwarded", "for=198.51.100.7;proto=https;by=127.0.0.1")],
                    LOOP,
                ),
            ),
            (
                "Forwarded quoted IPv6 with port, two elements",
                run(
                    "10.0.0.2:1",
                    false,
                    &[(
                        "forwarded",
                        "for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.3",
                    )],
                    proxies,
                ),
            ),
            (
                "Forwarded unknown client: attributed to the reporting proxy",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("forwarded", "for=unknown, for=198.51.100.7")],
                    LOOP,
                ),
            ),
            (
                "XFF wins over Forwarded and X-Real-IP",
                run(
                    "127.0.0.1:1",
                    false,
                    &[
                        ("x-forwarded-for", "198.51.100.7"),
                        ("forwarded", "for=2.2.2.2"),
                        ("x-real-ip", "3.3.3.3"),
                    ],
                    LOOP,
                ),
            ),
            (
                "X-Real-IP",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-real-ip", " 198.51.100.7 ")],
                    LOOP,
                ),
            ),
            (
                "malformed XFF from trusted proxy",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-for", "1.2.3.4, nonsense")],
                    LOOP,
                ),
            ),
            (
                "empty XFF hop",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-for", "1.2.3.4,,5.6.7.8")],
                    LOOP,
                ),
            ),
            (
                "malformed Forwarded: unterminated quote",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("forwarded", "for=\"1.2.3.4")],
                    LOOP,
                ),
            ),
            (
                "malformed Forwarded: no for=",
                run("127.0.0.1:1", false, &[("forwarded", "proto=https")], LOOP),
            ),
            (
                "malformed X-Real-IP",
                run("127.0.0.1:1", false, &[("x-real-ip", "me")], LOOP),
            ),
            (
                "malformed XFP",
                run(
                    "127.0.0.1:1",
                    false,
                    &[("x-forwarded-proto", "gopher")],
                    LOOP,
                ),
            ),
        ];
        let expected: Vec<Result<ClientInfo, ()>> = vec![
            ok("203.0.113.9", false).map_err(|_| ()),
            ok("203.0.113.9", false).map_err(|_| ()),
            ok("203.0.113.9", true).map_err(|_| ()),
            ok("127.0.0.1", true).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("10.0.0.9", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("2001:db8::7", false).map_err(|_| ()),
            ok("2001:db8::7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", true).map_err(|_| ()),
            ok("127.0.0.1", true).map_err(|_| ()),
            ok("127.0.0.1", false).map_err(|_| ()),
            ok("198.51.100.7", true).map_err(|_| ()),
            ok("2001:db8:cafe::17", true).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            ok("198.51.100.7", false).map_err(|_| ()),
            Err(()),
            Err(()),
            Err(()),
            Err(()),
            Err(()),
            Err(()),
        ];
        assert_eq!(cases.len(), expected.len());
        for ((name, got), want) in cases.into_iter().zip(expected) {
            assert_eq!(got.map_err(|_| ()), want, "case: {name}");
        }
    }

    #[test]
    fn pinned_header_ignores_the_others() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        h.insert("forwarded", HeaderValue::from_static("for=198.51.100.7"));
        let got = resolve_with(
            "127.0.0.1:1".parse().unwrap(),
            false,
            &h,
            &nets(LOOP),
            ForwardHeader::Forwarded,
        )
        .unwrap();
        assert_eq!(got.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn spoofing_from_untrusted_peer_changes_nothing() {
        let peer: SocketAddr = "198.51.100.50:4000".parse().unwrap();
        let plain = resolve(peer, false, &HeaderMap::new(), &nets(LOOP)).unwrap();
        for (k, v) in [
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-for", "10.1.2.3, 127.0.0.1"),
            ("forwarded", "for=127.0.0.1;proto=https"),
            ("x-real-ip", "::1"),
            ("x-forwarded-proto", "https"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(k, HeaderValue::from_static(v));
            assert_eq!(resolve(peer, false, &h, &nets(LOOP)).unwrap(), plain, "{k}");
        }
    }

    #[test]
    fn default_trusts_loopback_only() {
        let t = default_trusted();
        assert!(is_trusted("127.0.0.1".parse().unwrap(), &t));
        assert!(is_trusted("::1".parse().unwrap(), &t));
        assert!(is_trusted("::ffff:127.0.0.1".parse().unwrap(), &t));
        assert!(!is_trusted("10.0.0.1".parse().unwrap(), &t));
    }
}
