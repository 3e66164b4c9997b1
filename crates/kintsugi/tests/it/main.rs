//! The one integration test binary (one link step): each module is a feature, driven the way a
//! user drives it, through HTTP on a real bound port or the CLI, against a real `kintsugi` process.

mod admin;
mod adversary;
mod api;
mod auth;
mod cli;
mod dashboard;
mod feeds;
mod harness;
mod health;
mod ops;
mod repairs;
mod roles;
mod rounds;
mod setup;
mod tidy;
