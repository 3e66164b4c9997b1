use super::*;

fn coach() -> &'static Coach {
    Coach::default_rules()
}

fn ids(review: &Review) -> Vec<&str> {
    let mut ids: Vec<&str> = review.components.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn flag_ids(review: &Review) -> Vec<&str> {
    let mut ids: Vec<&str> = review.flags.iter().map(|f| f.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Checks what every review must satisfy: spans inside the text, on char boundaries, sorted.
fn check_spans(text: &str, review: &Review) {
    let spans = review
        .components
        .iter()
        .map(|c| (c.start, c.end))
        .collect::<Vec<_>>();
    let flags = review
        .flags
        .iter()
        .map(|f| (f.start, f.end))
        .collect::<Vec<_>>();
    for list in [&spans, &flags] {
        for &(start, end) in list {
            assert!(
                start < end && end <= text.len(),
                "{start}..{end} in {text:?}"
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{start}..{end} splits a char in {text:?}"
            );
        }
        assert!(
            list.windows(2).all(|w| w[0] <= w[1]),
            "not sorted: {list:?}"
        );
    }
}

#[test]
fn the_shipped_rules_parse() {
    let coach = coach();
    let mut components = coach.component_ids();
    components.sort_unstable();
    assert_eq!(
        components,
        [
            "explanation",
            "forgiveness",
            "impact",
            "regret",
            "repair",
            "repentance",
            "responsibility"
        ]
    );
    assert_eq!(coach.component_ids()[0], "responsibility");
    assert_eq!(coach.component_ids()[1], "repair");
    for flag in [
        "conditional",
        "feelings-not-actions",
        "agentless-passive",
        "sorry-but",
        "minimising",
        "blame-shifting",
        "intent-over-impact",
        "vague",
    ] {
        assert!(coach.message(flag).is_some(), "no rule {flag}");
    }
}

/// Every rule's examples, as the file documents them. Reports every failure at once.
#[test]
fn every_rule_keeps_its_examples() {
    if let Err(failures) = coach().check_examples() {
        panic!("\n{}", failures.join("\n"));
    }
    // And every review of an example has well-formed spans.
    for rule in &coach().rules {
        for text in rule.examples_pass.iter().chain(&rule.examples_fail) {
            check_spans(text, &coach().review(text, None, false));
        }
    }
}

#[test]
fn check_examples_reports_the_rule_and_the_sentence() {
    let text = MINIMAL.replace(
        "patterns = [",
        "examples_pass = [\"I am sorry.\"]\nexamples_fail = [\"Not sorry at all.\"]\npatterns = [",
    );
    let failures = Coach::from_toml(&text)
        .unwrap()
        .check_examples()
        .unwrap_err();
    assert_eq!(
        failures,
        ["rule `regret` should not match: \"Not sorry at all.\""]
    );
}

#[test]
fn every_rule_has_examples_both_ways_and_there_are_plenty() {
    let mut total = 0;
    for rule in &coach().rules {
        assert!(
            !rule.examples_pass.is_empty() && !rule.examples_fail.is_empty(),
            "rule `{}` needs examples_pass and examples_fail",
            rule.id
        );
        total += rule.examples_pass.len() + rule.examples_fail.len();
    }
    assert!(total >= 60, "only {total} example sentences");
    assert_eq!(coach().check_examples(), Ok(total));
}

#[test]
fn good_apologies_score_high_without_flags() {
    let table = [
        "I'm sorry. I missed the Friday deadline for the client report, and that is on me. \
         It meant you had to stay late to cover for me. I underestimated how long the review \
         would take. From now on I will send the weekly plan every Monday, and it won't \
         happen again.",
        "We are sorry. Our team broke the promise we made to you about the launch date.\n\n\
         You had to explain the delay to your customers, and that cost you their confidence. \
         We’ll set up a weekly check-in with your team, starting next week.",
        "I apologise for how I spoke to you on Tuesday. I was dismissive when you raised the \
         budget, and I embarrassed you in front of the client. I’m going to tell the client \
         that the budget concern was yours and that it was right.",
    ];
    for text in table {
        let review = coach().review(text, None, false);
        check_spans(text, &review);
        let found = ids(&review);
        for needed in ["responsibility", "repair", "regret", "impact"] {
            assert!(
                found.contains(&needed),
                "{needed} not found in {text:?}: {found:?}"
            );
        }
        assert!(review.flags.is_empty(), "{text:?}: {:?}", review.flags);
        assert!(review.score >= 70, "{text:?} scored {}", review.score);
        assert!(!review.offers_of_repair.is_empty(), "{text:?}");
    }
}

#[test]
fn non_apologies_are_flagged_and_score_low() {
    // (text, flags that must be among those raised)
    let table: &[(&str, &[&str])] = &[
        (
            "I'm sorry if anyone was offended, but the deadline was unrealistic.",
            &["conditional", "sorry-but"],
        ),
        (
            "sorry if anyone was offended, but",
            &["conditional", "sorry-but"],
        ),
        ("I’m sorry you feel that way.", &["feelings-not-actions"]),
        ("Mistakes were made.", &["agentless-passive"]),
        (
            "We apologise for any inconvenience. It was a small misunderstanding.",
            &["minimising"],
        ),
        (
            "You should have told me earlier. If you had told me, I would have done it.",
            &["blame-shifting"],
        ),
        (
            "It was never my intention to upset anyone.",
            &["intent-over-impact"],
        ),
        ("I'm sorry for whatever I did.", &["vague"]),
    ];
    for (text, wanted) in table {
        let review = coach().review(text, None, false);
        check_spans(text, &review);
        let raised = flag_ids(&review);
        for flag in *wanted {
            assert!(
                raised.contains(flag),
                "{flag} not raised for {text:?}: {raised:?}"
            );
        }
        assert!(review.score < 40, "{text:?} scored {}", review.score);
    }
}

#[test]
fn the_sorry_if_but_example_scores_low_with_both_flags_on_the_phrase() {
    let text = "I'm sorry if anyone was offended, but the deadline was unrealistic.";
    let review = coach().review(text, None, false);
    let phrase = "sorry if anyone was offended, but";
    let at = text.find(phrase).unwrap();
    let inside = |rule: &str| {
        review
            .flags
            .iter()
            .any(|f| f.rule == rule && f.start >= at && f.start < at + phrase.len())
    };
    assert!(inside("conditional"), "{:?}", review.flags);
    assert!(inside("sorry-but"), "{:?}", review.flags);
    assert!(review.score < 40, "scored {}", review.score);
    assert!(!ids(&review).contains(&"regret"), "{:?}", review.components);
}

#[test]
fn no_false_alarms_on_legitimate_text() {
    let table = [
        "If I could undo it I would.",
        "I will check with you if the plan changes.",
        "The plan was late, but the team pulled together.",
        "I missed the deadline, but that is no excuse.",
        "I'm sorry I missed the deadline, but that doesn't excuse it.",
        "I'm sorry I missed the deadline, but that is no excuse.",
        "I’m sorry. I interrupted you twice in the meeting, and I undercut your proposal.",
        "Thank you for telling me. I should have asked before changing the schedule.",
    ];
    for text in table {
        let review = coach().review(text, None, false);
        assert!(review.flags.is_empty(), "{text:?}: {:?}", review.flags);
    }
}

#[test]
fn the_json_has_exactly_components_flags_and_score() {
    let text = "I'm sorry if anyone was offended. I missed the deadline.";
    let review = coach().review(text, Some(Breach::MissedDeadline), true);
    assert!(!review.advice.is_empty());
    let json = serde_json::to_string(&review).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["components", "flags", "score"]
    );
    for c in object["components"].as_array().unwrap() {
        assert_eq!(
            c.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["end", "id", "start"] // serde_json's map is sorted
        );
    }
    assert!(!object["flags"].as_array().unwrap().is_empty());
    for f in object["flags"].as_array().unwrap() {
        assert_eq!(
            f.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["end", "message", "rule", "start", "suggestion"]
        );
    }
    assert!(object["score"].is_u64());

    // The exact text, field order included.
    let small = Review {
        components: vec![Component {
            id: "regret".into(),
            start: 0,
            end: 9,
        }],
        flags: vec![Flag {
            rule: "vague".into(),
            start: 10,
            end: 20,
            message: "m".into(),
            suggestion: "s".into(),
        }],
        score: 7,
        advice: vec!["a".into()],
        offers_of_repair: vec!["o".into()],
        hints: vec!["h".into()],
    };
    assert_eq!(
        serde_json::to_string(&small).unwrap(),
        r#"{"components":[{"id":"regret","start":0,"end":9}],"flags":[{"rule":"vague","start":10,"end":20,"message":"m","suggestion":"s"}],"score":7}"#
    );
}

#[test]
fn spans_are_byte_offsets_on_char_boundaries() {
    let text = "Ich bin müde — I’m sorry 😔. I missed the Friday deadline, naïvely. \
                Mistakes were made… 🙈 It was just a joke.";
    let review = coach().review(text, None, false);
    check_spans(text, &review);
    let span_of = |id: &str| {
        review
            .components
            .iter()
            .find(|c| c.id == id)
            .map(|c| &text[c.start..c.end])
    };
    assert_eq!(span_of("regret"), Some("I’m sorry"));
    assert_eq!(span_of("responsibility"), Some("I missed"));
    let flag = |id: &str| {
        review
            .flags
            .iter()
            .find(|f| f.rule == id)
            .map(|f| &text[f.start..f.end])
    };
    assert_eq!(flag("agentless-passive"), Some("Mistakes were made"));
    assert_eq!(flag("minimising"), Some("just a joke"));
}

#[test]
fn spans_cover_the_matched_phrase() {
    let text = "We’ll set up a weekly check-in with you.";
    let review = coach().review(text, None, false);
    let repair = review.components.iter().find(|c| c.id == "repair").unwrap();
    assert_eq!(
        &text[repair.start..repair.end],
        "We’ll set up a weekly check-in with you"
    );
}

#[test]
fn empty_text_scores_zero() {
    for text in ["", "   ", "\n\n\t ", "."] {
        let review = coach().review(text, None, false);
        assert_eq!(review.score, 0, "{text:?}");
        assert!(review.components.is_empty(), "{text:?}");
        assert!(review.flags.is_empty(), "{text:?}");
        assert!(review.offers_of_repair.is_empty(), "{text:?}");
    }
}

#[test]
fn more_components_score_higher() {
    let steps = [
        "I'm sorry.",
        "I'm sorry. I missed the deadline.",
        "I'm sorry. I missed the deadline. I will send the report by Thursday.",
        "I'm sorry. I missed the deadline. I will send the report by Thursday. \
         It meant you had to stay late.",
    ];
    let scores: Vec<u8> = steps
        .iter()
        .map(|t| coach().review(t, None, false).score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] < w[1]), "{scores:?}");
}

