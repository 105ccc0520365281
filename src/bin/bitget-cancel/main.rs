//! `bitget-cancel`: the command line of the bitget-cancel library.
//!
//! - `demo`: the engine against the embedded simulated venue, with a latency summary;
//! - `run`: cancels from stdin (JSON lines) to a venue, one JSON outcome per line on stdout;
//! - `sim`: the simulated venue on its own, until interrupted.
//!
//! Exit codes: 0 success; 1 a failure at run time (the venue unreachable, a demo whose outcomes
//! were not the expected ones, an I/O error); 2 a usage or configuration error, including a
//! missing credential variable and credentials the venue refused; 130 interrupted.
#![forbid(unsafe_code)]

mod args;
mod demo;
mod failure;
mod idle;
mod input;
mod latency;
mod report;
mod run;
mod sim;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    let result = match cli.command {
        Command::Demo(a) => demo::demo(a),
        Command::Run(a) => run::run(a),
        Command::Sim(a) => sim::sim(a),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "bitget-cancel: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
