//! What the REST client can be told, with documented defaults.

use std::fmt;
use std::time::Duration;

use crate::backoff::ReconnectBackoff;

use super::RestError;

/// The live REST host.
pub const LIVE_BASE_URL: &str = "https://api.bitget.com";

/// How the REST client connects and times its requests. `RestConfig::default()` talks to the live
/// venue; credentials are given to [`RestClient::new`](super::RestClient::new) apart from this, so
/// a `RestConfig` never holds a secret.
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::rest::RestConfig;
///
/// let config = RestConfig {
///     demo_trading: true,
///     request_timeout: Duration::from_secs(2),
///     ..RestConfig::default()
/// };
/// assert_eq!(config.base_url, "https://api.bitget.com");
/// assert_eq!(config.keep_warm_every, Duration::from_secs(20));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// `https://host[:port]`, no path. Default [`LIVE_BASE_URL`]. Demo trading uses the same host
    /// with [`demo_trading`](Self::demo_trading) set.
    pub base_url: String,
    /// Sends `paptrading: 1` on every request (Bitget's demo trading; needs a demo API key).
    /// Default `false`.
    pub demo_trading: bool,
    /// How long a request may wait for its complete reply; then it fails with
    /// [`RestError::Timeout`] and the connection is replaced (a late reply must never be read
    /// as the answer to the next request). Default 5 s.
    pub request_timeout: Duration,
    /// How long the TCP connect and the TLS handshake may take together. Default 5 s.
    pub connect_timeout: Duration,
    /// An idle connection sends `GET /api/v2/public/time` this long after its last request, so
    /// that neither the venue nor a middlebox closes it, and the clock offset stays fresh.
    /// Default 20 s.
    pub keep_warm_every: Duration,
    /// Delays between reconnection attempts after failures (exponential, with jitter). A
    /// connection the server closes after a good reply (keep-alive ended) is replaced at once,
    /// without a delay. Any complete reply resets the delay to `initial` (`reset_after` is not
    /// used). Default: [`ReconnectBackoff::default`].
    pub reconnect: ReconnectBackoff,
    /// PEM of an extra CA to trust besides the public web roots (a private venue, a proxy, the
    /// simulated venue). Verification is never switched off. Default `None`.
    pub extra_ca_pem: Option<String>,
    /// The largest reply body accepted, in bytes; a bigger reply fails the request and ends the
    /// connection. Default 64 KiB.
    pub max_body: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            base_url: LIVE_BASE_URL.to_owned(),
            demo_trading: false,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            keep_warm_every: Duration::from_secs(20),
            reconnect: ReconnectBackoff::default(),
            extra_ca_pem: None,
            max_body: 64 * 1024,
        }
    }
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestConfig")
            .field("base_url", &self.base_url)
            .field("demo_trading", &self.demo_trading)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keep_warm_every", &self.keep_warm_every)
            .field("reconnect", &self.reconnect)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|_| "<pem>"))
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// The host and port of an `https://` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// The host as the certificate must name it (brackets removed from an IPv6 address).
    pub host: String,
    pub port: u16,
    /// The `Host` header's value: the host, and the port when it is not 443.
    pub authority: String,
}

impl BaseUrl {
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, RestError> {
        let invalid = |reason: &'static str| RestError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("https://")
            .ok_or(invalid("must start with https://"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains(['/', '?', '#', '@']) {
            return Err(invalid(
                "only https://host[:port] is accepted: no path, query or user",
            ));
        }
        if !authority.is_ascii() || authority.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(invalid("the host must be ASCII without spaces"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(invalid("unclosed IPv6 bracket"))?;
            match after {
                "" => (host, 443),
                port => (host, parse_port(port.strip_prefix(':'), &invalid)?),
            }
        } else {
            match authority.split_once(':') {
                None => (authority, 443),
                Some((host, port)) => (host, parse_port(Some(port), &invalid)?),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let authority = if port == 443 {
            authority.trim_end_matches(":443").to_owned()
        } else {
            authority.to_owned()
        };
        Ok(BaseUrl {
            host: host.to_owned(),
            port,
            authority,
        })
    }
}

fn parse_port(
    port: Option<&str>,
    invalid: &dyn Fn(&'static str) -> RestError,
) -> Result<u16, RestError> {
    port.and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| invalid("the port must be 1 to 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_host_parses_to_port_443() {
        let url = BaseUrl::parse("https://api.bitget.com").unwrap();
        assert_eq!(url.host, "api.bitget.com");
        assert_eq!(url.port, 443);
        assert_eq!(url.authority, "api.bitget.com");
        assert_eq!(BaseUrl::parse("https://api.bitget.com/").unwrap(), url);
    }

    #[test]
    fn a_port_is_kept_in_the_host_header() {
        let url = BaseUrl::parse("https://localhost:8443").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("localhost", 8443));
        assert_eq!(url.authority, "localhost:8443");
        let v6 = BaseUrl::parse("https://[::1]:9000").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9000));
        assert_eq!(v6.authority, "[::1]:9000");
    }

    #[test]
    fn urls_that_cannot_work_are_refused_with_the_reason() {
        for bad in [
            "http://api.bitget.com",
            "https://",
            "https://api.bitget.com/api/v2",
            "https://host:0",
            "https://host:99999",
            "https://host:x",
            "https://[::1",
            "https://ho st",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert!(
                matches!(err, RestError::InvalidUrl { ref url, .. } if url == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn debug_does_not_print_the_ca() {
        let config = RestConfig {
            extra_ca_pem: Some("-----BEGIN CERTIFICATE-----".into()),
            ..RestConfig::default()
        };
        assert!(!format!("{config:?}").contains("BEGIN"));
    }
}
