//! The keyword settings of `Engine(...)` and `InlineEngine(...)`, named as `ConfigBuilder`'s
//! methods (durations in float seconds), into a `Config`. `None` always means the library's
//! default. Two differ from the Rust names: `ca_pem` and `ca_file` are `extra_root_ca_pem` and
//! `extra_root_ca_file`. The idle strategy defaults to `"backoff"` (a Python program usually
//! shares its machine), not the library's busy-spin. Choices are the library's words:
//! `account` is `"classic"`, `"unified"` or `"auto"` (`Account::as_str`), `batch_budget`
//! `"per_entry"` or `"per_message"`. Not bound: `on_thread_start` and `resolver` (Rust functions),
//! and `credentials` (the positional arguments). `rest` (a dict of `RestConfig`'s fields) is
//! applied before every other setting, so `rest_url` and `no_rest` beside it win; `no_batch`
//! after every other, so it wins over `batch_after`.

use std::path::PathBuf;
use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{
    Account, BatchBudget, Config, ConfigBuilder, Confirm, Credentials, HedgeAfter, IdleStrategy,
    ReconnectBackoff,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors;

/// Every keyword, in the order the stubs list them.
pub(crate) const NAMES: [&str; 40] = [
    "url",
    "endpoints",
    "connections",
    "rest_url",
    "rest",
    "no_rest",
    "rest_only",
    "no_batch",
    "batch_after",
    "hedge_after",
    "max_connection_age",
    "ca_pem",
    "ca_file",
    "core",
    "core_optional",
    "idle",
    "direct_reads",
    "intent_capacity",
    "outcome_capacity",
    "max_pending",
    "ack_timeout",
    "ping_interval",
    "pong_deadline",
    "write_timeout",
    "messages_per_second",
    "cancels_per_second",
    "rate_margin",
    "max_queue_time",
    "connect_timeout",
    "reconnect",
    "login_retry_after",
    "shutdown_grace",
    "send_buffer",
    "outcome_spin",
    "confirm",
    "account",
    "uta_url",
    "dead_man_switch",
    "batch_cancels",
    "batch_budget",
];

/// One keyword's value, named for the errors.
struct Setting<'a, 'py> {
    name: &'a str,
    value: &'a Bound<'py, PyAny>,
}

impl<'py> Setting<'_, 'py> {
    fn py(&self) -> Python<'py> {
        self.value.py()
    }

    fn wrong_type(&self, expected: &str) -> PyErr {
        let got = self
            .value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        PyTypeError::new_err(format!("{} must be {expected}, not {got}", self.name))
    }

    fn string(&self) -> PyResult<String> {
        self.value.extract().map_err(|_| self.wrong_type("a str"))
    }

    fn boolean(&self) -> PyResult<bool> {
        self.value
            .cast::<pyo3::types::PyBool>()
            .map(|b| b.is_true())
            .map_err(|_| self.wrong_type("a bool"))
    }

    fn count<T: for<'a> FromPyObject<'a, 'py>>(&self) -> PyResult<T> {
        if self.value.is_instance_of::<pyo3::types::PyBool>() {
            return Err(self.wrong_type("an int"));
        }
        match self.value.extract::<i128>() {
            Ok(n) if n < 0 => Err(errors::config(
                self.py(),
                self.name,
                format!("invalid {}: must not be negative", self.name),
            )),
            Ok(_) => self.value.extract::<T>().map_err(|_| {
                errors::config(
                    self.py(),
                    self.name,
                    format!("invalid {}: too large", self.name),
                )
            }),
            Err(_) => Err(self.wrong_type("an int")),
        }
    }

    fn seconds(&self) -> PyResult<Duration> {
        seconds(self.py(), self.name, self.value)
    }
}

/// Float (or int) seconds as a duration: finite and not negative.
pub(crate) fn seconds(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    if value.is_instance_of::<pyo3::types::PyBool>() || value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of seconds"
        )));
    }
    let secs: f64 = value
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a number of seconds")))?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        errors::config(
            py,
            name,
            format!("invalid {name}: must be a finite number of seconds, not negative"),
        )
    })
}

