//! Repairs, written once for the pages, the API and the jobs: opening one, the acknowledgment
//! and the coach, causes, the stage and its guardrails, and the update log. Rules come from
//! `kintsugi_core::repair`; this module gathers the facts and calls them.
//!
//! Below the actions: `access` (how a person stands in a repair), `reads` (what a view reads,
//! and each server's snapshot of it), `commitments`, `rounds` (a repair's anonymous rounds),
//! `pulses` (trust pulses and the recovery gate), `views` (what a round's results show), and
//! `detail` (one view of a repair, after the time-driven steps).

pub mod access;
pub mod commitments;
pub mod detail;
pub mod pulses;
pub mod reads;
pub mod rounds;
pub mod schedule;
pub mod views;

use kintsugi_core::Invalid;
use kintsugi_core::coach::Coach;
use kintsugi_core::repair::{
    self, Breach, CauseCategory, Scope, Side, Stage, Transition, UpdateKind,
};
use kintsugi_core::webhooks::Event;
use kintsugi_store::{
    Acknowledgment, Cause, NewEvent, NewRepair, NewUpdate, Person, RepairSummary, Team, Update,
};
use uuid::Uuid;

pub use access::{Access, Standing};
pub use reads::{Reads, RoundsRead, Snapshots};

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;
use crate::events;

pub struct OpenInput<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub breach: &'a str,
    pub scope: &'a str,
    pub accountable_people: Vec<Uuid>,
    pub accountable_teams: Vec<Uuid>,
    pub affected_people: Vec<Uuid>,
    pub affected_teams: Vec<Uuid>,
    pub update_cadence_days: Option<i64>,
    pub deception: bool,
}

pub(crate) fn collect<T>(results: &mut Vec<Invalid>, r: Result<T, Invalid>) -> Option<T> {
    r.map_err(|e| results.push(e)).ok()
}

pub async fn open(ctx: &Ctx, user: &Actor, input: OpenInput<'_>) -> Result<Uuid, Error> {
    if !(user.person.roles.facilitator || user.person.roles.admin) {
        return Err(Error::Forbidden("this needs the facilitator role".into()));
    }
    let mut bad = Vec::new();
    let title = collect(&mut bad, repair::title(input.title));
    let summary = collect(&mut bad, repair::summary(input.summary));
    let breach = collect(&mut bad, Breach::parse(input.breach));
    let scope = collect(&mut bad, Scope::parse(input.scope));
    let cadence = collect(
        &mut bad,
        repair::update_cadence(input.update_cadence_days.unwrap_or(7)),
    );
    let (Some(title), Some(summary), Some(breach), Some(scope), Some(cadence)) =
        (title, summary, breach, scope, cadence)
    else {
        return Err(Error::Invalid(bad));
    };

    let (participants, team_sides) = sides(ctx, user, &input, scope).await?;
    let id = ctx.new_id();
    let notification_ids = participants.iter().map(|_| ctx.new_id()).collect();
    let new = NewRepair {
        id,
        org_id: user.org.id,
        title: title.clone(),
        summary,
        breach,
        scope,
        facilitator_id: user.person.id,
        update_cadence_days: cadence,
        deception: input.deception,
        participants,
        notification_ids,
        teams: team_sides,
        created_at: ctx.now(),
    };
    let notice = format!("{} added you to the repair “{title}”.", user.person.name);
    let entry = audit(
        ctx,
        user,
        "repair.open",
        &title,
        format!("{} ({})", breach.label(), scope.label()),
    );
    ctx.store().create_repair(&new, &notice, &entry).await?;
    Ok(id)
}

/// The repair's people, each with their side, and its teams: teams expand into their active
/// members, everyone must be an active person of this organisation, and the sides must suit
/// the scope.
async fn sides(
    ctx: &Ctx,
    user: &Actor,
    input: &OpenInput<'_>,
    scope: Scope,
) -> Result<(Vec<(Uuid, Side)>, Vec<(Uuid, Side)>), Error> {
    let people = ctx.store().list_people(user.org.id).await?;
    let teams = ctx.store().list_teams(user.org.id).await?;
    let accountable = members(
        &people,
        &teams,
        &input.accountable_people,
        &input.accountable_teams,
        "accountable",
    )?;
    let affected = members(
        &people,
        &teams,
        &input.affected_people,
        &input.affected_teams,
        "affected",
    )?;
    repair::check_sides(
        scope,
        &accountable,
        input.accountable_teams.len(),
        &affected,
        input.affected_teams.len(),
    )?;
    let participants = accountable
        .iter()
        .map(|p| (*p, Side::Accountable))
        .chain(affected.iter().map(|p| (*p, Side::Affected)))
        .collect();
    let mut team_sides: Vec<(Uuid, Side)> = input
        .accountable_teams
        .iter()
        .map(|t| (*t, Side::Accountable))
        .chain(input.affected_teams.iter().map(|t| (*t, Side::Affected)))
        .collect();
    team_sides.dedup();
    Ok((participants, team_sides))
}

