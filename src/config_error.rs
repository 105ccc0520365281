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
    /// The file given to
    /// [`ConfigBuilder::extra_root_ca_file`](crate::engine::ConfigBuilder::extra_root_ca_file)
    /// cannot be read.
    #[error("cannot read the CA file {}: {reason}", path.display())]
    CaFile {
        /// The path as given.
        path: std::path::PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The extra root CA is not a PEM certificate that can be trusted (from
    /// [`ConfigBuilder::extra_root_ca_pem`](crate::engine::ConfigBuilder::extra_root_ca_pem), or
    /// the file of
    /// [`ConfigBuilder::extra_root_ca_file`](crate::engine::ConfigBuilder::extra_root_ca_file)).
    #[error("the extra root CA cannot be used: {reason}")]
    InvalidCa {
        /// What is wrong with it.
        reason: String,
    },
}
