//! Pinning that does what it says: a core the machine cannot give the engine thread (one that
//! does not exist, or one outside the CPUs this process may use) stops `Engine::start` with an
//! error, unless the configuration says the core is optional; a core it can give is where the
//! thread runs, whatever mask the starting thread had.

#[path = "support/engine.rs"]
mod support;

use bitget_cancel::InstType;
use bitget_cancel::engine::{Engine, Pinning, StartError};
use bitget_cancel::outcome::Status;
use support::*;

/// CPU numbers from a kernel list such as `0-3,6` (`/sys/devices/system/cpu/possible`, a
/// cpuset's `effective_cpus`).
fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<usize>(), hi.trim().parse::<usize>()) {
            cpus.extend(lo..=hi);
        }
    }
    cpus
}

/// A CPU number no CPU of this machine has: one past the highest the kernel could ever bring
/// online.
fn missing_core() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|list| parse_cpu_list(&list).into_iter().max())
        .map_or(1023, |max| max + 1)
}

/// The CPUs this process's cpuset allows, if the cgroup files say (v2, then v1).
fn cpuset_cpus() -> Option<Vec<usize>> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let file = if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/cpuset.cpus.effective")
        } else if controllers.split(',').any(|c| c == "cpuset") {
            format!("/sys/fs/cgroup/cpuset{path}/cpuset.effective_cpus")
        } else {
            continue;
        };
        if let Ok(list) = std::fs::read_to_string(file) {
            return Some(parse_cpu_list(&list));
        }
    }
    None
}

fn assert_refused(started: Result<(Engine, bitget_cancel::Handle), StartError>, core: usize) {
    match started {
        Err(StartError::Pinning { core: c, reason }) => {
            assert_eq!(c, core);
            assert!(!reason.is_empty());
            let text = StartError::Pinning { core, reason }.to_string();
            assert!(
                text.starts_with(&format!("cannot pin the engine thread to core {core}: ")),
                "{text}"
            );
            assert!(text.contains("core_optional"), "says what to do: {text}");
        }
        Err(other) => panic!("expected a pinning error, got {other}"),
        Ok((engine, _)) => panic!("started, pinned {:?}", engine.pinning()),
    }
}

#[test]
fn a_core_that_does_not_exist_stops_the_engine_at_start() {
    let venue = venue();
    for core in [missing_core(), 100_000] {
        let config = config_for(&venue).core(core).build().expect("valid config");
        assert_refused(Engine::start(config), core);
    }
    assert_eq!(venue.stats().connections_accepted, 0, "nothing connected");
}

#[test]
fn a_core_outside_the_processs_cpuset_stops_the_engine_at_start() {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|l| parse_cpu_list(&l))
        .unwrap_or_default();
    let allowed = cpuset_cpus().unwrap_or_default();
    let Some(&outside) = online
        .iter()
        .find(|c| !allowed.is_empty() && !allowed.contains(c))
    else {
        eprintln!(
            "skipped: every online CPU ({online:?}) is in this process's cpuset ({allowed:?}); \
             the kernel's check is the one a missing core meets"
        );
        return;
    };
    let venue = venue();
    let config = config_for(&venue)
        .core(outside)
        .build()
        .expect("valid config");
    assert_refused(Engine::start(config), outside);
}

#[test]
fn an_optional_core_that_cannot_be_had_leaves_the_engine_running_unpinned() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let core = missing_core();
    let (engine, handle) = start(config_for(&venue).core_optional(core));
    assert_eq!(
        engine.pinning(),
        Pinning::Failed(core),
        "known once started"
    );
    handle.cancel(by_order_id(&order)).expect("accepted");
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    engine.shutdown();
}

#[test]
fn a_core_the_process_may_use_is_where_the_engine_runs() {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let core = cores.last().expect("this thread runs on some core").id;
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    for optional in [false, true] {
        let builder = config_for(&venue);
        let builder = if optional {
            builder.core_optional(core)
        } else {
            builder.core(core)
        };
        let (engine, handle) = start(builder);
        assert_eq!(
            engine.pinning(),
            Pinning::Pinned(core),
            "optional: {optional}"
        );
        assert_eq!(handle.pinning(), Pinning::Pinned(core));
        if !optional {
            handle.cancel(by_order_id(&order)).expect("accepted");
            assert_eq!(next_outcome(&handle).status, Status::Acked);
        }
        engine.shutdown();
    }
}
