//! Tidy tests: the architecture's invariants (ARCHITECTURE.md), checked mechanically. The
//! crates' and modules' layering is in `layers.rs`, the route groups in `groups.rs`.

use std::collections::BTreeSet;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn migrations(backend: &str) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{ROOT}/crates/store-{backend}/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The tables, columns and indexes a migration declares, ignoring types and comments.
fn shape(sql: &str) -> Vec<String> {
    sql.lines()
        .map(|l| l.split("--").next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let first = l.split_whitespace().next()?;
            let upper = l.to_uppercase();
            if upper.starts_with("CREATE TABLE")
                || upper.starts_with("CREATE INDEX")
                || upper.starts_with("CREATE UNIQUE INDEX")
            {
                Some(l.trim_end_matches(['(', ' ']).to_owned())
            } else if first.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                Some(format!("  {first}"))
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn every_sqlite_migration_has_a_postgres_twin() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    let names = |m: &[(String, String)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&sqlite),
        names(&postgres),
        "the same migrations, in the same order"
    );
    for ((name, a), (_, b)) in sqlite.iter().zip(&postgres) {
        assert_eq!(
            shape(a),
            shape(b),
            "{name}: the same tables, columns and indexes"
        );
    }
}

/// The tables whose writes bump a repair's version (migration 0021) are the same on both
/// backends: a table missed on one would let that backend's servers show a stale page.
#[test]
fn the_repair_version_triggers_watch_the_same_tables_on_both_backends() {
    let watched = |backend: &str| -> BTreeSet<String> {
        migrations(backend)
            .iter()
            .flat_map(|(_, sql)| sql.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|l| l.starts_with("CREATE TRIGGER"))
            .filter_map(|l| {
                Some(
                    l.split(" ON ")
                        .nth(1)?
                        .split_whitespace()
                        .next()?
                        .to_owned(),
                )
            })
            .collect()
    };
    let sqlite = watched("sqlite");
    assert!(sqlite.contains("commitments") && sqlite.contains("answer_replies"));
    assert_eq!(sqlite, watched("postgres"));
}

/// The sources that declare the routes under `/repairs/{id}`: the repair pages and their rounds.
pub const REPAIR_PAGE_ROUTES: &str = concat!(
    include_str!("../../../web/src/repairs/mod.rs"),
    include_str!("../../../web/src/rounds/pages.rs"),
);

#[test]
fn every_page_route_is_walked_by_the_roles_test() {
    let source = [
        "home.rs",
        "auth/mod.rs",
        "people/pages.rs",
        "dashboard/mod.rs",
        "lessons/mod.rs",
    ]
    .map(|f| std::fs::read_to_string(format!("{ROOT}/crates/web/src/{f}")).unwrap())
    .join("\n");
    let walked: BTreeSet<&str> = crate::roles::PAGE_ROUTES
        .iter()
        .map(|(_, p, _)| *p)
        .collect();
    for line in source
        .lines()
        .filter(|l| l.trim_start().starts_with(".route(\""))
    {
        let path = line.split('"').nth(1).unwrap();
        if path.starts_with("/anon/") {
            continue; // the cookie-free path: no page, no role (gate_writes walks it)
        }
        assert!(
            walked.contains(path),
            "{path} is served but not in roles::PAGE_ROUTES"
        );
    }
}

/// The `(METHOD, path)` pairs a router's source declares with `.route(path, get(..).post(..))`,
/// however rustfmt wrapped them.
pub fn routes_in(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in source.split(".route(").skip(1) {
        let Some(path) = chunk.split('"').nth(1) else {
            continue;
        };
        let call = chunk.split(".route(").next().unwrap_or(chunk);
        let call = call.split(".layer(").next().unwrap_or(call);
        // The router's function ends at its closing brace; what follows is other code.
        let call = call.split("\n}").next().unwrap_or(call);
        for method in ["get", "post", "put", "patch", "delete"] {
            if call.contains(&format!("{method}(")) {
                out.push((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

/// Every source file of the web crate, in every folder, so a new module's routes count too.
pub fn web_sources() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(
        std::path::Path::new(&format!("{ROOT}/crates/web/src")),
        &mut out,
    );
    out
}
