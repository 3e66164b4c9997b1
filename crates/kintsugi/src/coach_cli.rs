//! `kintsugi coach`: review a draft with the apology coach, or measure the coach on a
//! labelled corpus (`kintsugi coach eval CORPUS`). Neither needs a database or settings.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kintsugi_core::coach::corpus::Corpus;
use kintsugi_core::coach::{Coach, Fit, eval};
use kintsugi_core::repair::{Breach, Scope};

/// The rules the binary ships, which `eval` measures.
const RULES: &str = include_str!("../../core/coach-rules.toml");

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CoachArgs {
    #[command(subcommand)]
    command: Option<CoachCommand>,
    /// The draft, or `-` to read standard input.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Print exactly {"components": [...], "flags": [...], "score": N} as JSON.
    #[arg(long)]
    json: bool,
    /// The kind of breach: missed_deadline, broken_promise, lack_of_respect or other.
    #[arg(long, value_name = "KIND")]
    breach: Option<String>,
    /// Between whom: person_person (the default), leader_team or team_team. The examples fit it.
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    /// Deception was involved: words alone will not restore trust.
    #[arg(long)]
    deception: bool,
}

#[derive(Subcommand)]
enum CoachCommand {
    /// Measure the coach on a labelled corpus with k-fold cross-validation: precision and
    /// recall for non-apology detection and for each component, against issue 18's targets.
    Eval {
        /// A corpus file (crates/core/coach-corpus/corpus.toml in the repository).
        corpus: PathBuf,
        /// How many folds.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..))]
        folds: u16,
        /// Also list every text and component the coach got wrong.
        #[arg(long)]
        verbose: bool,
        /// Exit with an error when a target is not met.
        #[arg(long)]
        check: bool,
    },
}

pub fn run(args: &CoachArgs) -> anyhow::Result<()> {
    match (&args.command, &args.file) {
        (
            Some(CoachCommand::Eval {
                corpus,
                folds,
                verbose,
                check,
            }),
            _,
        ) => evaluate(corpus, usize::from(*folds), *verbose, *check),
        (None, Some(file)) => review(args, file),
        (None, None) => bail!("give a draft FILE (or - for standard input), or `eval CORPUS`"),
    }
}

fn evaluate(path: &Path, folds: usize, verbose: bool, check: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    let corpus =
        Corpus::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let report = eval::cross_validate(RULES, &corpus, folds)?;
    if verbose {
        print!("{report:#}");
    } else {
        print!("{report}");
    }
    if check && !report.all_targets_met() {
        bail!("the coach misses a target on {}", path.display());
    }
    Ok(())
}

fn review(args: &CoachArgs, file: &Path) -> anyhow::Result<()> {
    use std::io::Read;
    let breach = args
        .breach
        .as_deref()
        .map(Breach::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--breach {e}"))?;
    let scope = args
        .scope
        .as_deref()
        .map(Scope::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--scope {e}"))?;
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input as UTF-8 text")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
    }
    let fit = Fit {
        breach,
        scope,
        deception: args.deception,
    };
    let review = Coach::default_rules().review_for(&text, fit);
    if args.json {
        println!("{}", serde_json::to_string(&review)?);
        return Ok(());
    }
    println!("Score: {} of 100", review.score);
    for c in &review.components {
        println!("  found {}: \"{}\"", c.id, &text[c.start..c.end]);
    }
    for f in &review.flags {
        println!(
            "  flag {} at \"{}\": {}\n    try: {}",
            f.rule,
            &text[f.start..f.end],
            f.message,
            f.suggestion
        );
    }
    for h in &review.hints {
        println!("  consider: {h}");
    }
    for a in &review.advice {
        println!("  advice: {a}");
    }
    for o in &review.offers_of_repair {
        println!("  offer of repair, to track as a commitment: {o}");
    }
    Ok(())
}