#[test]
fn offers_of_repair_become_draft_commitments() {
    let table: &[(&str, &[&str])] = &[
        (
            "I will send the weekly plan every Monday.",
            &["Send the weekly plan every Monday"],
        ),
        (
            "We'll set up a weekly check-in.",
            &["Set up a weekly check-in"],
        ),
        (
            "I’m going to share the schedule by Friday!",
            &["Share the schedule by Friday"],
        ),
        (
            "From now on I will copy you on every client email.",
            &["Copy you on every client email"],
        ),
        (
            "Our team will publish the corrected figures tomorrow, and I will call the client today.",
            &[
                "Publish the corrected figures tomorrow",
                "Call the client today",
            ],
        ),
        (
            "I will send the plan every Monday so that this never happens again.",
            &["Send the plan every Monday"],
        ),
        (
            "I won't let this happen again, and I will block two hours every Friday for reviews.",
            &["Block two hours every Friday for reviews"],
        ),
        ("It won't happen again.", &[]),
        ("I will not do this again.", &[]),
        ("I'll never miss a handover again.", &[]),
        ("I will make sure this never happens again.", &[]),
        ("I would like to apologise.", &[]),
        ("I have already sent the corrected figures.", &[]),
        ("If there's anything else I can do, please tell me.", &[]),
        (
            "I will send the plan every Monday. I will send the plan every Monday.",
            &["Send the plan every Monday"],
        ),
    ];
    for (text, offers) in table {
        let review = coach().review(text, None, false);
        assert_eq!(&review.offers_of_repair, offers, "{text:?}");
    }
}

