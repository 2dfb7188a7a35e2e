//! Who may say where a request came from: the peers in `TRUSTED_PROXIES`.
//! The rate limit asks it for the client's address, the web app for the
//! origin the browser sees; both must agree on whom to believe.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The peers whose forwarded headers are believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges.into())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Whether the request's peer is a trusted proxy.
    pub fn is_peer(&self, req: &HttpRequest) -> bool {
        req.peer_addr()
            .is_some_and(|peer| self.contains(&peer.ip().to_canonical()))
    }

    /// The client's address: the peer's, unless the peer is a trusted
    /// proxy; then `X-Forwarded-For` read from the right, past every
    /// trusted proxy, to the first address that is not one (anything left
    /// of it may be made up by the client).
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let mut client = req.peer_addr()?.ip().to_canonical();
        if !self.contains(&client) {
            return Some(client);
        }
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.contains(&ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, with a port for some proxies.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn trusting(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|net| net.parse().unwrap()).collect())
    }

    fn from(peer: &str, forwarded_for: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(value) = forwarded_for {
            req = req.insert_header(("x-forwarded-for", value));
        }
        req.to_http_request()
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let proxies = trusting(&["10.0.0.0/8"]);
        // An untrusted peer's header is the client's own say-so.
        assert_eq!(
            proxies.client_address(&from("203.0.113.9:4000", Some("198.51.100.1"))),
            Some(ip("203.0.113.9"))
        );
        // Through the trusted proxy: the address it saw.
        assert_eq!(
            proxies.client_address(&from("10.0.0.2:4000", Some("198.51.100.1"))),
            Some(ip("198.51.100.1"))
        );
        // A client that forges an entry gets the proxy's entry after it.
        assert_eq!(
            proxies.client_address(&from(
                "10.0.0.2:4000",
                Some("192.0.2.66, 198.51.100.1, 10.0.0.3")
            )),
            Some(ip("198.51.100.1"))
        );
        // Garbage stops the walk at the last address a trusted hop vouched for.
        assert_eq!(
            proxies.client_address(&from("10.0.0.2:4000", Some("not-an-ip, 10.0.0.3"))),
            Some(ip("10.0.0.3"))
        );
        assert_eq!(
            proxies.client_address(&from("10.0.0.2:4000", Some("[2001:db8::1]:443"))),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            proxies.client_address(&from("10.0.0.2:4000", None)),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn a_peer_is_trusted_by_range_and_as_an_ipv4_mapped_address() {
        let proxies = trusting(&["10.0.0.0/8", "2001:db8::/32"]);
        assert!(proxies.is_peer(&from("10.1.2.3:80", None)));
        assert!(proxies.is_peer(&from("[::ffff:10.1.2.3]:80", None)));
        assert!(proxies.is_peer(&from("[2001:db8::5]:80", None)));
        assert!(!proxies.is_peer(&from("192.0.2.1:80", None)));
        assert!(!TrustedProxies::default().is_peer(&from("10.1.2.3:80", None)));
    }
}
