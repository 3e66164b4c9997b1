//! The apology coach from the outside (issue 18): `kintsugi coach eval` meets the targets on
//! the corpus in the repository, and a leader↔team repair is shown leader↔team examples only.

use std::process::Command;

use kintsugi_core::coach::Coach;
use kintsugi_core::repair::Scope;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;
use crate::repairs::cast;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../core/coach-corpus/corpus.toml"
);

fn kintsugi(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The numbers in the table row that starts with `start`, in order (a cell may hold more).
fn row(report: &str, start: &str) -> Vec<f64> {
    let line = report
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no row {start:?} in:\n{report}"));
    line[start.len()..]
        .split('|')
        .filter_map(|cell| cell.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn eval_cross_validates_the_corpus_and_meets_the_targets() {
    let (ok, report, err) = kintsugi(&["coach", "eval", CORPUS, "--folds", "5", "--check"]);
    assert!(ok, "{report}\n{err}");
    assert!(report.contains("5-fold cross-validation"), "{report}");
    assert!(
        report.contains("The rules are fixed, hand-written data"),
        "the report says how the rules were fitted: {report}"
    );
    let texts: usize = report
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(texts >= 400, "{texts} texts");

    // | non-apology detection | precision | recall | accuracy | false alarms (…) |
    let non = row(&report, "| non-apology detection |");
    assert!(non[2] >= 0.95, "non-apology accuracy {}", non[2]);
    assert!(
        non[3] <= 0.05,
        "false alarms on genuine apologies {}",
        non[3]
    );
    for component in ["responsibility", "repair", "impact"] {
        let figures = row(&report, &format!("| component {component} ("));
        // The first number is how many are labelled; then precision and recall.
        assert!(figures[2] >= 0.90, "{component} recall {}", figures[2]);
    }
    for family in [
        "conditional",
        "feelings-not-actions",
        "agentless-passive",
        "minimising",
        "blame-shifting",
        "hedged-audience",
        "sorry-but",
        "demands-forgiveness",
    ] {
        let counts = row(&report, &format!("| {family} |"));
        assert!(counts[0] >= 20.0, "{family}: {counts:?}");
    }
}

#[test]
fn eval_fails_a_corpus_the_coach_gets_wrong_and_refuses_a_bad_span() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        r#"
[[text]]
id = "a"
text = "The report is attached."
non_apology = "conditional"
breach = "competence"
scope = "person_person"
voice = "i"
provenance = "written for this test"
components = []

[[text]]
id = "b"
text = "I missed the deadline. I'm sorry."
non_apology = "none"
breach = "competence"
scope = "person_person"
voice = "i"
provenance = "written for this test"
components = [{ id = "responsibility", start = 0, end = 21, quote = "I missed the deadline" }]
"#,
    )
    .unwrap();
    let (ok, report, err) = kintsugi(&["coach", "eval", wrong.to_str().unwrap(), "--check"]);
    assert!(!ok, "a missed target fails --check: {report}");
    assert!(
        report.contains("NOT MET") && err.contains("misses a target"),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"
[[text]]
id = "off-by-one"
text = "I missed the deadline."
non_apology = "none"
breach = "competence"
scope = "person_person"
voice = "i"
provenance = "written for this test"
components = [{ id = "responsibility", start = 1, end = 21, quote = "I missed the deadline" }]
"#,
    )
    .unwrap();
    let (ok, _, err) = kintsugi(&["coach", "eval", bad.to_str().unwrap()]);
    assert!(
        !ok && err.contains("off-by-one") && err.contains("not the quote"),
        "{err}"
    );
}

/// Undoes askama's escaping of the characters the examples hold.
fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#x22;", "\"")
        .replace("&amp;", "&")
}

// The coach is the same on both backends (it reads no data), so SQLite is enough here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_team_repair_never_shows_person_to_person_examples() {
    let c = cast(Backend::Sqlite).await;
    let (max_id, _) = member(&c.app, &c.admin, "Max Member", "max@acme.example", &[]).await;
    let opened = c
        .fay
        .post_form(
            "/repairs",
            &[
                ("title", "The training budget"),
                (
                    "summary",
                    "The training budget was cut after it was promised.",
                ),
                ("breach", "broken_promise"),
                ("scope", "leader_team"),
                ("accountable_people", &c.lee_id),
                ("affected_people", &c.ana_id),
                ("affected_people", &max_id),
                ("update_cadence_days", "7"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let repair = opened.location.unwrap();

    // A draft with most non-apology patterns and few components: many suggestions to show.
    let draft = "I'm sorry if anyone was upset, but the deadline was unrealistic. \
                 Mistakes were made. Apologies to all concerned. It was just a small slip. \
                 I've apologised already, so can we move on?";
    let person = Coach::default_rules().examples(Scope::PersonPerson);
    let leader = Coach::default_rules().examples(Scope::LeaderTeam);
    assert!(!person.is_empty() && !leader.is_empty());

    // The JSON API: the flags' suggestions.
    let api = c
        .lee
        .json(
            Method::POST,
            &format!("/api/v1{repair}/coach"),
            Some(json!({"body": draft})),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let review = api.json();
    let flags = review["flags"].as_array().unwrap();
    assert!(flags.len() >= 5, "{review}");
    for flag in flags {
        let suggestion = flag["suggestion"].as_str().unwrap();
        for example in &person {
            assert!(
                !suggestion.contains(example.as_str()),
                "{} suggests a person↔person example: {suggestion}",
                flag["rule"]
            );
        }
    }
    assert!(
        flags.iter().any(|f| leader
            .iter()
            .any(|e| f["suggestion"].as_str().unwrap().contains(e.as_str()))),
        "leader↔team examples are shown: {review}"
    );

    // The page's coach panel, as htmx asks for it while typing: hints, flags and advice.
    let token = c.lee.csrf_token().await;
    let partial = c
        .lee
        .client
        .post(format!("{}{repair}/coach", c.app.url))
        .header("hx-request", "true")
        .header("hx-target", "coach")
        .header("x-csrf-token", &token)
        .form(&[("body", draft)])
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::OK);
    let panel = unescape(&partial.text().await.unwrap());
    for example in &person {
        assert!(
            !panel.contains(example.as_str()),
            "the panel shows a person↔person example {example:?}:\n{panel}"
        );
    }
    let shown = leader.iter().filter(|e| panel.contains(e.as_str())).count();
    assert!(shown >= 5, "{shown} leader↔team examples in:\n{panel}");

    // The person↔person repair of the same cast still gets person↔person examples.
    let same = c
        .lee
        .json(
            Method::POST,
            &format!("/api/v1/repairs/{}/coach", c.repair),
            Some(json!({"body": draft})),
        )
        .await;
    let same = same.json();
    assert!(
        same["flags"].as_array().unwrap().iter().any(|f| person
            .iter()
            .any(|e| f["suggestion"].as_str().unwrap().contains(e.as_str()))),
        "{same}"
    );
}
