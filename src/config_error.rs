//! What a configuration value that cannot work is reported as: one error for the engine's
//! settings, its endpoints and the credentials.

/// A configuration value that cannot work; names the field and what is wrong, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL is not a `wss://host[:port][/path]` URL.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A credential is empty or holds characters that cannot be sent; the value is not repeated.
    #[error("invalid {field}: {reason}")]
    InvalidCredential {
        /// `api key`, `api secret` or `passphrase`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An environment variable [`Credentials::from_env`](crate::engine::Credentials::from_env)
    /// needs is unset or not UTF-8.
    #[error("environment variable {var} is not set (or not UTF-8)")]
    MissingEnv {
        /// The variable's name.
        var: &'static str,
    },
    /// A numeric setting is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// The setting's name.
        field: &'static str,
        /// The rule it broke.
        reason: &'static str,
    },
}
