//! Names are resolved on a thread of their own: a resolver that takes two seconds never holds up
//! the cancels of a connection that is up, and the engine thread never looks a name up.

#[path = "support/engine.rs"]
mod support;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::engine::{Resolver, SessionState};
use bitget_cancel::outcome::{Status, Via};
use support::*;

/// A port nothing listens on: connections to it are refused at once.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// What the test's resolver saw.
#[derive(Default)]
struct Seen {
    /// Lookups of the dead gateway so far.
    dead_lookups: AtomicUsize,
    /// A lookup of the dead gateway is running now (held until `release`).
    hanging: AtomicBool,
    release: AtomicBool,
    /// The names of the threads every lookup ran on.
    threads: Mutex<Vec<String>>,
}

#[test]
fn a_resolver_that_takes_two_seconds_never_delays_cancels_on_a_live_connection() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 5);
    let dead = closed_port();
    let seen = Arc::new(Seen::default());
    let resolver = {
        let seen = seen.clone();
        Resolver::new(move |host, port| {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            seen.threads.lock().unwrap().push(thread);
            // After a refused connect the engine asks for the dead gateway again: that lookup
            // takes two seconds, like a DNS server that is slow to answer, and longer if the
            // test has not let it go by then (so a slow machine cannot make it look quick).
            if port == dead && seen.dead_lookups.fetch_add(1, Ordering::SeqCst) >= 1 {
                seen.hanging.store(true, Ordering::SeqCst);
                let started = Instant::now();
                let give_up = started + 3 * PATIENCE;
                while (!seen.release.load(Ordering::SeqCst)
                    || started.elapsed() < Duration::from_secs(2))
                    && Instant::now() < give_up
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                seen.hanging.store(false, Ordering::SeqCst);
            }
            (host, port)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<SocketAddr>>)
        })
    };
    let dead_url = format!("wss://localhost:{dead}/v2/ws/private");
    let (engine, handle) = start(
        config_for(&venue)
            .connections(2)
            .endpoints([venue.url(), dead_url])
            .resolver(resolver),
    );
    wait_until("connection 0 is live", || {
        handle.stats().connections[0].state == SessionState::Live
    });
    wait_until("a lookup of the dead gateway hangs", || {
        seen.hanging.load(Ordering::SeqCst)
    });

    for order in &orders {
        handle.cancel(by_order_id(order)).expect("accepted");
    }
    let outcomes = outcomes(&handle, orders.len());
    let still_hanging = seen.hanging.load(Ordering::SeqCst);
    seen.release.store(true, Ordering::SeqCst);

    for outcome in &outcomes {
        assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
        assert_eq!(outcome.via, Some(Via::Connection(0)), "{outcome:?}");
    }
    assert!(
        still_hanging,
        "every cancel was answered while the lookup still hung: nothing waited for it"
    );
    let threads = seen.threads.lock().unwrap().clone();
    assert!(threads.len() >= 3, "{threads:?}");
    assert!(
        threads.iter().all(|t| t == "bitget-cancel-resolver"),
        "every lookup ran on the resolver thread: {threads:?}"
    );
    engine.shutdown();
}