#[test]
fn advice_depends_on_the_kind_of_breach_and_deception() {
    let words_only = "I'm sorry I missed the deadline.";
    let with_action = "I'm sorry I broke my promise. I will send the weekly plan every Monday.";
    let none = coach().review(words_only, None, false);
    assert!(none.advice.is_empty());

    let deadline = coach().review(words_only, Some(Breach::MissedDeadline), false);
    assert!(
        deadline.advice[0].contains("competence"),
        "{:?}",
        deadline.advice
    );

    let promise = coach().review(words_only, Some(Breach::BrokenPromise), false);
    assert!(promise.advice.iter().any(|a| a.contains("commitments")));
    assert!(promise.advice.iter().any(|a| a.contains("does not offer")));
    let promise = coach().review(with_action, Some(Breach::BrokenPromise), false);
    assert!(!promise.advice.iter().any(|a| a.contains("does not offer")));

    let respect = coach().review(words_only, Some(Breach::LackOfRespect), false);
    assert!(respect.advice.iter().any(|a| a.contains("affected")));

    let deceived = coach().review(words_only, Some(Breach::Other), true);
    assert!(deceived.advice.iter().any(|a| a.contains("words alone")));
    assert!(
        deceived
            .advice
            .iter()
            .any(|a| a.contains("monitoring window"))
    );
    let deceived = coach().review(words_only, None, true);
    assert_eq!(deceived.advice.len(), 2);

    // Advice does not change the score or the JSON.
    assert_eq!(deadline.score, none.score);
}

