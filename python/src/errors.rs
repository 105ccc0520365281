//! The package's errors are Python classes (`bitget_cancel/_errors.py`: several of them have two
//! bases, e.g. `InvalidFieldError(BitgetCancelError, ValueError)`); this raises them.

use bitget_cancel::InvalidField;
use bitget_cancel::engine::{ConfigError, StartError, SubmitError};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An instance of `bitget_cancel._errors.<class>` built from `args`, as a `PyErr`.
fn raise<'py>(py: Python<'py>, class: &str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    let built = ERRORS
        .get_or_try_init(py, || {
            PyResult::Ok(py.import("bitget_cancel._errors")?.unbind())
        })
        .and_then(|module| module.bind(py).getattr(class))
        .and_then(|cls| cls.call1(args));
    match built {
        Ok(error) => PyErr::from_value(error),
        Err(e) => e,
    }
}

/// `InvalidFieldError(field, rule)`: a cancel's field broke the venue's rules.
pub(crate) fn invalid_field(py: Python<'_>, e: InvalidField) -> PyErr {
    raise(py, "InvalidFieldError", (e.field, e.rule))
}

/// `RingFullError` or `EngineStoppedError` for a cancel the engine did not take.
pub(crate) fn refused(py: Python<'_>, e: SubmitError, full: &str) -> PyErr {
    match e {
        SubmitError::Full(_) => raise(py, "RingFullError", (full,)),
        SubmitError::Stopped(_) => stopped(py, "the engine is stopped: it takes no new cancels"),
    }
}

/// `FinalWordOffError`: a final word asked of an engine made without `confirm`.
pub(crate) fn final_word_off(py: Python<'_>) -> PyErr {
    raise(
        py,
        "FinalWordOffError",
        ("the final word is off: make the engine with confirm=True to get one per sent cancel",),
    )
}

/// `EngineStoppedError(message)`.
pub(crate) fn stopped(py: Python<'_>, message: &str) -> PyErr {
    raise(py, "EngineStoppedError", (message,))
}

/// `ConfigError(message, field)`: a setting that cannot work, named by its keyword.
pub(crate) fn config(py: Python<'_>, field: &str, message: impl Into<String>) -> PyErr {
    raise(py, "ConfigError", (message.into(), field))
}

/// `err` as a `ConfigError` of `field` if it is one (a key of a dict setting, e.g.
/// `rest['request_timeout']`, is named by the setting); any other error as it is.
pub(crate) fn renamed(py: Python<'_>, err: PyErr, field: &str) -> PyErr {
    let is_config = ERRORS
        .get(py)
        .and_then(|m| m.bind(py).getattr("ConfigError").ok())
        .is_some_and(|class| err.value(py).is_instance(&class).unwrap_or(false));
    if is_config {
        config(py, field, err.value(py).to_string())
    } else {
        err
    }
}

/// The URLs given besides `url`, so that a URL the library refuses is named by its keyword.
#[derive(Default)]
pub(crate) struct GivenUrls {
    pub rest_url: Option<String>,
    pub uta_url: Option<String>,
    /// `rest['base_url']` (or its default) when `rest` was given.
    pub rest_base: Option<String>,
}

/// The library's `ConfigError`, named by the keyword the caller used.
pub(crate) fn from_config_error(py: Python<'_>, e: &ConfigError, given: &GivenUrls) -> PyErr {
    let field = match e {
        ConfigError::InvalidUrl { url, .. } if given.rest_url.as_ref() == Some(url) => "rest_url",
        ConfigError::InvalidUrl { url, .. } if given.uta_url.as_ref() == Some(url) => "uta_url",
        ConfigError::InvalidUrl { url, .. } if given.rest_base.as_ref() == Some(url) => "rest",
        ConfigError::InvalidUrl { .. } => "url",
        ConfigError::InvalidCredential { field, .. } => match *field {
            "api key" => "api_key",
            "api secret" => "api_secret",
            _ => "passphrase",
        },
        ConfigError::MissingEnv { .. } => "api_key",
        ConfigError::InvalidValue { field, .. } => match *field {
            f if f.starts_with("reconnect") => "reconnect",
            f if f.starts_with("confirm") => "confirm",
            f => f,
        },
        ConfigError::CaFile { .. } => "ca_file",
        ConfigError::InvalidCa { .. } => "ca_pem",
    };
    config(py, field, e.to_string())
}

/// Why the engine could not start: a TLS configuration that cannot work is a `ConfigError`, a
/// lack of resources an `OSError`.
pub(crate) fn from_start_error(py: Python<'_>, e: StartError) -> PyErr {
    match e {
        StartError::Tls(tls) => config(py, "ca_pem", tls.to_string()),
        StartError::Io(io) => PyOSError::new_err(format!("cannot start the engine: {io}")),
        e @ StartError::Pinning { .. } => config(py, "core", e.to_string()),
    }
}
