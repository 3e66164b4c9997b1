//! What every handler shares, handed out through axum's `FromRef`: the application's context,
//! each server's snapshots of the repairs it shows, and sign-in (its limits and the identity
//! provider). The anonymous path's mixer is in the context; its loop starts here. All of it lives in the application layer;
//! the edge only holds it.

use std::sync::Arc;

use axum::extract::FromRef;
use kintsugi_app::Ctx;
use kintsugi_app::repairs::Snapshots;
use kintsugi_app::signin::SignIn;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub snapshots: Arc<Snapshots>,
    pub signin: Arc<SignIn>,
}

impl AppState {
    /// Starts the mixer's loop (epochs, heartbeats) on the current runtime.
    pub fn new(ctx: Ctx) -> Self {
        tokio::spawn(kintsugi_app::rounds::mixer::run(ctx.clone()));
        Self {
            snapshots: Arc::new(Snapshots::new()),
            signin: Arc::new(SignIn::new(ctx.settings())),
            ctx,
        }
    }

    /// Cookies are `Secure` whenever people reach Kintsugi over https.
    pub fn secure_cookies(&self) -> bool {
        self.ctx.settings().public_url.starts_with("https://")
    }
}

impl FromRef<AppState> for Ctx {
    fn from_ref(state: &AppState) -> Self {
        state.ctx.clone()
    }
}

impl FromRef<AppState> for Arc<Snapshots> {
    fn from_ref(state: &AppState) -> Self {
        state.snapshots.clone()
    }
}

impl FromRef<AppState> for Arc<SignIn> {
    fn from_ref(state: &AppState) -> Self {
        state.signin.clone()
    }
}
