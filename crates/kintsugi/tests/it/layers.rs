//! Tidy tests for the layering in ARCHITECTURE.md: which crate may depend on which (read from
//! `cargo metadata`, so dev-dependencies do not count), which module may import which, no
//! import cycle among the modules of any crate, and files and functions small enough to read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Package name → the names of its normal (not dev, not build) dependencies, transitively
/// when `deep`.
fn normal_deps(deep: bool) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The host's dependencies only: others' (Windows, Android) need not be downloaded.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host])
        .current_dir(ROOT)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut direct: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from = name_of[node["id"].as_str().unwrap()].to_owned();
        let deps = direct.entry(from).or_default();
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                deps.insert(name_of[dep["pkg"].as_str().unwrap()].to_owned());
            }
        }
    }
    if !deep {
        return direct;
    }
    direct
        .keys()
        .map(|krate| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![krate.clone()];
            while let Some(p) = todo.pop() {
                for d in direct.get(&p).into_iter().flatten() {
                    if seen.insert(d.clone()) {
                        todo.push(d.clone());
                    }
                }
            }
            (krate.clone(), seen)
        })
        .collect()
}

#[test]
fn crates_depend_only_downwards() {
    let direct = normal_deps(false);
    let deep = normal_deps(true);
    let refuse = |krate: &str, banned: &[&str], graph: &BTreeMap<String, BTreeSet<String>>| {
        for b in banned {
            assert!(
                !graph[krate].contains(*b),
                "{krate} must not depend on {b} (ARCHITECTURE.md)"
            );
        }
    };
    // The core does no I/O: no runtime, no database, no web, not even randomness.
    refuse(
        "kintsugi-core",
        &[
            "tokio",
            "sqlx",
            "sqlx-core",
            "axum",
            "hyper",
            "reqwest",
            "mio",
            "askama",
            "rand",
            "getrandom",
        ],
        &deep,
    );
    // The application layer knows no HTTP framework and no templates. (reqwest, its client
    // for webhooks and the identity provider, brings tower along; it may not use it itself.)
    refuse(
        "kintsugi-app",
        &["axum", "axum-extra", "askama", "utoipa-axum"],
        &deep,
    );
    refuse("kintsugi-app", &["tower", "tower-http", "hyper"], &direct);
    // Only the binary chooses a storage backend; nothing above the store knows SQL.
    for krate in [
        "kintsugi-web",
        "kintsugi-app",
        "kintsugi-store",
        "kintsugi-core",
    ] {
        refuse(
            krate,
            &[
                "kintsugi-store-sqlite",
                "kintsugi-store-postgres",
                "kintsugi-store-sql",
                "sqlx",
            ],
            &deep,
        );
    }
    // Each layer sees only those below it.
    refuse("kintsugi-store", &["kintsugi-app", "kintsugi-web"], &deep);
    refuse("kintsugi-app", &["kintsugi-web", "kintsugi"], &deep);
    refuse("kintsugi-core", &["kintsugi-store", "kintsugi-anon"], &deep);
}

/// A crate's modules: (path from src, source) of every `.rs` file, test modules cut off.
fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.strip_prefix(base).unwrap().to_owned(), text));
            }
        }
    }
    let src = PathBuf::from(format!("{ROOT}/crates/{krate}/src"));
    let mut out = Vec::new();
    walk(&src, &src, &mut out);
    out.sort();
    out
}

/// The code of a file without comments and without its `#[cfg(test)]` part.
fn code(text: &str) -> String {
    let text = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The module path of a file: `repairs/page.rs` → ["repairs", "page"]; `mod.rs`, `lib.rs`
/// and `main.rs` name their folder.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b…` path a file names, as its segments, `use crate::{a, b::c}` lists
/// included.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(at) = code[i..].find("crate::") {
        let start = i + at;
        i = start + "crate::".len();
        // Not `kintsugi_crate::`, not `$crate::`.
        if start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b'$')
        {
            continue;
        }
        let rest = &code[i..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").unwrap_or(group.len());
            let mut depth = 0;
            let mut item = String::new();
            for ch in group[..end].chars().chain([',']) {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(segments(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
        } else {
            out.push(segments(rest));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The leading `a::b::c` of `text`: identifiers joined by `::`, up to the first other character.
fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        out.push(ident);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    out
}

/// Strongly connected components with more than one member: the import cycles.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability is cheap at this size: a cycle is a set of modules that reach each other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for n in graph.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (m, r) in &reaches {
        if !r.contains(*m) {
            continue;
        }
        let mut comp: Vec<String> = r
            .iter()
            .filter(|n| reaches.get(n).is_some_and(|back| back.contains(*m)))
            .cloned()
            .collect();
        comp.sort();
        found.insert(comp);
    }
    found.into_iter().filter(|c| c.len() > 1).collect()
}

/// Imports between the modules of one crate at `depth` (1: top-level modules; 2: the modules
/// inside each top-level folder, among siblings).
fn module_graph(krate: &str, depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources(krate) {
        let module = module_of(&file);
        if module.len() < depth {
            continue;
        }
        let me = module[..depth].join("::");
        graph.entry(me.clone()).or_default();
        for path in crate_paths(&code(&text)) {
            if path.len() >= depth && path[..depth - 1] == module[..depth - 1] {
                let other = path[..depth].join("::");
                if other != me {
                    graph.get_mut(&me).unwrap().insert(other);
                }
            }
        }
    }
    // Only modules that exist (a path may end in an item, not a module).
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| known.contains(d));
    }
    graph
}

