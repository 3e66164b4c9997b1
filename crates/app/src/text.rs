//! Times as people and documents read them.

use time::OffsetDateTime;

/// "2026-12-05 09:30 UTC": what pages and emails show.
pub fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

/// RFC 3339, for the API and exports.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
