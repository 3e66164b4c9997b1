//! What other pages show of repairs: a person's repairs with their overdue updates (the home
//! page), and follow-through as people read it (the home page, a person's page).

use kintsugi_app::repairs;
use kintsugi_app::{Actor, Ctx, Error};
use kintsugi_core::commitments::FollowThrough;
use kintsugi_core::repair::Stage;
use uuid::Uuid;

pub struct ListedRepair {
    pub id: Uuid,
    pub title: String,
    pub stage: Stage,
    pub overdue: Option<String>,
}

/// The person's repairs, with overdue updates marked.
pub async fn listed(ctx: &Ctx, user: &Actor) -> Result<Vec<ListedRepair>, Error> {
    let mine = ctx.store().repairs_of(user.org.id, user.person.id).await?;
    Ok(mine
        .iter()
        .map(|r| ListedRepair {
            id: r.id,
            title: r.title.clone(),
            stage: r.stage,
            overdue: repairs::overdue(ctx, r).map(|o| o.describe()),
        })
        .collect())
}

pub struct FollowThroughView {
    pub rate: String,
    pub on_time: String,
    pub due: u32,
    pub kept: u32,
    pub longest: u32,
    pub current: u32,
}

impl From<FollowThrough> for FollowThroughView {
    fn from(f: FollowThrough) -> Self {
        let pct = |v: Option<u8>| {
            v.map(|p| format!("{p}%"))
                .unwrap_or_else(|| "nothing due yet".into())
        };
        Self {
            rate: pct(f.rate()),
            on_time: pct(f.on_time_rate()),
            due: f.due,
            kept: f.kept,
            longest: f.longest_run,
            current: f.current_run,
        }
    }
}
