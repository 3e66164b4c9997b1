//! Builds the front-end assets (htmx, Pico CSS, our own CSS and JS) with npm and esbuild,
//! so `cargo build` alone yields a binary with its assets embedded.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a build script reports failure by panicking: cargo stops the build and shows the message"
)]

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run npm (Node.js and npm are needed to build the front-end): {e}")
        });
    assert!(
        status.success(),
        "npm {} failed in {}",
        args.join(" "),
        dir.display()
    );
}

fn main() {
    // Read when the script runs, not when it was compiled: cargo reuses a compiled build
    // script for an identical source in another checkout sharing the target directory.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let frontend = Path::new(&manifest_dir).join("../../frontend");
    for input in ["src", "package.json", "package-lock.json", "build.mjs"] {
        println!("cargo:rerun-if-changed={}", frontend.join(input).display());
    }
    let installed = frontend.join("node_modules/.package-lock.json");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    if modified(&installed) < modified(&frontend.join("package-lock.json")) {
        run(
            &frontend,
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        );
    }
    run(&frontend, &["run", "--silent", "build"]);
}
