//! `[members]`: where membership lives. The embedded SQLite directory is the default; a
//! merchant's own HTTP directory (docs/merchant-directory.md) is the other backend.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;
use reqwest::Url;
use serde::Deserialize;

use super::{ConfigError, Ctx, Environment, Secret};

/// The resolved `[members]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersSettings {
    /// Members live in the daemon's SQLite database (the default).
    Embedded,
    /// Members live in the merchant's HTTP directory.
    Http(HttpDirectorySettings),
}

/// The merchant's HTTP members directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpDirectorySettings {
    /// The directory's base URL, without a trailing slash: `GET {url}/members/{msisdn}`,
    /// `POST {url}/members`.
    pub url: Url,
    /// Sent as `Authorization: Bearer …`, when configured.
    pub token: Option<Secret>,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
    /// How long a member the directory returned is remembered; zero: not at all.
    pub cache_ttl: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMembers {
    backend: String,
    url: Option<String>,
    token_file: Option<PathBuf>,
    timeout: SignedDuration,
    cache_ttl: SignedDuration,
}

impl Default for RawMembers {
    fn default() -> Self {
        Self {
            backend: "embedded".to_owned(),
            url: None,
            token_file: None,
            timeout: SignedDuration::from_secs(2),
            cache_ttl: SignedDuration::from_secs(60),
        }
    }
}

impl RawMembers {
    /// Checks the section; `environment` and `base_dir` are for the token file, read like the
    /// Vipps secrets.
    pub(super) fn resolve(
        self,
        ctx: Ctx<'_>,
        environment: Environment,
        base_dir: &Path,
    ) -> Result<MembersSettings, ConfigError> {
        match self.backend.as_str() {
            "embedded" => {
                if self.url.is_some() {
                    return Err(ctx.invalid("members.url", "only allowed with backend = \"http\""));
                }
                if self.token_file.is_some() {
                    return Err(
                        ctx.invalid("members.token_file", "only allowed with backend = \"http\"")
                    );
                }
                Ok(MembersSettings::Embedded)
            }
            "http" => {
                let url = self.url.ok_or_else(|| {
                    ctx.invalid(
                        "members.url",
                        "is required with backend = \"http\": the directory's base URL",
                    )
                })?;
                let url = directory_url(&url).map_err(|m| ctx.invalid("members.url", m))?;
                let token = self
                    .token_file
                    .map(|file| {
                        super::secret("members.token", None, Some(file), environment, base_dir)
                            .map_err(|(key, m)| ctx.invalid(&key, m))
                    })
                    .transpose()?;
                let cache_ttl = Duration::try_from(self.cache_ttl).map_err(|_| {
                    ctx.invalid(
                        "members.cache_ttl",
                        format!(
                            "must not be negative (0s: no cache), got {}",
                            self.cache_ttl
                        ),
                    )
                })?;
                Ok(MembersSettings::Http(HttpDirectorySettings {
                    url,
                    token,
                    timeout: ctx.duration("members.timeout", self.timeout)?,
                    cache_ttl,
                }))
            }
            other => Err(ctx.invalid(
                "members.backend",
                format!("must be \"embedded\" or \"http\", got {other:?}"),
            )),
        }
    }
}