#[test]
fn no_module_imports_another_in_a_cycle() {
    let krates: Vec<String> = std::fs::read_dir(format!("{ROOT}/crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|k| Path::new(&format!("{ROOT}/crates/{k}/src")).is_dir())
        .collect();
    let mut problems = Vec::new();
    for krate in &krates {
        for depth in [1, 2] {
            for cycle in cycles(&module_graph(krate, depth)) {
                problems.push(format!("crates/{krate}: {}", cycle.join(" ⇄ ")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
    // The check itself finds a cycle when there is one.
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    g.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        cycles(&g),
        vec![vec!["a".to_owned(), "b".into(), "c".into()]]
    );
}

/// The edge's kernel imports no feature; a feature imports the kernel, the application crate
/// and another feature's `view` module only; `home` and `dashboard` aggregate, and nothing
/// imports them.
#[test]
fn the_edge_is_a_kernel_and_features() {
    const KERNEL: &str = "kernel";
    const AGGREGATORS: &[&str] = &["home", "dashboard"];
    let mut problems = Vec::new();
    for (file, text) in sources("web") {
        let module = module_of(&file);
        let Some(me) = module.first() else { continue };
        for path in crate_paths(&code(&text)) {
            let other = &path[0];
            if other == me || other == KERNEL || path.len() == 1 && other == "AppState" {
                continue;
            }
            let is_feature = Path::new(&format!("{ROOT}/crates/web/src/{other}")).is_dir()
                || Path::new(&format!("{ROOT}/crates/web/src/{other}.rs")).is_file();
            if !is_feature {
                continue;
            }
            let allowed = me != KERNEL
                && !AGGREGATORS.contains(&other.as_str())
                && path.get(1).map(String::as_str) == Some("view");
            if !allowed {
                problems.push(format!("{}: crate::{}", file.display(), path.join("::")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports across the edge's features:\n{}",
        problems.join("\n")
    );
}

/// The application layer's layers: each module imports only from the layers below it.
#[test]
fn the_application_layer_imports_downwards() {
    // Lower index = lower layer.
    const LAYERS: &[&[&str]] = &[
        &["settings", "clock", "error", "text", "tokens"],
        &["keys", "held"],
        &["context"],
        &["actor"],
        &["reach"],
        &["events"],
        &["instruments"],
        &["rounds"],
        &["people"],
        &["signin", "repairs", "health"],
        &["lessons", "notify"],
        &["jobs"],
    ];
    let layer = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let mut problems = Vec::new();
    for (file, text) in sources("app") {
        let module = module_of(&file);
        let Some(me) = module.first() else { continue };
        let mine = layer(me).unwrap_or_else(|| panic!("{me} is in no layer of this test"));
        for path in crate_paths(&code(&text)) {
            if let Some(theirs) = layer(&path[0])
                && path[0] != *me
                && theirs >= mine
            {
                problems.push(format!("{}: crate::{}", file.display(), path.join("::")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}
/// Small enough to read: no non-test file in the edge or the application layer over about 700
/// lines, and no function over about 80 lines unless a comment just above it says why.
#[test]
fn files_and_functions_stay_readable() {
    const FILE_LINES: usize = 700;
    const FN_LINES: usize = 80;
    let mut problems = Vec::new();
    for krate in ["web", "app"] {
        for (file, text) in sources(krate) {
            let lines: Vec<&str> = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].lines().collect(),
                None => text.lines().collect(),
            };
            if lines.len() > FILE_LINES {
                problems.push(format!(
                    "crates/{krate}/src/{}: {} lines",
                    file.display(),
                    lines.len()
                ));
            }
            for (start, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                let is_fn = (t.starts_with("fn ")
                    || t.starts_with("pub fn ")
                    || t.starts_with("async fn ")
                    || t.starts_with("pub async fn ")
                    || t.starts_with("pub(crate) ")
                    || t.starts_with("pub(super) "))
                    && t.contains("fn ");
                if !is_fn {
                    continue;
                }
                let indent = line.len() - t.len();
                let close = format!("{}}}", " ".repeat(indent));
                let end = lines[start + 1..]
                    .iter()
                    .position(|l| *l == close)
                    .map_or(lines.len(), |e| start + 1 + e);
                let length = end - start + 1;
                let explained = lines[..start]
                    .iter()
                    .rev()
                    .take_while(|l| {
                        l.trim_start().starts_with("//") || l.trim_start().starts_with("#[")
                    })
                    .any(|l| l.contains("Long:"));
                if length > FN_LINES && !explained {
                    problems.push(format!(
                        "crates/{krate}/src/{}:{}: a function of {length} lines",
                        file.display(),
                        start + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
