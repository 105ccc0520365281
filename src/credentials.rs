//! API credentials: the key, the secret and the passphrase every login and every signed REST
//! request needs. Below the engine and the REST client, which both sign with them.

use std::fmt;

use crate::config_error::ConfigError;

/// The environment variable [`Credentials::from_env`] reads the API key from.
pub const ENV_API_KEY: &str = "BITGET_API_KEY";
/// The environment variable [`Credentials::from_env`] reads the API secret from.
pub const ENV_API_SECRET: &str = "BITGET_API_SECRET";
/// The environment variable [`Credentials::from_env`] reads the passphrase from.
pub const ENV_API_PASSPHRASE: &str = "BITGET_API_PASSPHRASE";

/// API credentials. `Debug` shows the API key and redacts the secret and passphrase; the secret is
/// overwritten with zeros when the last copy is dropped.
///
/// ```
/// use bitget_cancel::engine::Credentials;
///
/// let creds = Credentials::new("my-key", "my-secret", "my-passphrase")?;
/// let shown = format!("{creds:?}");
/// assert!(shown.contains("my-key"));
/// assert!(!shown.contains("my-secret") && !shown.contains("my-passphrase"));
/// # Ok::<(), bitget_cancel::engine::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Credentials {
    api_key: String,
    secret: Vec<u8>,
    passphrase: Vec<u8>,
}

/// Printable ASCII that can be written into a JSON string as it is.
fn is_json_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl Credentials {
    /// Checks and stores credentials: none may be empty; the API key and passphrase must be
    /// printable ASCII without `"` or `\` (they are sent inside a JSON string).
    pub fn new(
        api_key: impl Into<String>,
        secret: impl Into<String>,
        passphrase: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let creds = Credentials {
            api_key: api_key.into(),
            secret: secret.into().into_bytes(),
            passphrase: passphrase.into().into_bytes(),
        };
        let invalid = |field, reason| Err(ConfigError::InvalidCredential { field, reason });
        if creds.api_key.is_empty() {
            return invalid("api key", "empty");
        }
        if !is_json_safe(&creds.api_key) {
            return invalid(
                "api key",
                "must be printable ASCII without quotes or backslashes",
            );
        }
        if creds.secret.is_empty() {
            return invalid("api secret", "empty");
        }
        if creds.passphrase.is_empty() {
            return invalid("passphrase", "empty");
        }
        if !is_json_safe(creds.passphrase_str()) {
            return invalid(
                "passphrase",
                "must be printable ASCII without quotes or backslashes",
            );
        }
        Ok(creds)
    }

    /// Reads `BITGET_API_KEY`, `BITGET_API_SECRET` and `BITGET_API_PASSPHRASE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Credentials::from_env`], reading the variables through `lookup`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::MissingEnv { var: name })
        };
        Credentials::new(
            var(ENV_API_KEY)?,
            var(ENV_API_SECRET)?,
            var(ENV_API_PASSPHRASE)?,
        )
    }

    /// The API key (not a secret: it names the key).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub(crate) fn passphrase_str(&self) -> &str {
        // Checked printable ASCII in `new`, and it came from a `String`.
        std::str::from_utf8(&self.passphrase).unwrap_or("")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .finish()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        self.secret.fill(0);
        self.passphrase.fill(0);
        std::hint::black_box(&self.secret);
        std::hint::black_box(&self.passphrase);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_refuse_values_that_would_break_the_login_json() {
        for (key, secret, pass, field) in [
            ("", "s", "p", "api key"),
            ("k\"", "s", "p", "api key"),
            ("k", "", "p", "api secret"),
            ("k", "s", "", "passphrase"),
            ("k", "s", "p\\q", "passphrase"),
            ("k", "s", "p\nq", "passphrase"),
        ] {
            match Credentials::new(key, secret, pass) {
                Err(ConfigError::InvalidCredential { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{key:?} {pass:?}: {other:?}"),
            }
        }
        // The secret is only ever fed to HMAC: any bytes are fine.
        assert!(Credentials::new("k", "\"\\\n", "p").is_ok());
    }

    #[test]
    fn credential_errors_do_not_repeat_the_value() {
        let err = Credentials::new("k", "s", "bad\"passphrase").unwrap_err();
        assert!(!err.to_string().contains("bad"));
    }

    #[test]
    fn credentials_come_from_the_documented_environment_variables() {
        fn lookup(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
            let vars = vars.to_vec();
            move |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        }
        let mut vars = vec![
            (ENV_API_SECRET, "env-secret"),
            (ENV_API_PASSPHRASE, "env-pass"),
        ];
        assert_eq!(
            Credentials::from_lookup(lookup(&vars)).unwrap_err(),
            ConfigError::MissingEnv { var: ENV_API_KEY }
        );
        vars.push((ENV_API_KEY, ""));
        assert_eq!(
            Credentials::from_lookup(lookup(&vars)).unwrap_err(),
            ConfigError::MissingEnv { var: ENV_API_KEY }
        );
        vars.pop();
        vars.push((ENV_API_KEY, "env-key"));
        let creds = Credentials::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(creds.api_key(), "env-key");
        assert_eq!(creds.secret(), b"env-secret");
        assert_eq!(creds.passphrase_str(), "env-pass");
    }
}
