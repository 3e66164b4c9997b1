//! Form parsing: an `application/x-www-form-urlencoded` body decoded the way the web layer's
//! `Form` extractor does (serde_html_form), then every field through the core parser the
//! pages and API use for it. Bad input must become an `Invalid` naming a field, never a
//! panic; accepted input must be stable (parsing what was stored gives the same value).
#![no_main]

use kintsugi_core::commitments::{Cadence, Schedule, parse_date};
use kintsugi_core::repair::{self, Breach, CauseCategory, Scope, Side, Stage, UpdateKind};
use kintsugi_core::{Email, Invalid, KThreshold, NewPassword, OrganisationName, PersonName, TeamName};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// The union of the fields the pages' forms post (setup, people, teams, repairs, updates,
/// causes, commitments, settings). Numbers are read as the forms read them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields {
    organisation_name: String,
    name: String,
    team_name: String,
    email: String,
    password: String,
    title: String,
    summary: String,
    body: String,
    reason: String,
    statement: String,
    breach: String,
    scope: String,
    side: String,
    stage: String,
    category: String,
    kind: String,
    cadence: Option<String>,
    due: Option<String>,
    first_due: Option<String>,
    count: Option<i64>,
    k: Option<i64>,
    update_cadence_days: Option<i64>,
    /// Repeated keys (multiple selects), as `accountable_people=…&accountable_people=…`.
    accountable_people: Vec<String>,
}

fn named(result: Result<impl Sized, Invalid>) {
    if let Err(e) = result {
        assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
    }
}

/// Accepted text, parsed again, gives the same value: what is stored reads back the same.
macro_rules! stable {
    ($parse:path, $raw:expr, $as_str:ident) => {
        match $parse($raw) {
            Ok(v) => assert_eq!($parse(v.$as_str()).ok().as_ref(), Some(&v)),
            Err(e) => named(Err::<(), _>(e)),
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(f) = serde_html_form::from_bytes::<Fields>(data) else {
        // The extractor answers 400/422 with the decoder's message.
        return;
    };
    stable!(OrganisationName::parse, &f.organisation_name, as_str);
    stable!(PersonName::parse, &f.name, as_str);
    stable!(TeamName::parse, &f.team_name, as_str);
    stable!(Email::parse, &f.email, as_str);
    named(NewPassword::parse(&f.password));
    stable!(Breach::parse, &f.breach, as_str);
    stable!(Scope::parse, &f.scope, as_str);
    stable!(Side::parse, &f.side, as_str);
    stable!(Stage::parse, &f.stage, as_str);
    stable!(CauseCategory::parse, &f.category, as_str);
    named(UpdateKind::parse_postable(&f.kind));
    named(repair::title(&f.title));
    named(repair::summary(&f.summary));
    named(repair::summary(&f.body));
    named(repair::reason_text(&f.reason));
    named(repair::commitment_statement(&f.statement));
    if let Some(days) = f.update_cadence_days {
        named(repair::update_cadence(days));
    }
    if let Some(k) = f.k {
        named(KThreshold::new(k));
    }
    if let Some(c) = f.cadence.as_deref() {
        named(Cadence::parse(c));
    }
    for raw in [f.due.as_deref(), f.first_due.as_deref()].into_iter().flatten() {
        named(parse_date("due", raw));
    }
    let today = time::macros::date!(2026 - 06 - 15);
    match Schedule::parse(
        f.due.as_deref(),
        f.cadence.as_deref(),
        f.count,
        f.first_due.as_deref(),
        today,
    ) {
        // An accepted schedule lists its dates in order, within the window it promises.
        Ok(s) => {
            let dates = s.due_dates();
            assert!(!dates.is_empty() && dates.windows(2).all(|w| w[0] < w[1]));
            assert_eq!((dates[0], *dates.last().unwrap()), (s.first_due(), s.last_due()));
        }
        Err(e) => named(Err::<(), _>(e)),
    }
    for id in &f.accountable_people {
        let _ = uuid::Uuid::parse_str(id.trim());
    }
});
