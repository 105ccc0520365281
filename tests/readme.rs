//! The README's library code, run as written: the functions below hold the README's blocks line
//! for line (checked), and the ten lines cancel an order on the simulated venue.

use bitget_cancel::outcome::Status;
use bitget_cancel::{Outcome, Via};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The README block after `<!-- readme: ten-lines -->`, with the outcome handed back.
#[rustfmt::skip]
fn ten_lines() -> Result<Outcome> {
    // readme: begin ten-lines
    use std::time::Duration;
    use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
    use bitget_cancel::sim::{SimConfig, SimVenue};
    use bitget_cancel::{Cancel, InstId, InstType, OrderRef};

    let venue = SimVenue::start(SimConfig::default())?;                // a stand-in for Bitget, on loopback
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0); // one resting order
    let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
        .url(venue.url()).rest_url(venue.rest_url()).extra_root_ca_pem(venue.ca_pem())
        .idle(IdleStrategy::Backoff)                                    // parks when idle: fine for a test
        .build()?;
    let (engine, handle) = Engine::start(config)?;                      // two connections and REST, on one thread
    assert!(handle.wait_live(Duration::from_secs(10)), "{:?}", handle.last_error());
    let id = handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id(&order.order_id)?))?;
    let outcome = handle.outcome_timeout(Duration::from_secs(10)).expect("one outcome per cancel");
    println!("{id}: {} via {:?} after {} sends", outcome.status, outcome.via, outcome.attempts);
    engine.shutdown();                                                  // reports anything still pending
    // readme: end ten-lines
    assert_eq!(outcome.id, id);
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    Ok(outcome)
}

/// The README block after `<!-- readme: final-word -->`, on an order of the simulated venue,
/// with the final word handed back.
#[rustfmt::skip]
fn final_word(
    venue: &bitget_cancel::sim::SimVenue,
    order: &bitget_cancel::sim::RestingOrder,
) -> Result<bitget_cancel::FinalWord> {
    use std::time::Duration;
    use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
    use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
    // readme: begin final-word
    use bitget_cancel::engine::Confirm;

    let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
        .url(venue.url()).rest_url(venue.rest_url()).extra_root_ca_pem(venue.ca_pem())
        .idle(IdleStrategy::Backoff)
        .confirm(Confirm::default())                 // subscribe; a final word for every cancel sent
        .build()?;
    let (engine, handle) = Engine::start(config)?;
    assert!(handle.wait_live(Duration::from_secs(10)), "{:?}", handle.last_error());
    handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id(&order.order_id)?))?;
    let outcome = handle.outcome_timeout(Duration::from_secs(10)).expect("first the outcome");
    let word = handle.final_timeout(Duration::from_secs(10)).expect("then the final word");
    println!("{}: {}, then {} ({:?} filled, from {:?})", word.id, outcome.status, word.state, word.filled, word.source);
    engine.shutdown();
    // readme: end final-word
    Ok(word)
}

/// The README block after `<!-- readme: live-config -->`: compiled, never run (it reads the
/// live credentials from the environment).
#[rustfmt::skip]
#[allow(dead_code)]
fn live_config() -> Result<bitget_cancel::engine::Config> {
    use bitget_cancel::engine::{Config, Credentials, IdleStrategy};
    // readme: begin live-config
    let config = Config::builder(Credentials::from_env()?)   // BITGET_API_KEY, BITGET_API_SECRET, BITGET_API_PASSPHRASE
        .idle(IdleStrategy::BusySpin).core(3)                 // a core of its own, spinning: the lowest latency
        .build()?;
    // readme: end live-config
    Ok(config)
}

/// The lines of this file between `// readme: begin NAME` and `// readme: end NAME`, without
/// the function body's indentation.
fn block_in_this_file(name: &str) -> String {
    let source = include_str!("readme.rs");
    let begin = format!("// readme: begin {name}");
    let end = format!("// readme: end {name}");
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|l| l.trim() != begin)
        .skip(1)
        .take_while(|l| l.trim() != end)
        .collect();
    assert!(!lines.is_empty(), "no block {name:?} in tests/readme.rs");
    lines
        .iter()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fenced block that follows `<!-- readme: NAME -->` in README.md.
fn block_in_readme(name: &str) -> String {
    let readme = include_str!("../README.md");
    let marker = format!("<!-- readme: {name} -->");
    let lines: Vec<&str> = readme
        .lines()
        .skip_while(|l| l.trim() != marker)
        .skip(1)
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(!lines.is_empty(), "no block after {marker} in README.md");
    lines.join("\n")
}

#[test]
fn the_readme_shows_the_ten_lines_this_test_runs() {
    assert_eq!(
        block_in_readme("ten-lines"),
        block_in_this_file("ten-lines")
    );
}

#[test]
fn the_readme_shows_the_live_configuration_this_test_compiles() {
    assert_eq!(
        block_in_readme("live-config"),
        block_in_this_file("live-config")
    );
}

#[test]
fn the_readme_shows_the_final_word_lines_this_test_runs() {
    assert_eq!(
        block_in_readme("final-word"),
        block_in_this_file("final-word")
    );
}

#[test]
fn the_readme_final_word_lines_say_the_order_is_cancelled_from_its_push() {
    use bitget_cancel::final_word::{FinalSource, FinalState};
    use bitget_cancel::sim::{SimConfig, SimVenue};
    let venue = SimVenue::start(SimConfig::default()).unwrap();
    let order = venue
        .seed_orders(bitget_cancel::InstType::Spot, "BTCUSDT", 1)
        .remove(0);
    let word = final_word(&venue, &order).unwrap();
    assert_eq!(
        (word.state, word.source),
        (FinalState::Cancelled, Some(FinalSource::Push)),
        "{word:?}"
    );
    assert_eq!(word.filled.map(|d| d.to_string()).as_deref(), Some("0"));
}

#[test]
fn the_readme_ten_lines_cancel_an_order_of_the_simulated_venue_over_a_websocket() {
    let outcome = ten_lines().unwrap();
    assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    assert_eq!(outcome.attempts, 1, "{outcome:?}");
    // After wait_live the cancel goes over a logged-in WebSocket connection, not REST.
    assert!(
        matches!(outcome.via, Some(Via::Connection(_))),
        "{outcome:?}"
    );
}
