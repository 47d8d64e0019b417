//! Which links the server downloads: `http` and `https` only, and, unless
//! `--allow-private-links`, only to public addresses, so that a web page cannot make
//! the server fetch from its own machine or network (server-side request forgery).
//!
//! The address classes are IANA's special-purpose registries (RFC 6890 and its
//! updates): loopback, private (RFC 1918), shared (RFC 6598), link-local (RFC 3927,
//! RFC 4291), unique local (RFC 4193), unspecified, broadcast and multicast. The name is
//! resolved here and every address it gives is checked; yt-dlp resolves it again, so a
//! name whose answer changes in between (DNS rebinding) is not covered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Checks a link before it is queued.
///
/// # Errors
/// A sentence naming the link and the reason: not a URL, not http(s), no host, a host
/// that does not resolve, or one that resolves to a non-public address.
pub async fn check(link: &str, allow_private: bool) -> Result<(), String> {
    let url = url::Url::parse(link.trim()).map_err(|e| format!("{link}: not a link ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{link}: only http and https links are downloaded, not {}:",
            url.scheme()
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("{link}: the link has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if allow_private {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("{link}: cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    match addresses.iter().find(|ip| !is_public(**ip)) {
        Some(ip) => Err(format!(
            "{link}: {host} is {ip}, a loopback, private or link-local address; links must be public (or start the server with --allow-private-links)"
        )),
        None if addresses.is_empty() => Err(format!("{link}: {host} has no address")),
        None => Ok(()),
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || shared
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        for text in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn links_to_this_machine_and_other_schemes_are_refused() {
        let e = check("http://127.0.0.1:8000/a.mp4", false)
            .await
            .unwrap_err();
        assert!(
            e.contains("127.0.0.1") && e.contains("--allow-private-links"),
            "{e}"
        );
        let e = check("http://[::1]/a.mp4", false).await.unwrap_err();
        assert!(e.contains("::1"), "{e}");
        let e = check("file:///etc/passwd", false).await.unwrap_err();
        assert!(e.contains("only http and https"), "{e}");
        let e = check("http://localhost:9/x", false).await.unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        assert!(check("not a link", false).await.is_err());
        assert!(check("http://127.0.0.1:8000/a.mp4", true).await.is_ok());
    }
}