#[test]
fn hints_name_the_missing_parts_most_important_first() {
    let review = coach().review("I'm sorry.", None, false);
    assert!(
        review.hints[0].contains("first person"),
        "{:?}",
        review.hints
    );
    assert!(review.hints[1].contains("repair"), "{:?}", review.hints);
    assert_eq!(review.hints.len(), 5); // all but regret and forgiveness
}

#[test]
fn first_person_plural_contractions_and_curly_apostrophes() {
    let table: &[(&str, &str)] = &[
        ("I'm sorry.", "regret"),
        ("I’m sorry.", "regret"),
        ("WE'RE SORRY.", "regret"),
        ("we’re truly sorry.", "regret"),
        ("Our team is sorry.", "regret"),
        ("We missed the deadline.", "responsibility"),
        ("Our team missed the deadline.", "responsibility"),
        ("We’ve let you down.", "responsibility"),
        ("I didn’t send the report.", "responsibility"),
        ("We'll fix the import today.", "repair"),
        ("We’re going to fix the import today.", "repair"),
        ("It won’t happen again.", "repentance"),
        ("We won’t do that again.", "repentance"),
    ];
    for (text, id) in table {
        let review = coach().review(text, None, false);
        assert!(
            ids(&review).contains(id),
            "{id} not in {text:?}: {review:?}"
        );
    }
}

