//! Client networks: the prefix a sign-in is remembered by, and the
//! addresses or ranges an admin bans.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::CoreError;

/// An address range in CIDR form (`203.0.113.0/24`, `2001:db8::/48`), or
/// one address (`/32`, `/128`). Host bits are cleared on parse so equal
/// ranges compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    network: IpAddr,
    len: u8,
}

/// Sign-ins from the same /24 (IPv4) or /48 (IPv6) count as the same
/// network: an ISP's dynamic addresses move within such ranges.
pub const USUAL_V4_LEN: u8 = 24;
pub const USUAL_V6_LEN: u8 = 48;

fn mask_v4(addr: Ipv4Addr, len: u8) -> Ipv4Addr {
    let bits = u32::from(addr);
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Ipv6Addr::from(bits & mask)
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl IpPrefix {
    pub fn new(ip: IpAddr, len: u8) -> Result<Self, CoreError> {
        let ip = canonical(ip);
        let network = match ip {
            IpAddr::V4(v4) if len <= 32 => IpAddr::V4(mask_v4(v4, len)),
            IpAddr::V6(v6) if len <= 128 => IpAddr::V6(mask_v6(v6, len)),
            _ => return Err(CoreError::InvalidNetwork("the prefix length is too long")),
        };
        Ok(Self { network, len })
    }

    /// The network a sign-in from `ip` is remembered by.
    pub fn usual_for(ip: IpAddr) -> Self {
        let ip = canonical(ip);
        let len = if ip.is_ipv4() {
            USUAL_V4_LEN
        } else {
            USUAL_V6_LEN
        };
        Self::new(ip, len).unwrap_or(Self {
            network: ip,
            len: 0,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.len) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.len) == net,
            _ => false,
        }
    }

    /// The number of leading bits that name the network.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this prefix covers every address of its family; refused for
    /// bans, which would lock everyone out.
    pub fn is_everything(&self) -> bool {
        self.len == 0
    }
}

impl FromStr for IpPrefix {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| CoreError::InvalidNetwork("not an IPv4 or IPv6 address"))?;
        let ip = canonical(ip);
        let full = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => full,
            Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => len
                .parse::<u8>()
                .map_err(|_| CoreError::InvalidNetwork("the prefix length is too long"))?,
            Some(_) => {
                return Err(CoreError::InvalidNetwork(
                    "the prefix length must be a number",
                ));
            }
        };
        Self::new(ip, len)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn parse_and_contain() {
        let p: IpPrefix = "203.0.113.77/24".parse().expect("prefix");
        assert_eq!(p.to_string(), "203.0.113.0/24");
        assert!(p.contains(ip("203.0.113.1")));
        assert!(!p.contains(ip("203.0.114.1")));
        assert!(p.contains(ip("::ffff:203.0.113.9")), "mapped IPv4");
        let single: IpPrefix = "198.51.100.7".parse().expect("single");
        assert_eq!(single.to_string(), "198.51.100.7/32");
        assert!(single.contains(ip("198.51.100.7")));
        assert!(!single.contains(ip("198.51.100.8")));
        let v6: IpPrefix = "2001:db8:1:2::/48".parse().expect("v6");
        assert_eq!(v6.to_string(), "2001:db8:1::/48");
        assert!(v6.contains(ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(ip("203.0.113.1")));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/x",
            "::/129",
            "1.2.3.4/-1",
        ] {
            assert!(bad.parse::<IpPrefix>().is_err(), "{bad}");
        }
        assert!(
            "0.0.0.0/0"
                .parse::<IpPrefix>()
                .expect("zero")
                .is_everything()
        );
    }

    #[test]
    fn usual_networks() {
        assert_eq!(
            IpPrefix::usual_for(ip("10.1.2.3")).to_string(),
            "10.1.2.0/24"
        );
        assert_eq!(
            IpPrefix::usual_for(ip("2001:db8:aa:bb::1")).to_string(),
            "2001:db8:aa::/48"
        );
        assert_eq!(
            IpPrefix::usual_for(ip("::ffff:10.1.2.3")),
            IpPrefix::usual_for(ip("10.1.2.3"))
        );
    }
}
