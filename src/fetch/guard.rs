//! Server-side request forgery: a feed on the public internet must not be able to point the
//! daemon, through a redirect, at the machine it runs on or at its private network (a router's
//! admin page, a cloud metadata service).
//!
//! The check is made on the addresses actually connected to: requests that may not reach private
//! networks use a client whose resolver hands the connector only public addresses, so a name that
//! resolves (or re-resolves) to `127.0.0.1` is never connected to. Addresses written as literals
//! never reach a resolver, so they are checked before the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Tells whether a request to `ip` would reach this machine or a network that is not the public
/// internet: loopback, private, shared (CGNAT), link-local (where cloud metadata services live),
/// unspecified, broadcast or multicast addresses, including IPv4 addresses wrapped in IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

/// Finds the IPv4 address an IPv6 address carries to reach it: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(from(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        // Shared address space (RFC 6598), where some clouds put their metadata service.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking (RFC 2544) and the reserved 240.0.0.0/4.
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
        || a == 0
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local addresses, fc00::/7 (AWS's metadata service answers at fd00:ec2::254).
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
}

/// Refuses `url` if its host is an internal address written as a literal.
pub fn check_literal(url: &Url) -> Result<(), String> {
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if is_internal(ip) {
        return Err(format!("{ip} is a loopback, private or link-local address"));
    }
    Ok(())
}

/// Refuses a connection that ended up at an internal address anyway (belt and braces: the
/// resolver below should have made that impossible).
pub fn check_connected(addr: SocketAddr) -> Result<(), String> {
    if is_internal(addr.ip()) {
        return Err(format!(
            "it connected to {}, an internal address",
            addr.ip()
        ));
    }
    Ok(())
}

/// A resolver that returns only public addresses, and fails when a name has no other.
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if public.is_empty() && !all.is_empty() {
                let message = format!(
                    "{host} resolves only to internal addresses ({}), refused; set [polling] \
                     allow_private_networks = true if this is intended",
                    all[0].ip()
                );
                return Err(message.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "203.0.113.9",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_are_left_to_the_resolver() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(check_literal(&url("http://169.254.169.254/latest/meta-data/")).is_err());
        assert!(check_literal(&url("http://[::1]:8080/")).is_err());
        assert!(check_literal(&url("http://1.1.1.1/")).is_ok());
        assert!(check_literal(&url("http://localhost/")).is_ok());
    }

    #[tokio::test]
    async fn a_name_that_resolves_only_inside_is_refused() {
        let name: Name = "localhost".parse().unwrap();
        let error = PublicOnlyResolver.resolve(name).await.err().unwrap();
        assert!(error.to_string().contains("internal addresses"), "{error}");
    }
}