#[test]
fn several_sentences_and_paragraphs() {
    let text = "Dear all,\n\nI’m sorry. I missed the handover on Friday.\n\
                It meant the night shift had to start without the notes.\n\n\
                From now on I will send the notes by 4pm. It won’t happen again.\n\nMaria";
    let review = coach().review(text, None, false);
    assert_eq!(
        ids(&review),
        ["impact", "regret", "repair", "repentance", "responsibility"]
    );
    assert_eq!(review.offers_of_repair, ["Send the notes by 4pm"]);
    assert!(review.flags.is_empty());
}

#[test]
fn matches_do_not_cross_sentences() {
    // "sorry" and "but" are in different sentences: no sorry-but. (A sentence that opens
    // with "But" is a justification of its own, so this one opens otherwise.)
    let review = coach().review(
        "I'm sorry. The plan changed, but we kept the date.",
        None,
        false,
    );
    assert!(flag_ids(&review).is_empty(), "{:?}", review.flags);
    // Nor across a line break.
    let review = coach().review("I'm sorry\nbut nothing else", None, false);
    assert!(flag_ids(&review).is_empty(), "{:?}", review.flags);
}

#[test]
fn very_long_text_is_quick_and_capped() {
    let unit = "I’m sorry if anyone was offended, but the deadline was unrealistic. \
                I missed the handover — naïve of me 😔. I will send the plan every Monday.\n";
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push_str(unit);
    }
    let started = std::time::Instant::now();
    let review = coach().review(&text, Some(Breach::BrokenPromise), true);
    let took = started.elapsed();
    check_spans(&text, &review);
    assert!(review.flags.len() <= MAX_HITS_PER_RULE * coach().rules.len());
    assert!(review.components.len() <= MAX_HITS_PER_RULE * coach().rules.len());
    assert_eq!(review.offers_of_repair, ["Send the plan every Monday"]);
    // Generous, for unoptimised test builds on a slow machine.
    assert!(took.as_secs() < 20, "took {took:?}");

    // No sentence breaks at all, and a text of one repeated character.
    let blob = "sorry but ".repeat(100_000);
    let review = coach().review(&blob, None, false);
    check_spans(&blob, &review);
    let blob = "é".repeat(500_000);
    assert_eq!(coach().review(&blob, None, false).score, 0);
    // Matches that each run to the end of a sentence that never ends.
    let blob = "I will not do it again ".repeat(50_000);
    let started = std::time::Instant::now();
    let review = coach().review(&blob, None, false);
    check_spans(&blob, &review);
    assert!(review.offers_of_repair.is_empty());
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn sentence_regions_cover_the_text() {
    let text = "One. Two! Three?\nFour… “Five.” 3.5 stays. e.g.x stays";
    let regions = sentence_regions(text);
    let parts: Vec<&str> = regions.iter().map(|r| &text[r.clone()]).collect();
    assert_eq!(
        parts,
        [
            "One.",
            " Two!",
            " Three?",
            "\n",
            "Four…",
            " “Five.”",
            " 3.5 stays.",
            " e.g.x stays"
        ]
    );
    assert_eq!(sentence_regions(""), vec![0..0]);
}

#[test]
fn a_text_without_full_stops_is_cut_into_short_regions() {
    let text = "word ".repeat(2_000) + &"é".repeat(3_000);
    let regions = sentence_regions(&text);
    assert!(regions.len() > 2);
    assert_eq!(regions[0].start, 0);
    assert_eq!(regions.last().unwrap().end, text.len());
    for pair in regions.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    for r in &regions {
        assert!(r.len() <= MAX_SENTENCE_BYTES, "{r:?}");
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
    }
    // The cut falls after a space, so words stay whole.
    assert!(text[regions[0].clone()].ends_with(' '));
}

const MINIMAL: &str = r#"
[[rule]]
id = "regret"
kind = "component"
level = "info"
weight = 50
message = "Regret."
patterns = ['\bsorry\b']
"#;