/// What a caller asked for, as a configuration.
pub(crate) struct Settings {
    pub config: Config,
}

impl Settings {
    /// The credentials and the keyword settings, checked as `ConfigBuilder::build` checks them.
    pub(crate) fn parse(
        py: Python<'_>,
        api_key: &str,
        api_secret: &str,
        passphrase: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Settings> {
        let credentials = Credentials::new(api_key, api_secret, passphrase)
            .map_err(|e| errors::from_config_error(py, &e, &errors::GivenUrls::default()))?;
        let mut builder = Config::builder(credentials).idle(IdleStrategy::Backoff);
        let mut given = errors::GivenUrls::default();
        let mut no_batch = false;
        if let Some(rest) = kwargs
            .map(|k| k.get_item("rest"))
            .transpose()?
            .flatten()
            .filter(|v| !v.is_none())
        {
            let setting = Setting {
                name: "rest",
                value: &rest,
            };
            let config = rest_config(&setting).map_err(|e| errors::renamed(py, e, "rest"))?;
            given.rest_base = Some(config.base_url.clone());
            builder = builder.rest(config);
        }
        if let Some(kwargs) = kwargs {
            for (key, value) in kwargs.iter() {
                let name: String = key.extract()?;
                let Some(&name) = NAMES.iter().find(|n| **n == name) else {
                    return Err(PyTypeError::new_err(format!(
                        "unexpected keyword argument '{name}'; the settings are: {}",
                        NAMES.join(", ")
                    )));
                };
                if value.is_none() || name == "rest" {
                    continue;
                }
                let setting = Setting {
                    name,
                    value: &value,
                };
                match name {
                    "rest_url" => given.rest_url = Some(setting.string()?),
                    "uta_url" => given.uta_url = Some(setting.string()?),
                    "no_batch" => no_batch = setting.boolean()?,
                    _ => {}
                }
                builder = apply(builder, &setting)?;
            }
        }
        if no_batch {
            builder = builder.no_batch();
        }
        let config = builder
            .build()
            .map_err(|e| errors::from_config_error(py, &e, &given))?;
        Ok(Settings { config })
    }
}

fn apply(b: ConfigBuilder, s: &Setting<'_, '_>) -> PyResult<ConfigBuilder> {
    Ok(match s.name {
        "url" => b.url(s.string()?),
        "endpoints" => {
            let urls: Vec<String> = if s.value.is_instance_of::<PyString>() {
                return Err(s.wrong_type("a list of str"));
            } else {
                s.value
                    .extract()
                    .map_err(|_| s.wrong_type("a list of str"))?
            };
            b.endpoints(urls)
        }
        "connections" => b.connections(s.count()?),
        "rest_url" => b.rest_url(s.string()?),
        "no_rest" => {
            if s.boolean()? {
                b.no_rest()
            } else {
                b
            }
        }
        "rest_only" => b.rest_only(s.boolean()?),
        // Applied once every other setting is (`Settings::parse`), so that it wins over
        // `batch_after`.
        "no_batch" => {
            s.boolean()?;
            b
        }
        "batch_after" => b.batch_after(s.seconds()?),
        "hedge_after" => b.hedge_after(hedge_after(s)?),
        "max_connection_age" => b.max_connection_age(s.seconds()?),
        "ca_pem" => {
            let pem: Vec<u8> = if let Ok(text) = s.value.extract::<String>() {
                text.into_bytes()
            } else if let Ok(bytes) = s.value.cast::<pyo3::types::PyBytes>() {
                bytes.as_bytes().to_vec()
            } else {
                return Err(s.wrong_type("a str or bytes holding PEM"));
            };
            b.extra_root_ca_pem(pem)
        }
        "ca_file" => {
            let path: PathBuf = s
                .value
                .extract()
                .map_err(|_| s.wrong_type("a path (str or os.PathLike)"))?;
            b.extra_root_ca_file(path)
        }
        "core" => b.core(s.count()?),
        "core_optional" => b.core_optional(s.count()?),
        "idle" => b.idle(match s.string()?.as_str() {
            "busy_spin" => IdleStrategy::BusySpin,
            "yield" => IdleStrategy::Yield,
            "backoff" => IdleStrategy::Backoff,
            other => {
                return Err(errors::config(
                    s.py(),
                    "idle",
                    format!(
                        "invalid idle: {other:?} is not one of \"busy_spin\", \"yield\", \"backoff\""
                    ),
                ));
            }
        }),
        "direct_reads" => b.direct_reads(s.boolean()?),
        "intent_capacity" => b.intent_capacity(s.count()?),
        "outcome_capacity" => b.outcome_capacity(s.count()?),
        "max_pending" => b.max_pending(s.count()?),
        "ack_timeout" => b.ack_timeout(s.seconds()?),
        "ping_interval" => b.ping_interval(s.seconds()?),
        "pong_deadline" => b.pong_deadline(s.seconds()?),
        "write_timeout" => b.write_timeout(s.seconds()?),
        "messages_per_second" => b.messages_per_second(s.count()?),
        "cancels_per_second" => b.cancels_per_second(s.count()?),
        "rate_margin" => b.rate_margin(s.seconds()?),
        "max_queue_time" => b.max_queue_time(s.seconds()?),
        "connect_timeout" => b.connect_timeout(s.seconds()?),
        "reconnect" => b.reconnect(reconnect(s).map_err(|e| errors::renamed(s.py(), e, "reconnect"))?),
        "login_retry_after" => b.login_retry_after(
            match s.value.extract::<String>().ok().as_deref() {
                Some("never") => None,
                Some(_) => return Err(s.wrong_type("a number of seconds or \"never\"")),
                None => Some(s.seconds()?),
            },
        ),
        "shutdown_grace" => b.shutdown_grace(s.seconds()?),
        "send_buffer" => b.send_buffer(Some(s.count()?)),
        "outcome_spin" => b.outcome_spin(s.seconds()?),
        "confirm" => match confirm(s).map_err(|e| errors::renamed(s.py(), e, "confirm"))? {
            Some(c) => b.confirm(c),
            None => b.no_confirm(),
        },
        "account" => b.account(
            s.string()?
                .parse::<Account>()
                .map_err(|e| errors::config(s.py(), "account", format!("invalid account: {e}")))?,
        ),
        "uta_url" => b.uta_url(s.string()?),
        "dead_man_switch" => b.dead_man_switch(s.seconds()?),
        "batch_cancels" => b.batch_cancels(s.boolean()?),
        "batch_budget" => b.batch_budget(match s.string()?.as_str() {
            "per_entry" => BatchBudget::PerEntry,
            "per_message" => BatchBudget::PerMessage,
            other => {
                return Err(errors::config(
                    s.py(),
                    "batch_budget",
                    format!(
                        "invalid batch_budget: {other:?} is not one of \"per_entry\", \"per_message\""
                    ),
                ));
            }
        }),
        // `NAMES` holds exactly the names above.
        other => return Err(PyTypeError::new_err(format!("unknown setting {other}"))),
    })
}

/// `"adaptive"`, `"off"` or seconds.
fn hedge_after(s: &Setting<'_, '_>) -> PyResult<HedgeAfter> {
    match s.value.extract::<String>().ok().as_deref() {
        Some("adaptive") => Ok(HedgeAfter::Adaptive),
        Some("off") => Ok(HedgeAfter::Off),
        Some(_) => Err(s.wrong_type("\"adaptive\", \"off\" or a number of seconds")),
        None => Ok(HedgeAfter::Fixed(s.seconds()?)),
    }
}

/// The final word: `True` (`Confirm`'s defaults), `False` (off), or a dict with any of
/// `Confirm`'s fields (`inst_types` a list of product lines, `after`, `timeout`,
/// `subscribe_grace` in seconds, `capacity`, `early_pushes`); the others keep their defaults.
fn confirm(s: &Setting<'_, '_>) -> PyResult<Option<Confirm>> {
    if s.value.is_instance_of::<pyo3::types::PyBool>() {
        return Ok(s.boolean()?.then(Confirm::default));
    }
    let dict = s
        .value
        .cast::<PyDict>()
        .map_err(|_| s.wrong_type("True, False or a dict of Confirm's fields"))?;
    let mut c = Confirm::default();
    for (key, value) in dict.iter() {
        let key: String = key.extract()?;
        let name = format!("confirm['{key}']");
        let field = Setting {
            name: &name,
            value: &value,
        };
        match key.as_str() {
            "inst_types" => {
                if value.is_instance_of::<PyString>() {
                    return Err(field.wrong_type("a list of product lines"));
                }
                let words: Vec<String> = value
                    .extract()
                    .map_err(|_| field.wrong_type("a list of product lines"))?;
                c.inst_types = words
                    .iter()
                    .map(|w| {
                        w.parse::<InstType>().map_err(|e| {
                            errors::config(s.py(), "confirm", format!("invalid {name}: {}", e.rule))
                        })
                    })
                    .collect::<PyResult<_>>()?;
            }
            "after" => c.after = field.seconds()?,
            "timeout" => c.timeout = field.seconds()?,
            "subscribe_grace" => c.subscribe_grace = field.seconds()?,
            "capacity" => c.capacity = field.count()?,
            "early_pushes" => c.early_pushes = field.count()?,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "confirm has no '{key}': its keys are inst_types, after, timeout, \
                     subscribe_grace, capacity, early_pushes"
                )));
            }
        }
    }
    Ok(Some(c))
}

