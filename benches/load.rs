//! Throughput of the Lambda's handler under load, with the release profile: the driver of
//! `tests/it/load.rs` (10,000 events over every bundled template's fixtures, 64 at a time),
//! against the loopback S3 server. Run with `cargo bench --bench load`.
//!
//! A measurement, not a test: it prints what it saw. The correctness checks live in the test.

// A measurement harness: a broken fixture or server may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

#[path = "../tests/it/load.rs"]
mod load;

use std::time::Duration;

use load::{Load, cases, run};
use s3_server::{Fault, S3Server};

// The allocator the binaries ship with, so the numbers are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cases = cases();
    println!("rcfge load benchmark: 10,000 decisions over {} fixture events, concurrency 64\n", cases.len());
    let scenarios = [
        ("TTL 60 s (default), S3 healthy", Fault::None, Duration::from_secs(60)),
        ("TTL 0 (every decision asks S3), S3 healthy", Fault::None, Duration::ZERO),
        (
            "TTL 0, S3 fails 10% and delays up to 5 ms",
            Fault::Random { errors_per_mille: 100, max_delay: Duration::from_millis(5) },
            Duration::ZERO,
        ),
    ];
    for (label, fault, ttl) in scenarios {
        let server = S3Server::start();
        let report = run(&server, &cases, Load { decisions: 10_000, concurrency: 64, fault, ttl });
        println!("{label}\n  {}", report.summary());
        for wrong in report.wrong.iter().take(5) {
            println!("  WRONG: {wrong}");
        }
    }
}
