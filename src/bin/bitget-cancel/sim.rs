//! `bitget-cancel sim`: the simulated venue on its own, until SIGINT or SIGTERM.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::sim::{
    RestStats, RestingOrder, SimConfig, SimError, SimLimits, SimStats, SimVenue,
};

use crate::args::SimArgs;
use crate::failure::Failure;
use crate::input::{Line, LineReader, is_blank, order_line, parse_book_line};

/// The symbol generated orders rest on.
const SYMBOL: &str = "BTCUSDT";
/// Order ids given to orders of an orders file that have none (19 digits, like the venue's,
/// apart from the generator's range).
const FIRST_FILE_ORDER_ID: u64 = 1_500_000_000_000_000_000;

pub fn sim(args: SimArgs) -> Result<ExitCode, Failure> {
    let from_file = match &args.orders {
        Some(path) => read_book(path)?,
        None => Vec::new(),
    };
    let defaults = SimConfig::default();
    let default_credentials = args.api_key == defaults.api_key
        && args.api_secret == defaults.secret
        && args.passphrase == defaults.passphrase;
    let config = SimConfig {
        listen: args.listen,
        api_key: args.api_key.clone(),
        secret: args.api_secret.clone(),
        passphrase: args.passphrase.clone(),
        max_messages_per_second: args.max_msgs_per_sec,
        idle_timeout: (args.idle_timeout_s > 0).then(|| Duration::from_secs(args.idle_timeout_s)),
        // Nobody reads the record of a standalone venue: keep none, so memory stays flat.
        record_limit: 0,
        account_mode: args.account,
        limits: args.venue_limits.then(SimLimits::default),
        ..defaults
    };
    let venue = SimVenue::start(config).map_err(|e| match e {
        SimError::Bind { .. } => Failure::config(e),
        _ => Failure::runtime(format!("cannot start the simulated venue: {e}")),
    })?;
    if let Some(path) = &args.ca_out {
        fs::write(path, venue.ca_pem()).map_err(|e| {
            Failure::runtime(format!("cannot write the CA to {}: {e}", path.display()))
        })?;
    }

    let file_orders = from_file.len();
    for order in from_file {
        venue.add_order(order);
    }
    let generated = {
        let mut orders = venue.seed_orders(InstType::Spot, SYMBOL, args.generate.div_ceil(2));
        orders.extend(venue.seed_orders(InstType::UsdtFutures, SYMBOL, args.generate / 2));
        orders
    };
    let generated_lines: Vec<String> = generated
        .iter()
        .map(|o| {
            order_line(
                o.inst_type,
                &o.inst_id,
                &o.order_id,
                o.client_oid.as_deref(),
            )
        })
        .collect();
    if let Some(path) = &args.orders_out {
        let mut text = generated_lines.join("\n");
        text.push('\n');
        fs::write(path, text).map_err(|e| {
            Failure::runtime(format!(
                "cannot write the orders to {}: {e}",
                path.display()
            ))
        })?;
    }

    let (stop_tx, stop_rx) = mpsc::channel();
    let stoppable = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    });

    {
        let mut out = io::stdout().lock();
        let mut lines = vec![venue.url(), venue.rest_url(), venue.v3_url()];
        if args.orders_out.is_none() {
            lines.extend(generated_lines.iter().cloned());
        }
        // One write: a reader that stops after the first line must not make the rest fail.
        let mut text = lines.join("\n");
        text.push('\n');
        out.write_all(text.as_bytes())
            .map_err(|e| Failure::runtime(format!("cannot write to standard output: {e}")))?;
        out.flush()
            .map_err(|e| Failure::runtime(format!("cannot write to standard output: {e}")))?;
    }
    eprintln!(
        "sim: listening on {} (V2), {} (V3, the unified account) and, for REST, {} (the \
         certificate is also valid for 127.0.0.1)",
        venue.url(),
        venue.v3_url(),
        venue.rest_url()
    );
    match &args.ca_out {
        Some(path) => eprintln!(
            "sim: clients must trust the CA written to {}",
            path.display()
        ),
        None => eprintln!("sim: no --ca-out: clients will not be able to verify this venue"),
    }
    eprintln!(
        "sim: book: {} resting orders ({file_orders} from the orders file, {} generated{})",
        venue.resting_orders(),
        generated.len(),
        match (&args.orders_out, generated.is_empty()) {
            (_, true) => String::new(),
            (Some(path), false) => format!(", written to {}", path.display()),
            (None, false) => ", printed on standard output".to_string(),
        }
    );
    eprintln!(
        "sim: the key's account is {} ({}); {}",
        args.account.as_str(),
        match args.account {
            bitget_cancel::sim::AccountMode::Classic => "V2 serves it, V3 answers 40084",
            bitget_cancel::sim::AccountMode::Unified => "V3 serves it, V2 answers 40085",
        },
        if args.venue_limits {
            "the live venue's per-account rate limits are enforced"
        } else {
            "no per-account rate limit (--venue-limits enforces them)"
        }
    );
    if default_credentials {
        eprintln!(
            "sim: accepts BITGET_API_KEY={} BITGET_API_SECRET={} BITGET_API_PASSPHRASE={} (the defaults)",
            args.api_key, args.api_secret, args.passphrase
        );
    } else {
        eprintln!(
            "sim: accepts API key {} with the secret and passphrase given",
            args.api_key
        );
    }
    eprintln!(
        "sim: {} per connection, {}",
        match args.max_msgs_per_sec {
            0 => "no message limit".to_string(),
            n => format!("at most {n} messages/s"),
        },
        match args.idle_timeout_s {
            0 => "no idle timeout".to_string(),
            s => format!("disconnects after {s} s without a ping"),
        }
    );
    match &stoppable {
        Ok(()) => eprintln!("sim: running; Ctrl-C or SIGTERM stops it"),
        Err(e) => eprintln!("sim: running until killed (cannot handle signals: {e})"),
    }

    let mut shown = (SimStats::default(), RestStats::default());
    loop {
        match stop_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // No handler: wait for the kill.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_secs(1)),
        }
        let stats = (venue.stats(), rest_counts(&venue.rest_stats()));
        if stats != shown {
            eprintln!("sim: {}", describe(&stats.0, &stats.1));
            shown = stats;
        }
    }
    let (stats, rest) = (venue.stats(), venue.rest_stats());
    venue.shutdown();
    eprintln!("sim: stopped; {}", describe(&stats, &rest));
    Ok(ExitCode::SUCCESS)
}

