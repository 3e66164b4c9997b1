//! The apology coach on any UTF-8 text: it must not panic, and must answer in bounded time
//! even on very long, regex-hostile input (the coach runs on every keystroke of the draft).
#![no_main]

use std::time::Duration;

use kintsugi_core::coach::{Coach, Fit};
use kintsugi_core::repair::{Breach, Scope};
use libfuzzer_sys::fuzz_target;

/// What a request body can carry at most (the server's body limit is 64 KiB).
const LONGEST: usize = 64 * 1024;
/// Generous for a linear-time matcher on 64 KiB, even in an instrumented build; a
/// backtracking blow-up would take far longer. Counted in CPU time, so a busy machine
/// (the fuzzer runs at low priority) does not trip it.
const BUDGET: Duration = Duration::from_secs(2);

/// CPU time this thread has used.
fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill in.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    assert!(ok, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fuzz_target!(init: {
    // Compiling the rule file happens once per process, not per input.
    Coach::default_rules();
}, |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Half the inputs are repeated up to the body limit: short patterns found by the
    // fuzzer become the very long, repetitive drafts that hurt backtracking matchers.
    let text = if mode & 1 == 1 && !text.is_empty() {
        text.repeat(LONGEST / text.len()).chars().take(LONGEST).collect()
    } else {
        text.to_owned()
    };
    let breach = Breach::ALL.get(usize::from(mode >> 1) % (Breach::ALL.len() + 1)).copied();
    let deception = mode & 0x80 != 0;
    // The scope picks which examples the advice and the rewrites carry.
    let scope = Scope::ALL.get(usize::from(mode >> 3) % (Scope::ALL.len() + 1)).copied();
    let started = cpu_time();
    let review = Coach::default_rules().review_for(&text, Fit { breach, scope, deception });
    let took = cpu_time() - started;
    assert!(
        took < BUDGET,
        "the coach took {took:?} on {} bytes",
        text.len()
    );
    assert!(review.score <= 100, "score {}", review.score);
    // The page highlights each span by slicing the draft: a span must lie inside the text
    // and on character boundaries, or the slice would panic.
    let spans = review.components.iter().map(|c| (c.start, c.end));
    for (start, end) in spans.chain(review.flags.iter().map(|f| (f.start, f.end))) {
        assert!(start <= end && text.get(start..end).is_some(), "span {start}..{end}");
    }
    serde_json::to_string(&review).expect("the API serialises every review");
});
