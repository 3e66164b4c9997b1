//! The apology coach's panel beside the acknowledgment draft: rendered into the repair page,
//! or alone for htmx while someone types.

use askama::Template;
use kintsugi_app::repairs::{self, Access};
use kintsugi_core::coach::Review;
use uuid::Uuid;

#[derive(Template)]
#[template(path = "coach.html")]
struct CoachPartial {
    review: Option<Review>,
    components: Vec<(&'static str, String)>,
    missing: Vec<&'static str>,
    flags: Vec<(String, String, String, String)>,
    repair_id: Uuid,
}

const COMPONENTS: &[(&str, &str)] = &[
    ("responsibility", "taking responsibility"),
    ("repair", "an offer to repair"),
    ("regret", "regret"),
    ("explanation", "an explanation of what went wrong"),
    ("repentance", "a promise not to repeat it"),
    ("impact", "the impact on others"),
    ("forgiveness", "asking for forgiveness"),
];

pub(super) fn coach_partial(access: &Access, draft: &str) -> String {
    let review = (!draft.trim().is_empty()).then(|| repairs::coach_review(access, draft));
    let snippet = |start: usize, end: usize| draft.get(start..end).unwrap_or_default().to_owned();
    let (components, missing, flags) = match &review {
        Some(r) => (
            r.components
                .iter()
                .map(|c| {
                    (
                        COMPONENTS
                            .iter()
                            .find(|k| k.0 == c.id)
                            .map(|k| k.1)
                            .unwrap_or("component"),
                        snippet(c.start, c.end),
                    )
                })
                .collect(),
            COMPONENTS
                .iter()
                .filter(|(id, _)| *id != "forgiveness" && !r.components.iter().any(|c| c.id == *id))
                .map(|(_, label)| *label)
                .collect(),
            r.flags
                .iter()
                .map(|f| {
                    (
                        snippet(f.start, f.end),
                        f.rule.clone(),
                        f.message.clone(),
                        f.suggestion.clone(),
                    )
                })
                .collect(),
        ),
        None => (vec![], vec![], vec![]),
    };
    let partial = CoachPartial {
        review,
        components,
        missing,
        flags,
        repair_id: access.repair.id,
    };
    partial.render().unwrap_or_default()
}