/// The REST counters the summary shows (the open-connection count changes too often to
/// print a line for each change).
fn rest_counts(rest: &RestStats) -> RestStats {
    RestStats {
        connections_open: 0,
        ..*rest
    }
}

/// One line: WebSocket and REST cancels apart, each acked and rejected.
fn describe(s: &SimStats, rest: &RestStats) -> String {
    format!(
        "connections {} open / {} accepted, logins {} ok / {} refused, cancels over WebSocket {} \
         acked / {} rejected, over REST {} acked / {} rejected, {} requests refused, {} pings, \
         {} disconnects",
        s.connections_open,
        s.connections_accepted,
        s.logins_ok,
        s.logins_failed,
        s.cancels_acked,
        s.cancels_rejected,
        rest.cancels_acked,
        rest.cancels.saturating_sub(rest.cancels_acked),
        s.requests_refused,
        s.pings,
        s.disconnects.total()
    )
}

/// Reads an orders file; the first bad line is an error naming it.
fn read_book(path: &Path) -> Result<Vec<RestingOrder>, Failure> {
    let file = fs::File::open(path).map_err(|e| {
        Failure::config(format!(
            "cannot open the orders file {}: {e}",
            path.display()
        ))
    })?;
    let mut reader = LineReader::new(io::BufReader::new(file));
    let mut orders = Vec::new();
    let mut number = 0u64;
    let bad = |number, why: String| {
        Failure::config(format!("line {number} of {}: {why}", path.display()))
    };
    while let Some(line) = reader
        .next_line()
        .map_err(|e| Failure::config(format!("cannot read {}: {e}", path.display())))?
    {
        number += 1;
        let text = match line {
            Line::TooLong => return Err(bad(number, "the line is too long".to_string())),
            Line::Text(t) if is_blank(&t) => continue,
            Line::Text(t) => t,
        };
        let order = parse_book_line(&text).map_err(|why| bad(number, why))?;
        let order_id = order
            .order_id
            .unwrap_or_else(|| (FIRST_FILE_ORDER_ID + orders.len() as u64).to_string());
        orders.push(RestingOrder {
            inst_type: order.inst_type,
            inst_id: order.inst_id,
            order_id,
            client_oid: order.client_oid,
        });
    }
    Ok(orders)
}