#[test]
fn a_minimal_rule_file_works() {
    let coach = Coach::from_toml(MINIMAL).unwrap();
    let review = coach.review("So sorry.", None, false);
    assert_eq!(review.score, 50);
    assert_eq!(review.components[0].id, "regret");
}

#[test]
fn malformed_rules_are_refused_with_the_rule_and_the_problem() {
    let table: &[(&str, &[&str])] = &[
        (
            r#"
[[rule]]
id = "broken"
kind = "flag"
level = "warning"
message = "m"
suggestion = "s"
patterns = ['\bsorry (']
"#,
            &["`broken`", "line 2", "pattern 1", "regular expression"],
        ),
        (
            r#"
[[rule]]
kind = "flag"
level = "warning"
message = "m"
suggestion = "s"
patterns = ['x']
"#,
            &["no id", "line 2"],
        ),
        (
            r#"
[[rule]]
id = "odd"
kind = "sermon"
level = "warning"
message = "m"
patterns = ['x']
"#,
            &["`odd`", "unknown kind `sermon`"],
        ),
        (
            r#"
[[rule]]
id = "loud"
kind = "flag"
level = "shout"
message = "m"
suggestion = "s"
patterns = ['x']
"#,
            &["`loud`", "unknown level `shout`"],
        ),
        (
            r#"
[[rule]]
id = "novar"
kind = "flag"
level = "warning"
message = "m"
suggestion = "s"
patterns = ['{{nope}} x']
"#,
            &["`novar`", "unknown var `{{nope}}`"],
        ),
        (
            r#"
[[rule]]
id = "norewrite"
kind = "flag"
level = "warning"
message = "m"
patterns = ['x']
"#,
            &["`norewrite`", "suggestion"],
        ),
        (
            r#"
[[rule]]
id = "empty"
kind = "flag"
level = "warning"
message = "m"
suggestion = "s"
patterns = ['x*']
"#,
            &["`empty`", "matches empty text"],
        ),
        (
            r#"
[[rule]]
id = "typo"
kind = "flag"
level = "warning"
message = "m"
suggestion = "s"
pattern = ['x']
"#,
            &["line", "pattern"],
        ),
        (
            &format!("{MINIMAL}{MINIMAL}"),
            &["`regret`", "line 10", "already has this id"],
        ),
        (
            &format!("{MINIMAL}\n[[advice]]\nbreach = \"late\"\ntext = \"t\"\n"),
            &["advice for late", "breach must be one of"],
        ),
        (
            &format!(
                "{MINIMAL}\n[[advice]]\nbreach = \"other\"\nwhen_missing = \"nope\"\ntext = \"t\"\n"
            ),
            &["`nope`", "not a component"],
        ),
        ("", &["no [[rule]]"]),
        ("[[rule]\nid = 1", &["line 1"]),
    ];
    for (text, wanted) in table {
        let err = Coach::from_toml(text).expect_err(text).to_string();
        for part in *wanted {
            assert!(err.contains(part), "{err:?} should mention {part:?}");
        }
    }
}

const CORPUS: &str = include_str!("../../coach-corpus/corpus.toml");

#[test]
fn the_corpus_loads_with_spans_that_quote_its_text() {
    let corpus = corpus::Corpus::from_toml(CORPUS).unwrap();
    assert!(corpus.texts.len() >= 400, "{}", corpus.texts.len());
    for t in &corpus.texts {
        for c in &t.components {
            assert!(t.text.is_char_boundary(c.start) && t.text.is_char_boundary(c.end));
        }
    }
}

#[test]
fn the_cross_validated_figures_meet_the_targets() {
    let corpus = corpus::Corpus::from_toml(CORPUS).unwrap();
    let report = eval::cross_validate(DEFAULT_RULES, &corpus, 5).unwrap();
    println!("{report:#}");
    assert!(report.all_targets_met(), "{report}");
}

