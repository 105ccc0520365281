//! The one error type of the command line: a sentence for stderr and an exit code.

use std::fmt;

/// Exit code of a failure at run time.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage or configuration error, including refused credentials.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code after SIGINT or SIGTERM (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command stopped: `message` is one sentence without a trailing period.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// A failure at run time (exit 1).
    pub fn runtime(message: impl fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            code: EXIT_FAILURE,
        }
    }

    /// A usage or configuration error (exit 2).
    pub fn config(message: impl fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            code: EXIT_CONFIG,
        }
    }
}
