//! The Atom and iCalendar feeds, read back with real parsers (`atom_syndication`, and
//! `icalendar` with its parser): what a feed reader or calendar app would see.

use icalendar::{Component, DatePerhapsTime};
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both;

/// Text that needs escaping in XML and in iCalendar.
const AWKWARD: &str = "Plan; review, then ship <b>&</b> \\ \"done\"";

/// A feed's body, fetched the way a feed reader does (no cookie) and parsed.
async fn parsed<T: std::str::FromStr>(url: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    let got = reqwest::get(url).await.unwrap();
    assert_eq!(got.status(), StatusCode::OK, "{url}");
    got.text()
        .await
        .unwrap()
        .parse()
        .expect("a feed that parses")
}

on_both!(
    atom_entries_parse_with_every_version_and_reason,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        for fields in [
            [("kind", "progress"), ("body", AWKWARD), ("reason", "")],
            [
                ("kind", "decision"),
                ("body", "We will hold a weekly check-in."),
                ("reason", "Support asked for a fixed rhythm."),
            ],
        ] {
            let posted = c.fay.post_form(&format!("{r}/updates"), &fields).await;
            assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        }
        // Edit the first update: a second version; the feed says so.
        let page = c.fay.get(&r).await;
        let at = page.body.find("id=\"update-1\"").expect("update #1");
        let first = page.body[at..].split("/updates/").nth(1).unwrap()[..36].to_owned();
        let edited = c
            .fay
            .post_form(
                &format!("{r}/updates/{first}/edit"),
                &[
                    ("body", "Plan agreed; shared with support."),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);

        let page = c.ana.post_form("/me/feeds", &[]).await;
        let url = value_by_id(&page.body, &format!("atom-{}", c.repair)).expect("an Atom address");
        let feed: atom_syndication::Feed = parsed(&url).await;
        assert_eq!(feed.id(), format!("urn:uuid:{}", c.repair));
        assert_eq!(feed.title().as_str(), "Updates: Missed launch date");
        assert!(feed.links()[0].href().ends_with(&r));
        let entries = feed.entries();
        assert_eq!(entries.len(), 2, "one entry per update, not per version");
        // Newest first.
        let (decision, progress) = (&entries[0], &entries[1]);
        assert_eq!(decision.title().as_str(), "Decision: update #2");
        assert_eq!(
            decision.content().unwrap().value().unwrap(),
            "We will hold a weekly check-in.\n\nWhy: Support asked for a fixed rhythm."
        );
        assert_eq!(decision.authors()[0].name(), "Fay Facilitator");
        assert!(
            decision.links()[0]
                .href()
                .ends_with(&format!("{r}#update-2"))
        );
        assert_eq!(progress.title().as_str(), "Progress: update #1");
        assert_eq!(
            progress.content().unwrap().value().unwrap(),
            "Plan agreed; shared with support.\n\n(Edited: 2 versions; see the repair for every version.)"
        );
        assert!(progress.published().is_some());
        assert!(progress.updated() >= progress.published().unwrap());
        assert_eq!(
            *feed.updated(),
            entries.iter().map(|e| *e.updated()).max().unwrap()
        );
        let ids: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.id()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(|i| i.starts_with("urn:uuid:")));

        // Text that needs escaping in XML comes back exactly as written.
        c.fay
            .post_form(
                &format!("{r}/updates"),
                &[("kind", "check_in"), ("body", AWKWARD), ("reason", "")],
            )
            .await;
        let feed: atom_syndication::Feed = parsed(&url).await;
        assert_eq!(
            feed.entries()[0].content().unwrap().value().unwrap(),
            AWKWARD
        );
    }
);

on_both!(
    calendar_events_parse_one_per_occurrence,
    |backend| async move {
        let c = crate::repairs::cast(backend).await;
        let r = format!("/repairs/{}", c.repair);
        for fields in [
            vec![
                ("owner", c.lee_id.as_str()),
                ("statement", AWKWARD),
                ("cadence", "weekly"),
                ("count", "3"),
                ("first_due", &day(2)),
            ],
            vec![
                ("owner", c.lee_id.as_str()),
                ("statement", "Apologise to the support team in person"),
                ("due", &day(5)),
            ],
        ] {
            let added = c.lee.post_form(&format!("{r}/commitments"), &fields).await;
            assert!(added.status.is_redirection(), "{}", added.body);
        }

        let page = c.lee.post_form("/me/feeds", &[]).await;
        let url = value_by_id(&page.body, "ics-url").unwrap();
        let got = reqwest::get(&url).await.unwrap();
        assert_eq!(
            got.headers()["content-type"],
            "text/calendar; charset=utf-8"
        );
        let calendar: icalendar::Calendar =
            got.text().await.unwrap().parse().expect("valid iCalendar");
        let events: Vec<&icalendar::Event> = calendar
            .components
            .iter()
            .filter_map(|c| c.as_event())
            .collect();
        assert_eq!(events.len(), 4, "three weekly occurrences and one single");
        let mut starts: Vec<(String, &str)> = events
            .iter()
            .map(|e| match (e.get_start(), e.get_end()) {
                (Some(DatePerhapsTime::Date(d)), Some(DatePerhapsTime::Date(end))) => {
                    // RFC 5545: DTEND is exclusive, so a one-day event ends the next day.
                    assert_eq!(end, d.succ_opt().unwrap(), "{d}: ends the day after");
                    (d.to_string(), e.get_summary().unwrap())
                }
                other => panic!("an all-day event, not {other:?}"),
            })
            .collect();
        starts.sort();
        assert_eq!(
            starts,
            vec![
                (day(2), AWKWARD),
                (day(5), "Apologise to the support team in person"),
                (day(9), AWKWARD),
                (day(16), AWKWARD),
            ],
            "each occurrence on its due date, the statement unchanged by escaping"
        );
        let uids: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e.get_uid().unwrap()).collect();
        assert_eq!(uids.len(), 4, "a stable, distinct UID per occurrence");
        for e in &events {
            assert_eq!(
                e.get_description(),
                Some("Commitment in the repair “Missed launch date”.")
            );
            assert!(e.get_url().unwrap().ends_with(&r));
        }

        // Ana owns nothing: her calendar parses and is empty.
        let page = c.ana.post_form("/me/feeds", &[]).await;
        let url = value_by_id(&page.body, "ics-url").unwrap();
        let calendar: icalendar::Calendar = parsed(&url).await;
        assert_eq!(
            calendar
                .components
                .iter()
                .filter_map(|c| c.as_event())
                .count(),
            0
        );
    }
);