/// `RestConfig`'s fields in a dict: `base_url`, `demo_trading`, `request_timeout`,
/// `connect_timeout`, `keep_warm_every` (seconds), `reconnect` (as the setting), `max_body`
/// (bytes); the others keep their defaults. The extra root CA is `ca_pem`'s.
fn rest_config(s: &Setting<'_, '_>) -> PyResult<bitget_cancel::rest::RestConfig> {
    let dict = s
        .value
        .cast::<PyDict>()
        .map_err(|_| s.wrong_type("a dict of RestConfig's fields"))?;
    let mut rest = bitget_cancel::rest::RestConfig::default();
    for (key, value) in dict.iter() {
        let key: String = key.extract()?;
        let name = format!("rest['{key}']");
        let field = Setting {
            name: &name,
            value: &value,
        };
        match key.as_str() {
            "base_url" => rest.base_url = field.string()?,
            "demo_trading" => rest.demo_trading = field.boolean()?,
            "request_timeout" => rest.request_timeout = field.seconds()?,
            "connect_timeout" => rest.connect_timeout = field.seconds()?,
            "keep_warm_every" => rest.keep_warm_every = field.seconds()?,
            "reconnect" => rest.reconnect = reconnect(&field)?,
            "max_body" => rest.max_body = field.count()?,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "rest has no '{key}': its keys are base_url, demo_trading, request_timeout, \
                     connect_timeout, keep_warm_every, reconnect, max_body"
                )));
            }
        }
    }
    Ok(rest)
}

/// A dict with any of `initial`, `max`, `reset_after` (seconds); the others keep their defaults.
fn reconnect(s: &Setting<'_, '_>) -> PyResult<ReconnectBackoff> {
    let dict = s
        .value
        .cast::<PyDict>()
        .map_err(|_| s.wrong_type("a dict with initial, max, reset_after"))?;
    let mut backoff = ReconnectBackoff::default();
    for (key, value) in dict.iter() {
        let key: String = key.extract()?;
        let name = format!("reconnect['{key}']");
        let d = seconds(s.py(), &name, &value)?;
        match key.as_str() {
            "initial" => backoff.initial = d,
            "max" => backoff.max = d,
            "reset_after" => backoff.reset_after = d,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "reconnect has no '{key}': its keys are initial, max, reset_after"
                )));
            }
        }
    }
    Ok(backoff)
}