const HOLDOUT: &str = include_str!("../../coach-corpus/holdout.toml");

/// The hold-out texts were written after the rules were tuned and never tune them: their
/// figures are reported (bench/README.md), not held to the targets.
#[test]
fn the_holdout_set_loads_and_is_scored() {
    let corpus = corpus::Corpus::from_toml(HOLDOUT).unwrap();
    assert!(corpus.texts.len() >= 40, "{}", corpus.texts.len());
    let report = eval::cross_validate(DEFAULT_RULES, &corpus, 5).unwrap();
    println!("{report:#}");
    assert_eq!(report.texts, corpus.texts.len());
}

/// Issue 18: the five families the old rules missed, several surface forms each, with the
/// rule that must answer each.
#[test]
fn the_five_families_of_issue_18_are_flagged_in_several_surface_forms() {
    let cases: &[(&str, &[&str])] = &[
        (
            "hedged-audience",
            &[
                "Apologies to all concerned.",
                "I apologise to anyone who may have been affected by the move.",
                "Sorry to whoever was caught up in the outage.",
                "We regret any impact the change had on those involved.",
            ],
        ),
        (
            "minimising",
            &[
                "It was only a minor slip, I'm not sure why people are upset.",
                "Let's not make a mountain out of a molehill.",
                "The delay is hardly the end of the world.",
                "No real harm was done, so I'm surprised by the reaction.",
            ],
        ),
        (
            "agentless-passive",
            &[
                "The timing of the announcement was not ideal.",
                "The rollout could have been handled better.",
                "Things fell through the cracks last week.",
                "Communication broke down around the launch.",
            ],
        ),
        (
            "blame-shifting",
            &[
                "Sorry this wasn't clear to you.",
                "I'm sorry you misunderstood the plan.",
                "Sorry that the brief wasn't clear enough for your team.",
                "Had your team flagged it earlier, we could have fixed it.",
            ],
        ),
        (
            "conditional",
            &[
                "If the deadline caused stress, sorry.",
                "If anyone was upset by the rota, I apologise.",
                "If the change caused you a problem, then I'm sorry.",
                "In so far as the delay caused trouble, we apologise.",
            ],
        ),
    ];
    for (rule, texts) in cases {
        for text in *texts {
            let review = coach().review(text, None, false);
            assert!(
                flag_ids(&review).contains(rule),
                "{rule} should flag {text:?}, got {:?}",
                flag_ids(&review)
            );
            let flag = review.flags.iter().find(|f| f.rule == *rule).unwrap();
            assert!(!text[flag.start..flag.end].trim().is_empty());
        }
    }
}

/// Issue 18: impact told as what happened to people, and a repair already done.
#[test]
fn impact_as_what_happened_and_repairs_already_done_are_found() {
    let cases: &[(&str, &str)] = &[
        (
            "impact",
            "It left you feeling that your work and your views did not count.",
        ),
        ("impact", "Several of you worked three weekends in a row."),
        ("impact", "Your app crashed at checkout for six hours."),
        ("impact", "You went quiet for the rest of the week."),
        (
            "repair",
            "I have already asked finance to re-run the export.",
        ),
        (
            "repair",
            "We've named an owner for the handover on every shift.",
        ),
        (
            "repair",
            "From January, two of you will check the rota with me.",
        ),
    ];
    for (component, text) in cases {
        let review = coach().review(text, None, false);
        assert!(
            ids(&review).contains(component),
            "{component} in {text:?}: {:?}",
            ids(&review)
        );
    }
}

