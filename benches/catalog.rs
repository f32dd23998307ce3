//! Catalog search (the request modal's `external_select`, asked on every keystroke)
//! and template rendering (on the path to `views.open`), with plain std timing.
//!
//! Run: `cargo bench --bench catalog`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use c1bot::catalog::Catalog;
use c1bot::templates::{Choice, Templates, Vars};

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..runs / 10 {
        f();
    }
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

fn main() {
    for n in [500, 5_000] {
        let catalog = Catalog::synthetic(n);
        for query in ["", "orders", "orders 007 admin", "zzz"] {
            let (median, p99) = time(2_000, || {
                black_box(catalog.search(black_box(query), 100));
            });
            println!("search {n:>5} entitlements, query {query:<18?} median {median:>10.2?}  p99 {p99:>10.2?}");
        }
    }

    let templates = Templates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("blocks"))
        .expect("shipped templates load");
    let choices: Vec<Choice> = (0..10)
        .map(|i| Choice {
            text: format!("{i} h"),
            value: (i * 3600).to_string(),
            selected: i == 1,
        })
        .collect();
    let vars = Vars::new()
        .text("private_metadata", "{\"channel\":\"C0GENERAL1\"}")
        .text("resource_placeholder", "Search resources")
        .options("entitlements", choices.clone())
        .options("durations", choices);
    let (median, p99) = time(5_000, || {
        black_box(templates.render("request_modal", &vars).expect("renders"));
    });
    println!(
        "render request_modal                            median {median:>10.2?}  p99 {p99:>10.2?}"
    );

    let item = Vars::new()
        .text("entitlement", "ReadOnly")
        .text("resource", "AWS production")
        .text("duration", "4 h")
        .text("request_id", "REQ-1042")
        .text("stage", "Waiting for Security")
        .text("justification", "Incident INC-4411")
        .mention("requester", "U0ALICE001")
        .date("requested_at", 1_763_630_043);
    let home = Vars::new()
        .text("command", "/c1")
        .date("updated_at", 1_763_630_043)
        .list("my_requests", vec![item.clone(); 40])
        .list("to_decide", vec![item.clone(); 40])
        .list("my_tasks", vec![item; 40]);
    let (median, p99) = time(2_000, || {
        black_box(templates.render("home", &home).expect("renders"));
    });
    println!(
        "render home, 3 lists of 40 (cut to 100 blocks)  median {median:>10.2?}  p99 {p99:>10.2?}"
    );
}
