//! The apology coach's speed (issue 18): one review of a 2,000-character draft, on one core,
//! against 5 ms; and, as the machine's own yardstick measured in the same run, the same engine
//! with a single rule (one regex pass and the sentence split) over the same text.
//!
//! Usage: coach [ITERATIONS]   (default 2000)

use std::hint::black_box;
use std::time::Instant;

use kintsugi_bench::{Target, info, row};
use kintsugi_core::coach::corpus::Corpus;
use kintsugi_core::coach::{Coach, Fit};
use kintsugi_core::repair::{Breach, Scope};

const CORPUS: &str = include_str!("../../crates/core/coach-corpus/corpus.toml");
const CHARS: usize = 2000;
/// The yardstick: the coach's engine with one rule.
const ONE_RULE: &str = r#"
[[rule]]
id = "regret"
kind = "component"
level = "info"
weight = 10
message = "Says sorry."
patterns = ['\bsorry\b']
"#;

/// A draft of exactly [`CHARS`] characters, made of the corpus's texts (genuine apologies and
/// non-apologies in turn), so every rule has something to find.
fn draft() -> String {
    let corpus = match Corpus::from_toml(CORPUS) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("the corpus does not load: {e}");
            std::process::exit(1);
        }
    };
    let mut text = String::new();
    for t in corpus.texts.iter().cycle() {
        if text.chars().count() >= CHARS {
            break;
        }
        text.push_str(&t.text);
        text.push('\n');
    }
    text.chars().take(CHARS).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let text = draft();
    let coach = Coach::default_rules();
    let fit = Fit {
        breach: Some(Breach::BrokenPromise),
        scope: Some(Scope::LeaderTeam),
        deception: false,
    };
    let yardstick = match Coach::from_toml(ONE_RULE) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Warm up: the rules are parsed once, the caches filled.
    for _ in 0..20 {
        black_box(coach.review_for(black_box(&text), fit));
    }

    let mut times = Vec::with_capacity(iterations);
    let mut base = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        // Alternate the two, so both see the same machine.
        let t = Instant::now();
        black_box(yardstick.review_for(black_box(&text), fit));
        base.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        black_box(coach.review_for(black_box(&text), fit));
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    base.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    let base50 = percentile(&base, 0.5);
    row(
        "coach review of a 2,000-character draft, p99 ms vs 5 ms (one core)",
        p99,
        5.0,
        Target::AtMost(1.0),
    );
    // The median is the coach's own cost; the p99 also holds whatever else the machine ran.
    row(
        "coach review of a 2,000-character draft, p50 ms vs 5 ms (one core)",
        p50,
        5.0,
        Target::AtMost(1.0),
    );
    info(
        "limit: the same engine with one rule, same text, p50 µs (the machine's yardstick)",
        base50 * 1000.0,
    );
    info(
        "coach review p50 ÷ one rule's p50 (rules' worth of work)",
        p50 / base50,
    );

    // A hostile draft of the same length: no full stop, and the words the broad patterns start
    // from ("you", "your", "if", "sorry", "I") over and over.
    let hostile: String = "if you all your team sorry I we the people who your "
        .chars()
        .cycle()
        .take(CHARS)
        .collect();
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        black_box(coach.review_for(black_box(&hostile), fit));
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    row(
        "coach review of a hostile 2,000-character draft, p50 ms vs 5 ms (one core)",
        percentile(&times, 0.5),
        5.0,
        Target::AtMost(1.0),
    );
    row(
        "coach review of a hostile 2,000-character draft, p99 ms vs 5 ms (one core)",
        percentile(&times, 0.99),
        5.0,
        Target::AtMost(1.0),
    );
}