/// One side's people: those named, and the active members of the teams named.
fn members(
    people: &[Person],
    teams: &[Team],
    ids: &[Uuid],
    team_ids: &[Uuid],
    field: &'static str,
) -> Result<Vec<Uuid>, Error> {
    let mut out = Vec::new();
    for id in ids {
        match people.iter().find(|p| p.id == *id && p.active) {
            Some(p) => out.push(p.id),
            None => {
                return Err(Error::invalid(
                    field,
                    "names someone who is not an active person here",
                ));
            }
        }
    }
    for t in team_ids {
        if !teams.iter().any(|team| team.id == *t) {
            return Err(Error::invalid(
                field,
                "names a team that does not exist here",
            ));
        }
        out.extend(
            people
                .iter()
                .filter(|p| p.active && p.team_ids.contains(t))
                .map(|p| p.id),
        );
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The coach's review of a draft, with advice and examples for this repair's kind of breach
/// and scope (a leader↔team repair sees leader↔team examples).
pub fn coach_review(access: &Access, draft: &str) -> kintsugi_core::coach::Review {
    Coach::default_rules().review_for(
        draft,
        kintsugi_core::coach::Fit {
            breach: Some(access.repair.breach),
            scope: Some(access.repair.scope),
            deception: access.repair.deception,
        },
    )
}

pub async fn acknowledge(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    body: &str,
) -> Result<(), Error> {
    access.require_accountable()?;
    let body = repair::summary(body).map_err(|e| Invalid::new("acknowledgment", e.message))?;
    let review = coach_review(access, &body);
    let ack = Acknowledgment {
        id: ctx.new_id(),
        author_id: user.person.id,
        author_name: user.person.name.clone(),
        body,
        score: review.score,
        created_at: ctx.now(),
    };
    let entry = audit(
        ctx,
        user,
        "repair.acknowledge",
        &access.repair.title,
        format!("coach score {}", review.score),
    );
    ctx.store()
        .post_acknowledgment(access.repair.id, &ack, &entry)
        .await?;
    Ok(())
}

pub async fn add_cause(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    category: &str,
    description: &str,
    support: &[Uuid],
) -> Result<(), Error> {
    access.require_facilitator()?;
    let shown = rounds::visible_comment_ids(ctx, access).await?;
    if support.iter().any(|id| !shown.contains(id)) {
        return Err(Error::invalid(
            "support",
            "must name comments shown in this repair's closed listening rounds",
        ));
    }
    let mut bad = Vec::new();
    let category = collect(&mut bad, CauseCategory::parse(category));
    let description = collect(
        &mut bad,
        repair::summary(description).map_err(|e| Invalid::new("description", e.message)),
    );
    let (Some(category), Some(description)) = (category, description) else {
        return Err(Error::Invalid(bad));
    };
    let cause = Cause {
        id: ctx.new_id(),
        category,
        description,
        support: support.to_vec(),
        supporting_comments: vec![],
        created_at: ctx.now(),
    };
    let entry = audit(
        ctx,
        user,
        "repair.cause",
        &access.repair.title,
        category.label(),
    );
    ctx.store()
        .add_cause(access.repair.id, &cause, &entry)
        .await?;
    Ok(())
}

pub async fn record_no_round_reason(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    reason: &str,
) -> Result<(), Error> {
    access.require_facilitator()?;
    let reason = repair::reason_text(reason)?;
    let entry = audit(
        ctx,
        user,
        "repair.no_round_reason",
        &access.repair.title,
        reason.clone(),
    );
    ctx.store()
        .record_no_round_reason(access.repair.id, &reason, &entry)
        .await?;
    Ok(())
}

pub async fn move_stage(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    from: &str,
    action: &str,
    reason: &str,
) -> Result<Stage, Error> {
    access.require_facilitator()?;
    let from = Stage::parse(from)?;
    let transition = match action {
        "advance" => Transition::Advance,
        "close" => Transition::Close {
            reason: reason.trim().to_owned(),
        },
        "override" => Transition::Override {
            reason: reason.trim().to_owned(),
        },
        _ => {
            return Err(Error::invalid(
                "action",
                "must be one of: advance, close, override",
            ));
        }
    };
    let detail = match &transition {
        Transition::Advance => format!("advanced from {}", from.label()),
        Transition::Close { reason } => format!("closed without repair: {reason}"),
        Transition::Override { reason } => format!("recovery gate overridden: {reason}"),
    };
    let entry = audit(ctx, user, "repair.stage", &access.repair.title, detail);
    // The gate is evaluated only in rebuild: it is the guardrail into rebuilt.
    let gate = if access.repair.stage == Stage::Rebuild {
        Some(
            pulses::gate_now(ctx, &user.org, &access.repair)
                .await?
                .passes,
        )
    } else {
        None
    };
    let event = changed(ctx, access, Event::StageChanged);
    Ok(ctx
        .store()
        .move_stage(access.repair.id, from, &transition, gate, &entry, &event)
        .await?)
}

fn update_text(
    kind: UpdateKind,
    body: &str,
    reason: &str,
) -> Result<(String, Option<String>), Error> {
    let body = repair::summary(body).map_err(|e| Invalid::new("body", e.message));
    let reason = match (kind, reason.trim()) {
        (UpdateKind::Decision, "") => Err(Invalid::new(
            "reason",
            "is required for a decision: explain it openly",
        )),
        (_, "") => Ok(None),
        (_, r) => repair::reason_text(r).map(Some),
    };
    match (body, reason) {
        (Ok(b), Ok(r)) => Ok((b, r)),
        (b, r) => Err(Error::Invalid(b.err().into_iter().chain(r.err()).collect())),
    }
}

/// The event a change to the repair makes, stored with the change (the outbox).
fn changed(ctx: &Ctx, access: &Access, event: Event) -> NewEvent {
    events::new(ctx, access.repair.org_id, access.repair.id, event, None)
}

pub async fn post_update(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    kind: &str,
    body: &str,
    reason: &str,
) -> Result<Uuid, Error> {
    access.require_poster()?;
    let kind = UpdateKind::parse_postable(kind)?;
    let (body, reason) = update_text(kind, body, reason)?;
    let update = NewUpdate {
        id: ctx.new_id(),
        kind,
        author_id: Some(user.person.id),
        body,
        reason,
        created_at: ctx.now(),
    };
    let entry = audit(ctx, user, "update.post", &access.repair.title, kind.label());
    let event = changed(ctx, access, Event::UpdatePosted);
    ctx.store()
        .post_update(access.repair.id, &update, &entry, &event)
        .await?;
    Ok(update.id)
}

pub async fn find_update(ctx: &Ctx, access: &Access, update_id: Uuid) -> Result<Update, Error> {
    let updates = ctx.store().updates(access.repair.id).await?;
    updates
        .into_iter()
        .find(|u| u.id == update_id)
        .ok_or_else(|| Error::not_found("update"))
}

pub async fn edit_update(
    ctx: &Ctx,
    user: &Actor,
    access: &Access,
    update_id: Uuid,
    body: &str,
    reason: &str,
) -> Result<(), Error> {
    let update = find_update(ctx, access, update_id).await?;
    if update.author_id != Some(user.person.id) && !access.is_facilitator() {
        return Err(Error::Forbidden(
            "only its author or the facilitator may edit an update".into(),
        ));
    }
    let (body, reason) = update_text(update.kind, body, reason)?;
    let entry = audit(
        ctx,
        user,
        "update.edit",
        &access.repair.title,
        format!("update #{} edited", update.seq),
    );
    ctx.store()
        .edit_update(
            access.repair.id,
            &kintsugi_store::UpdateEdit {
                update_id,
                editor_id: user.person.id,
                body,
                reason,
                at: ctx.now(),
            },
            &entry,
        )
        .await?;
    Ok(())
}

pub fn overdue(ctx: &Ctx, r: &RepairSummary) -> Option<repair::Overdue> {
    if !r.stage.is_open() {
        return None;
    }
    repair::overdue(
        r.last_update_at,
        r.created_at,
        r.update_cadence_days,
        ctx.now(),
    )
}
