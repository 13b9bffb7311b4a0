//! Requests to addresses a member gave (webhook receivers, feeds to import): never to the
//! platform's own networks.
//!
//! A URL is checked before any byte is sent: https only (http when `outbound.allow_http`),
//! no credentials in it, and its host resolved with every address checked against
//! loopback, private, link-local (cloud metadata at 169.254.169.254 included), CGNAT,
//! documentation, benchmarking, multicast and reserved ranges, IPv4-mapped, NAT64 and 6to4
//! forms of them included. The request then connects to exactly the addresses checked
//! (a name that resolves elsewhere a moment later changes nothing), follows no redirect,
//! has a deadline, and reads at most a bounded body. `outbound.allowed_networks` lets
//! chosen networks through (a test's local receiver, a private feed server on purpose).

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use crate::config::OutboundSettings;
use crate::error::{AppError, AppResult};

/// The longest URL a request may go to.
pub const MAX_URL: usize = 2_000;

/// Networks no request leaves for, unless allowed by name.
const FORBIDDEN: &[&str] = &[
    "0.0.0.0/8",
    "64:ff9b:1::/48",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "100::/64",
    "2001::/32",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

static FORBIDDEN_NETS: LazyLock<Vec<ipnet::IpNet>> = LazyLock::new(|| {
    FORBIDDEN
        .iter()
        .filter_map(|n| n.parse::<ipnet::IpNet>().ok())
        .collect()
});

/// The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any.
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::/96).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        // 6to4 (2002::/16) carries the IPv4 address in its second and third groups.
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

/// Whether `ip` is on the public internet, as far as a request of ours is concerned.
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    !FORBIDDEN_NETS.iter().any(|net| net.contains(&ip))
}

/// A URL that passed the checks, with the addresses its request may connect to.
#[derive(Debug)]
pub struct Target {
    pub url: reqwest::Url,
    host: String,
    addresses: Vec<SocketAddr>,
}

/// Checks `raw` (the input field `field`) and resolves its host: BAD_USER_INPUT naming the
/// field when the URL may not be requested.
pub async fn check(settings: &OutboundSettings, field: &str, raw: &str) -> AppResult<Target> {
    let refuse = |why: &str| AppError::bad_input(field, format!("{field} {why}"));
    // Stored and indexed by those who keep it (a webhook, a feed source): bounded here.
    if raw.len() > MAX_URL {
        return Err(AppError::invalid(
            field,
            crate::error::Problem::TooLong,
            format!("{field} is longer than {MAX_URL} bytes"),
        ));
    }
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| refuse("is not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        _ if settings.allow_http => return Err(refuse("must be an http:// or https:// URL")),
        _ => return Err(refuse("must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("may not carry a user name or password"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| refuse("must name a host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| refuse("must name a port"))?;
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let addresses: Vec<SocketAddr> =
        match tokio::time::timeout(Duration::from_secs(5), lookup).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(_)) | Err(_) => return Err(refuse("names a host that does not resolve")),
        };
    if addresses.is_empty() {
        return Err(refuse("names a host that does not resolve"));
    }
    let allowed = |ip: IpAddr| {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        settings
            .allowed_networks
            .iter()
            .any(|net| net.contains(&ip))
    };
    if addresses
        .iter()
        .any(|a| !is_public(a.ip()) && !allowed(a.ip()))
    {
        return Err(refuse(
            "points to a private or reserved address; requests go only to the public internet",
        ));
    }
    Ok(Target {
        url,
        host,
        addresses,
    })
}

/// A client for `target` alone: it connects only to the addresses checked, follows no
/// redirect and gives up after `outbound.timeout_secs`.
pub fn client(settings: &OutboundSettings, target: &Target) -> AppResult<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(settings.timeout_secs.min(10)))
        .timeout(Duration::from_secs(settings.timeout_secs))
        .resolve_to_addrs(&target.host, &target.addresses)
        .user_agent(concat!("VibecodingCommunity/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(AppError::internal)
}

/// Why an outbound request did not give a usable answer, in words for the member whose
/// URL it was (stored as a delivery's or a feed's last error).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("no answer within {0} seconds")]
    Timeout(u64),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request failed: {0}")]
    Other(String),
}

impl Failure {
    pub fn of(settings: &OutboundSettings, e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout(settings.timeout_secs)
        } else if e.is_connect() {
            Self::Connect(e.to_string())
        } else {
            Self::Other(e.to_string())
        }
    }
}

/// Reads at most `max` bytes of `response`'s body; a larger body is refused part-way,
/// without reading the rest.
pub async fn read_capped(
    settings: &OutboundSettings,
    response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Failure> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(Failure::TooLarge(max));
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::of(settings, &e))?
    {
        if body.len() + chunk.len() > max {
            return Err(Failure::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    fn settings() -> OutboundSettings {
        OutboundSettings {
            allow_http: false,
            allowed_networks: Vec::new(),
            timeout_secs: 2,
        }
    }

    #[test]
    fn private_reserved_and_disguised_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::7f00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_that_could_reach_inside_are_refused_before_any_request() {
        let s = settings();
        for url in [
            "http://example.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://127.0.0.1/",
            "https://localhost:8080/",
            "https://[::1]/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://0x7f.1/",
            "https://2130706433/",
            "https://user:pass@example.com/",
            "not a url",
            "https://no-such-host.invalid/",
        ] {
            let refused = check(&s, "url", url).await.unwrap_err();
            assert!(
                matches!(&refused, AppError::BadUserInput(i) if i[0].field.as_deref() == Some("url")),
                "{url}: {refused:?}"
            );
        }
        let mut allowing = settings();
        allowing.allow_http = true;
        allowing.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(
            check(&allowing, "url", "http://127.0.0.1:9/hook")
                .await
                .is_ok()
        );
        assert!(
            check(&allowing, "url", "http://10.0.0.1/").await.is_err(),
            "only the networks allowed"
        );
    }

    /// A one-shot HTTP server answering every request with `answer`.
    async fn serve(answer: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer).await;
            }
        });
        address
    }

    #[tokio::test]
    async fn redirects_are_not_followed_and_bodies_are_capped() {
        let mut s = settings();
        s.allow_http = true;
        s.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
        let redirect = serve(
            b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let target = check(&s, "url", &format!("http://{redirect}/"))
            .await
            .unwrap();
        let response = client(&s, &target)
            .unwrap()
            .get(target.url.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "the redirect is the answer");

        let big = serve(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n").await;
        let target = check(&s, "url", &format!("http://{big}/")).await.unwrap();
        let response = client(&s, &target)
            .unwrap()
            .get(target.url.clone())
            .send()
            .await
            .unwrap();
        assert!(matches!(
            read_capped(&s, response, 1_000).await,
            Err(Failure::TooLarge(1_000))
        ));
    }
}
