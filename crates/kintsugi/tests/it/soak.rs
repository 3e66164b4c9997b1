//! The soak: mixed load at a steady rate for a long time (ten minutes by default), with zero
//! 5xx and the server's resident memory growing less than 10% after warm-up. Too long for
//! every test run, so it is ignored there; `scripts/soak` runs it (KINTSUGI_SOAK_SECS,
//! KINTSUGI_SOAK_BACKEND=sqlite|postgres).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::crash::{try_login, try_redeem, try_send};
use crate::harness::*;
use crate::rounds::{Group, fetch_token, group, open_round};

/// One request every TICK: 20 a second.
const TICK: Duration = Duration::from_millis(50);

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "ten minutes; run with scripts/soak"]
async fn soak() {
    let secs: u64 = std::env::var("KINTSUGI_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let backend = match std::env::var("KINTSUGI_SOAK_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let g = group(backend, 6).await;
    let pid = g.app.pid();
    let Group {
        app,
        fay,
        members,
        repair,
        ..
    } = &g;
    let r = format!("/api/v1/repairs/{repair}");
    let statuses: Arc<Mutex<BTreeMap<String, BTreeMap<u16, usize>>>> = Arc::default();
    let record = |what: &'static str, status: Option<StatusCode>| {
        let mut all = statuses.lock().unwrap();
        let code = status.map_or(0, |s| s.as_u16());
        *all.entry(what.to_owned())
            .or_default()
            .entry(code)
            .or_default() += 1;
    };
    let duration = Duration::from_secs(secs);
    let warm_up = duration / 10;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let (mut baseline, mut peak) = (None, 0u64);
    let mut samples = Vec::new();
    let mut tokens = Vec::new();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut tick: u64 = 0;
    while started.elapsed() < duration {
        ticker.tick().await;
        tick += 1;
        // Reap finished requests, so the set stays small.
        while let Some(done) = in_flight.try_join_next() {
            let (what, status) = done.unwrap();
            record(what, status);
        }
        if tick.is_multiple_of(200) {
            let rss = rss_kib(pid);
            peak = peak.max(rss);
            samples.push((started.elapsed().as_secs(), rss));
            if baseline.is_none() && started.elapsed() >= warm_up {
                baseline = Some(rss);
            }
        }
        // A new listening round every 30 s, with a token for each member to spend.
        if tick % 600 == 1 {
            let (round, public) = open_round(&g).await;
            for m in members.iter() {
                tokens.push((
                    round.clone(),
                    fetch_token(m, repair, &round, &public).await.unwrap(),
                ));
            }
        }
        let member = members[(tick as usize) % members.len()].clone();
        let (fay, url, r) = (fay.clone(), app.url.clone(), r.clone());
        let token = (tick % 40 == 20).then(|| tokens.pop()).flatten();
        in_flight.spawn(async move {
            let status = |s: Option<(StatusCode, serde_json::Value)>| s.map(|(s, _)| s);
            match tick % 40 {
                0 => (
                    "post update",
                    status(
                        try_send(
                            &fay,
                            Method::POST,
                            &format!("{r}/updates"),
                            Some(json!({"kind": "progress", "body": format!("Soak update {tick}")})),
                        )
                        .await,
                    ),
                ),
                10 => (
                    "coach",
                    status(
                        try_send(
                            &member,
                            Method::POST,
                            &format!("{r}/coach"),
                            Some(json!({"body": "I'm sorry if you felt left out. I should have told you first, and I will post every date change in your channel."})),
                        )
                        .await,
                    ),
                ),
                20 => match token {
                    Some((round, token)) => (
                        "anonymous answer",
                        try_redeem(&url, &round, &token, &format!("Soak answer {tick}")).await,
                    ),
                    None => ("my commitments", status(try_send(&member, Method::GET, "/api/v1/me/commitments", None).await)),
                },
                30 if tick % 200 == 30 => (
                    "login",
                    Some(
                        match try_login(&url, "fay@acme.example", "a long enough password").await {
                            Some(_) => StatusCode::SEE_OTHER,
                            None => StatusCode::UNAUTHORIZED,
                        },
                    ),
                ),
                n if n % 2 == 0 => (
                    "repair page",
                    member
                        .client
                        .get(format!("{url}/repairs/{}", r.rsplit('/').next().unwrap()))
                        .send()
                        .await
                        .ok()
                        .map(|p| p.status()),
                ),
                _ => ("repair API", status(try_send(&fay, Method::GET, &r, None).await)),
            }
        });
    }
    while let Some(done) = in_flight.join_next().await {
        let (what, status) = done.unwrap();
        record(what, status);
    }
    let end = rss_kib(pid);
    let baseline = baseline.unwrap_or(end);
    let growth = (end as f64 - baseline as f64) / baseline as f64 * 100.0;
    let statuses = statuses.lock().unwrap();
    let total: usize = statuses.values().flat_map(|s| s.values()).sum();
    let errors: usize = statuses
        .values()
        .flat_map(|s| s.iter())
        .filter(|(code, _)| **code >= 500 || **code == 0)
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "soak ({backend:?}, {secs} s): {total} requests ({:.1}/s), {errors} 5xx or no answer",
        total as f64 / started.elapsed().as_secs_f64()
    );
    for (what, codes) in statuses.iter() {
        eprintln!("  {what}: {codes:?}");
    }
    eprintln!(
        "  RSS: {baseline} KiB after warm-up ({} s), {end} KiB at the end ({growth:+.1}%), peak {peak} KiB",
        warm_up.as_secs()
    );
    eprintln!("  RSS samples (s, KiB): {samples:?}");
    assert_eq!(errors, 0, "zero 5xx: {statuses:?}");
    assert!(growth < 10.0, "RSS grew {growth:.1}% after warm-up");
}