/// The directory's base URL: http or https with a host, no query, no fragment, no credentials.
/// Plain http only to this machine: members' phone numbers and the token travel in it.
fn directory_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{text:?} has no host"));
    };
    let local = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(format!(
                "{text:?} must be https: members' phone numbers and the token travel in it \
                 (plain http is allowed to this machine only)"
            ));
        }
        other => return Err(format!("must be an https URL, got scheme {other:?}")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials: put the token in token_file".to_owned());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const VIPPS: &str = "[vipps]\nclient_id = \"id\"\nclient_secret = \"s\"\n\
        subscription_key = \"k\"\nmerchant_serial_number = \"123456\"\n";

    fn parse_at(members: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&format!("{VIPPS}\n[members]\n{members}\n"), path)
    }

    fn parse(members: &str) -> Result<Config, ConfigError> {
        parse_at(members, Path::new("/etc/loyaltyd/config.toml"))
    }

    fn error(members: &str) -> String {
        parse(members).expect_err("invalid").to_string()
    }

    #[test]
    fn the_embedded_directory_is_the_default() {
        assert_eq!(parse("").expect("valid").members, MembersSettings::Embedded);
        let err = error("url = \"https://members.example.no\"");
        assert!(
            err.contains("`members.url`: only allowed with backend = \"http\""),
            "{err}"
        );
        let err = error("token_file = \"token\"");
        assert!(err.contains("`members.token_file`: only allowed"), "{err}");
        let err = error("backend = \"ldap\"");
        assert!(
            err.contains("`members.backend`: must be \"embedded\" or \"http\", got \"ldap\""),
            "{err}"
        );
    }

    #[test]
    fn the_http_directory_has_a_url_and_sane_defaults() {
        let config =
            parse("backend = \"http\"\nurl = \"https://members.example.no/api/\"").expect("valid");
        let MembersSettings::Http(http) = config.members else {
            panic!("http expected");
        };
        assert_eq!(http.url.as_str(), "https://members.example.no/api");
        assert_eq!(http.token, None);
        assert_eq!(http.timeout, Duration::from_secs(2));
        assert_eq!(http.cache_ttl, Duration::from_secs(60));

        let config = parse(
            "backend = \"http\"\nurl = \"http://127.0.0.1:8080\"\ntimeout = \"500ms\"\ncache_ttl = \"0s\"",
        )
        .expect("valid");
        let MembersSettings::Http(http) = config.members else {
            panic!("http expected");
        };
        assert_eq!(http.timeout, Duration::from_millis(500));
        assert!(http.cache_ttl.is_zero(), "0s turns the cache off");

        let err = error("backend = \"http\"");
        assert!(err.contains("`members.url`: is required"), "{err}");
        let err = error("backend = \"http\"\nurl = \"http://members.example.no\"");
        assert!(
            err.contains("`members.url`") && err.contains("must be https"),
            "{err}"
        );
        let err = error("backend = \"http\"\nurl = \"https://m.example.no\"\ntimeout = \"0s\"");
        assert!(
            err.contains("`members.timeout`: must be a positive duration"),
            "{err}"
        );
        let err = error("backend = \"http\"\nurl = \"https://m.example.no\"\ncache_ttl = \"-1s\"");
        assert!(
            err.contains("`members.cache_ttl`: must not be negative"),
            "{err}"
        );
    }

    #[test]
    fn the_token_file_is_read_like_the_vipps_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let token = dir.path().join("members_token");
        std::fs::write(&token, "t0ken\n").expect("write");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        // A relative name is next to the configuration file.
        let members =
            "backend = \"http\"\nurl = \"https://m.example.no\"\ntoken_file = \"members_token\"";
        let err = parse_at(members, &config_path)
            .expect_err("readable by others")
            .to_string();
        assert!(
            err.contains("`members.token_file`") && err.contains("accessible by others"),
            "{err}"
        );
        assert!(!err.contains("t0ken"), "{err}");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let config = parse_at(members, &config_path).expect("private file");
        let MembersSettings::Http(http) = config.members else {
            panic!("http expected");
        };
        assert_eq!(http.token, Some(Secret("t0ken".to_owned())));
        assert_eq!(format!("{http:?}").matches("t0ken").count(), 0);

        std::fs::remove_file(&token).expect("rm");
        let err = parse_at(members, &config_path)
            .expect_err("missing")
            .to_string();
        assert!(err.contains("`members.token_file`: cannot read"), "{err}");
    }

    #[test]
    fn directory_urls_are_https_or_local() {
        for good in [
            "https://members.example.no/api/",
            "https://members.example.no",
            "http://127.0.0.1:8080/directory",
            "http://localhost:9000",
            "http://[::1]:9000",
        ] {
            directory_url(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for (bad, why) in [
            ("http://members.example.no", "must be https"),
            ("ftp://members.example.no", "scheme"),
            ("https://members.example.no/?key=1", "query"),
            ("https://user:pw@members.example.no", "credentials"),
            ("members.example.no", "not a URL"),
            ("http://127.0.0.2.example.no", "must be https"),
        ] {
            let error = directory_url(bad).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