/// Every rule that suggests something has a suggestion in every scope, so a flag never
/// reaches a person without its rewrite.
#[test]
fn every_rule_has_a_suggestion_in_every_scope_and_kind() {
    let coach = coach();
    for rule in coach.rules.iter().filter(|r| !r.suggestion.is_empty()) {
        for scope in Scope::ALL {
            for breach in [None]
                .into_iter()
                .chain(Breach::ALL.iter().copied().map(Some))
            {
                let fit = Fit {
                    breach,
                    scope: Some(*scope),
                    deception: false,
                };
                assert!(
                    !coach.suggestion(rule, fit).is_empty(),
                    "{} has no suggestion for {scope:?} {breach:?}",
                    rule.id
                );
            }
        }
    }
}

/// A draft that trips every flag and lacks most components shows, in each scope, only that
/// scope's examples: never another scope's (checked for every kind of breach).
#[test]
fn the_examples_fit_the_repairs_scope() {
    let coach = coach();
    let draft = "I'm sorry if anyone was offended, but the deadline was unrealistic. \
                 Mistakes were made. Apologies to all concerned. It was just a small slip. \
                 I didn't mean to upset anyone. Sorry for whatever I did. \
                 I've apologised already, so can we move on? I'm sorry you feel that way.";
    for scope in Scope::ALL {
        let others: Vec<String> = Scope::ALL
            .iter()
            .filter(|s| *s != scope)
            .flat_map(|s| coach.examples(*s))
            .collect();
        assert!(!others.is_empty() && !coach.examples(*scope).is_empty());
        for breach in Breach::ALL {
            let review = coach.review_for(
                draft,
                Fit {
                    breach: Some(*breach),
                    scope: Some(*scope),
                    deception: true,
                },
            );
            assert!(review.flags.len() >= 8, "{:?}", flag_ids(&review));
            let shown: Vec<&str> = review
                .flags
                .iter()
                .map(|f| f.suggestion.as_str())
                .chain(review.hints.iter().map(String::as_str))
                .chain(review.advice.iter().map(String::as_str))
                .collect();
            for text in &shown {
                for example in &others {
                    assert!(
                        !text.contains(example.as_str()),
                        "{scope:?} {breach:?} shows another scope's example {example:?} in {text:?}"
                    );
                }
            }
            assert!(
                shown.iter().any(|t| coach
                    .examples(*scope)
                    .iter()
                    .any(|e| t.contains(e.as_str()))),
                "{scope:?} shows its own examples"
            );
        }
    }
}

/// Kim et al. (2004): the hint for taking responsibility differs by kind of breach.
#[test]
fn the_hints_differ_by_kind_of_breach() {
    let coach = coach();
    for scope in Scope::ALL {
        let hint = |breach| {
            coach
                .review_for(
                    "Hello.",
                    Fit {
                        breach: Some(breach),
                        scope: Some(*scope),
                        deception: false,
                    },
                )
                .hints[0]
                .clone()
        };
        assert_ne!(
            hint(Breach::MissedDeadline),
            hint(Breach::BrokenPromise),
            "{scope:?}"
        );
    }
}

/// Every flag a person sees names its reason (the rule and its message), points at words in
/// their text, and carries a rewrite, in every scope: checked on every corpus text.
#[test]
fn every_flag_names_its_reason_and_points_at_the_words() {
    let corpus = corpus::Corpus::from_toml(CORPUS).unwrap();
    let mut flags = 0;
    for t in &corpus.texts {
        for scope in Scope::ALL {
            let fit = Fit {
                breach: Some(Breach::BrokenPromise),
                scope: Some(*scope),
                deception: false,
            };
            let review = coach().review_for(&t.text, fit);
            check_spans(&t.text, &review);
            for f in &review.flags {
                assert!(
                    coach().message(&f.rule) == Some(f.message.as_str()),
                    "{f:?}"
                );
                assert!(!f.message.is_empty() && !f.suggestion.is_empty(), "{f:?}");
                assert!(
                    t.text[f.start..f.end].chars().any(char::is_alphabetic),
                    "{} points at no words: {f:?}",
                    t.id
                );
                flags += 1;
            }
        }
    }
    assert!(flags > 600, "{flags} flags");
}
