//! Repairs, written once for pages and the API: who may see and do what inside a repair,
//! and the actions themselves. Rules come from `kintsugi_core::repair` and
//! `kintsugi_core::commitments`; this module only gathers the facts and calls them.

use std::sync::Arc;

use kintsugi_core::Invalid;
use kintsugi_core::coach::Coach;
use kintsugi_core::commitments::{self, Confirmation, FollowThrough, Occurrence, Schedule, Status};
use kintsugi_core::repair::{
    self, Breach, CauseCategory, Scope, Side, Stage, Transition, UpdateKind,
};
use kintsugi_store::{
    Acknowledgment, Cause, Commitment, NewCommitment, NewRepair, NewUpdate, OccurrenceRecord,
    Organisation, Repair, RepairSummary, Update,
};
use time::Date;
use uuid::Uuid;

use crate::actions::audit;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::rounds::RoundsRead;
use crate::state::AppState;

/// How the person asking stands in a repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Facilitator,
    Side(Side),
    /// An admin outside the repair: title and stage only.
    Overseer,
}

pub struct Access {
    /// Shared with the server's snapshot of the repair (`Snapshots`): clone it to own it.
    pub repair: Arc<Repair>,
    pub standing: Standing,
}

impl Access {
    pub fn is_facilitator(&self) -> bool {
        self.standing == Standing::Facilitator
    }
    pub fn side(&self) -> Option<Side> {
        match self.standing {
            Standing::Side(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_participant(&self) -> bool {
        self.standing != Standing::Overseer
    }
    fn require(&self, ok: bool, what: &str) -> Result<(), AppError> {
        if ok {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("only {what} may do this")))
        }
    }
    pub fn require_facilitator(&self) -> Result<(), AppError> {
        self.require(self.is_facilitator(), "the repair's facilitator")
    }
    pub fn require_accountable(&self) -> Result<(), AppError> {
        self.require(
            self.side() == Some(Side::Accountable),
            "someone on the accountable side",
        )
    }
    pub fn require_affected(&self) -> Result<(), AppError> {
        self.require(
            self.side() == Some(Side::Affected),
            "someone on the affected side",
        )
    }
    /// Updates come from the facilitator and the accountable side.
    pub fn require_poster(&self) -> Result<(), AppError> {
        self.require(
            self.is_facilitator() || self.side() == Some(Side::Accountable),
            "the facilitator or the accountable side",
        )
    }
}

/// The repair as `user` may see it. A repair in another organisation, or one the person is
/// not part of, does not exist for them (404), except that admins see that it exists.
pub async fn access(state: &AppState, user: &CurrentUser, id: Uuid) -> Result<Access, AppError> {
    let repair = current_repair(state, user.org.id, id)
        .await?
        .ok_or_else(|| AppError::not_found("repair"))?;
    let standing = if repair.facilitator_id == user.person.id {
        Standing::Facilitator
    } else if let Some(side) = repair.side_of(user.person.id) {
        Standing::Side(side)
    } else if user.person.roles.admin {
        Standing::Overseer
    } else {
        return Err(AppError::not_found("repair"));
    };
    Ok(Access { repair, standing })
}

/// The same, for changes: admins outside the repair may not change it.
pub async fn participant(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<Access, AppError> {
    let access = access(state, user, id).await?;
    if !access.is_participant() {
        return Err(AppError::not_found("repair"));
    }
    Ok(access)
}

/// A participant's request to one repair, checked before any body is read: for anyone
/// outside the repair, everything under `/repairs/{id}` is a 404, whatever they send.
pub struct InRepair {
    pub user: CurrentUser,
    pub access: Access,
}

impl axum::extract::FromRequestParts<AppState> for InRepair {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let axum::extract::Path(params) = axum::extract::Path::<
            std::collections::HashMap<String, String>,
        >::from_request_parts(parts, state)
        .await?;
        let id = params
            .get("id")
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| AppError::not_found("repair"))?;
        let access = participant(state, &user, id).await?;
        Ok(InRepair { user, access })
    }
}

pub fn today(state: &AppState) -> Date {
    state.now().date()
}

// ---- Opening ----

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

fn collect<T>(results: &mut Vec<Invalid>, r: Result<T, Invalid>) -> Option<T> {
    r.map_err(|e| results.push(e)).ok()
}

pub async fn open(
    state: &AppState,
    user: &CurrentUser,
    input: OpenInput<'_>,
) -> Result<Uuid, AppError> {
    if !(user.person.roles.facilitator || user.person.roles.admin) {
        return Err(AppError::Forbidden(
            "this needs the facilitator role".into(),
        ));
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
        return Err(AppError::Invalid(bad));
    };

    // Expand teams into their active members; everyone must be an active person of this organisation.
    let people = state.store().list_people(user.org.id).await?;
    let teams = state.store().list_teams(user.org.id).await?;
    let expand =
        |ids: &[Uuid], team_ids: &[Uuid], field: &'static str| -> Result<Vec<Uuid>, AppError> {
            let mut out = Vec::new();
            for id in ids {
                match people.iter().find(|p| p.id == *id && p.active) {
                    Some(p) => out.push(p.id),
                    None => {
                        return Err(AppError::invalid(
                            field,
                            "names someone who is not an active person here",
                        ));
                    }
                }
            }
            for t in team_ids {
                if !teams.iter().any(|team| team.id == *t) {
                    return Err(AppError::invalid(
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
        };
    let accountable = expand(
        &input.accountable_people,
        &input.accountable_teams,
        "accountable",
    )?;
    let affected = expand(&input.affected_people, &input.affected_teams, "affected")?;
    repair::check_sides(
        scope,
        &accountable,
        input.accountable_teams.len(),
        &affected,
        input.affected_teams.len(),
    )?;

    let id = state.new_id();
    let mut participants: Vec<(Uuid, Side)> = accountable
        .iter()
        .map(|p| (*p, Side::Accountable))
        .collect();
    participants.extend(affected.iter().map(|p| (*p, Side::Affected)));
    let mut team_sides: Vec<(Uuid, Side)> = input
        .accountable_teams
        .iter()
        .map(|t| (*t, Side::Accountable))
        .collect();
    team_sides.extend(input.affected_teams.iter().map(|t| (*t, Side::Affected)));
    team_sides.dedup();
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
        teams: team_sides,
        created_at: state.now(),
    };
    let notice = format!("{} added you to the repair “{title}”.", user.person.name);
    let entry = audit(
        state,
        user,
        "repair.open",
        &title,
        format!("{} ({})", breach.label(), scope.label()),
    );
    state.store().create_repair(&new, &notice, &entry).await?;
    Ok(id)
}

// ---- Acknowledgment and the coach ----

pub fn coach_review(access: &Access, draft: &str) -> kintsugi_core::coach::Review {
    Coach::default_rules().review(draft, Some(access.repair.breach), access.repair.deception)
}

pub async fn acknowledge(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    body: &str,
) -> Result<(), AppError> {
    access.require_accountable()?;
    let body = repair::summary(body).map_err(|e| Invalid::new("acknowledgment", e.message))?;
    let review = coach_review(access, &body);
    let ack = Acknowledgment {
        id: state.new_id(),
        author_id: user.person.id,
        author_name: user.person.name.clone(),
        body,
        score: review.score,
        created_at: state.now(),
    };
    let entry = audit(
        state,
        user,
        "repair.acknowledge",
        &access.repair.title,
        format!("coach score {}", review.score),
    );
    state
        .store()
        .post_acknowledgment(access.repair.id, &ack, &entry)
        .await?;
    Ok(())
}

// ---- Understanding ----

pub async fn add_cause(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    category: &str,
    description: &str,
    support: &[Uuid],
) -> Result<(), AppError> {
    access.require_facilitator()?;
    let shown = crate::rounds::visible_comment_ids(state, access).await?;
    if support.iter().any(|id| !shown.contains(id)) {
        return Err(AppError::invalid(
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
        return Err(AppError::Invalid(bad));
    };
    let cause = Cause {
        id: state.new_id(),
        category,
        description,
        support: support.to_vec(),
        supporting_comments: vec![],
        created_at: state.now(),
    };
    let entry = audit(
        state,
        user,
        "repair.cause",
        &access.repair.title,
        category.label(),
    );
    state
        .store()
        .add_cause(access.repair.id, &cause, &entry)
        .await?;
    Ok(())
}

pub async fn record_no_round_reason(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    reason: &str,
) -> Result<(), AppError> {
    access.require_facilitator()?;
    let reason = repair::reason_text(reason)?;
    let entry = audit(
        state,
        user,
        "repair.no_round_reason",
        &access.repair.title,
        reason.clone(),
    );
    state
        .store()
        .record_no_round_reason(access.repair.id, &reason, &entry)
        .await?;
    Ok(())
}

// ---- Stages ----

pub async fn move_stage(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    from: &str,
    action: &str,
    reason: &str,
) -> Result<Stage, AppError> {
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
            return Err(AppError::invalid(
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
    let entry = audit(state, user, "repair.stage", &access.repair.title, detail);
    // The gate is evaluated only in rebuild: it is the guardrail into rebuilt.
    let gate = if access.repair.stage == Stage::Rebuild {
        Some(
            crate::rounds::gate_now(state, &user.org, &access.repair)
                .await?
                .passes,
        )
    } else {
        None
    };
    let stage = state
        .store()
        .move_stage(access.repair.id, from, &transition, gate, &entry)
        .await?;
    let moved = Repair {
        stage,
        ..access.repair.as_ref().clone()
    };
    crate::webhooks::announce(state, &moved, kintsugi_core::webhooks::Event::StageChanged).await;
    Ok(stage)
}

// ---- Updates ----

fn update_text(
    kind: UpdateKind,
    body: &str,
    reason: &str,
) -> Result<(String, Option<String>), AppError> {
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
        (b, r) => Err(AppError::Invalid(
            b.err().into_iter().chain(r.err()).collect(),
        )),
    }
}

pub async fn post_update(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    kind: &str,
    body: &str,
    reason: &str,
) -> Result<Uuid, AppError> {
    access.require_poster()?;
    let kind = UpdateKind::parse_postable(kind)?;
    let (body, reason) = update_text(kind, body, reason)?;
    let update = NewUpdate {
        id: state.new_id(),
        kind,
        author_id: Some(user.person.id),
        body,
        reason,
        created_at: state.now(),
    };
    let entry = audit(
        state,
        user,
        "update.post",
        &access.repair.title,
        kind.label(),
    );
    state
        .store()
        .post_update(access.repair.id, &update, &entry)
        .await?;
    crate::webhooks::announce(
        state,
        &access.repair,
        kintsugi_core::webhooks::Event::UpdatePosted,
    )
    .await;
    Ok(update.id)
}

pub async fn find_update(
    state: &AppState,
    access: &Access,
    update_id: Uuid,
) -> Result<Update, AppError> {
    let updates = state.store().updates(access.repair.id).await?;
    updates
        .into_iter()
        .find(|u| u.id == update_id)
        .ok_or_else(|| AppError::not_found("update"))
}

pub async fn edit_update(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    update_id: Uuid,
    body: &str,
    reason: &str,
) -> Result<(), AppError> {
    let update = find_update(state, access, update_id).await?;
    if update.author_id != Some(user.person.id) && !access.is_facilitator() {
        return Err(AppError::Forbidden(
            "only its author or the facilitator may edit an update".into(),
        ));
    }
    let (body, reason) = update_text(update.kind, body, reason)?;
    let entry = audit(
        state,
        user,
        "update.edit",
        &access.repair.title,
        format!("update #{} edited", update.seq),
    );
    state
        .store()
        .edit_update(
            access.repair.id,
            &kintsugi_store::UpdateEdit {
                update_id,
                editor_id: user.person.id,
                body,
                reason,
                at: state.now(),
            },
            &entry,
        )
        .await?;
    Ok(())
}

// ---- Commitments ----

pub struct CommitmentInput<'a> {
    pub owner: Option<Uuid>,
    pub statement: &'a str,
    pub due: Option<&'a str>,
    pub cadence: Option<&'a str>,
    pub count: Option<i64>,
    pub first_due: Option<&'a str>,
}

/// Adds a commitment; returns the "start small" advice when the owner already holds many.
pub async fn add_commitment(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    input: CommitmentInput<'_>,
) -> Result<(Uuid, Option<String>), AppError> {
    access.require_poster()?;
    let today = today(state);
    let mut bad = Vec::new();
    let owner = match input.owner {
        None => {
            bad.push(Invalid::new(
                "owner",
                "is required: every commitment has someone who keeps it",
            ));
            None
        }
        Some(o) if access.repair.side_of(o).is_none() => {
            bad.push(Invalid::new("owner", "must be someone in this repair"));
            None
        }
        Some(o) => Some(o),
    };
    let statement = collect(&mut bad, repair::commitment_statement(input.statement));
    let schedule = collect(
        &mut bad,
        Schedule::parse(
            input.due,
            input.cadence,
            input.count,
            input.first_due,
            today,
        ),
    );
    let (Some(owner), Some(statement), Some(schedule)) = (owner, statement, schedule) else {
        return Err(AppError::Invalid(bad));
    };
    let open_owned = state
        .store()
        .commitments_owned_by(owner)
        .await?
        .iter()
        .filter(|c| commitments::is_open(&occurrences(&c.occurrences), today))
        .count();
    let cadence = match &schedule {
        Schedule::Once { .. } => None,
        Schedule::Repeating { cadence, .. } => Some(cadence.as_str().to_owned()),
    };
    let id = state.new_id();
    let new = NewCommitment {
        id,
        repair_id: access.repair.id,
        owner_id: owner,
        statement: statement.clone(),
        cadence,
        due_dates: schedule.due_dates(),
        created_at: state.now(),
    };
    let entry = audit(
        state,
        user,
        "commitment.add",
        &access.repair.title,
        format!("{statement} ({})", schedule.describe()),
    );
    state.store().add_commitment(&new, &entry).await?;
    Ok((id, commitments::start_small(open_owned)))
}

pub fn occurrences(records: &[OccurrenceRecord]) -> Vec<Occurrence> {
    records.iter().map(occurrence).collect()
}

/// An occurrence counts as happened only when more of the affected side said so than not.
pub fn occurrence(r: &OccurrenceRecord) -> Occurrence {
    let confirmation = r
        .last_confirmed_on
        .filter(|_| r.yes + r.no > 0)
        .map(|on| Confirmation {
            happened: r.yes > r.no,
            on,
        });
    Occurrence {
        due: r.due,
        done_on: r.done_on,
        confirmation,
    }
}

pub fn find_commitment(list: &[Commitment], id: Uuid) -> Result<&Commitment, AppError> {
    list.iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::not_found("commitment"))
}

fn find_occurrence(c: &Commitment, due: &str) -> Result<Date, AppError> {
    let due = commitments::parse_date("due", due).map_err(|_| AppError::not_found("occurrence"))?;
    c.occurrences
        .iter()
        .find(|o| o.due == due)
        .map(|o| o.due)
        .ok_or_else(|| AppError::not_found("occurrence"))
}

pub async fn mark_done(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    commitment_id: Uuid,
    due: &str,
) -> Result<(), AppError> {
    let list = state.store().commitments(access.repair.id).await?;
    let c = find_commitment(&list, commitment_id)?;
    if c.owner_id != user.person.id {
        return Err(AppError::Forbidden(
            "only the commitment's owner may mark it done".into(),
        ));
    }
    let due = find_occurrence(c, due)?;
    if due > today(state) + time::Duration::days(commitments::GRACE_DAYS) {
        return Err(AppError::Conflict("this occurrence is not due yet".into()));
    }
    let entry = audit(
        state,
        user,
        "commitment.done",
        &access.repair.title,
        format!("{} (due {due})", c.statement),
    );
    state
        .store()
        .mark_done(commitment_id, due, today(state), &entry)
        .await?;
    Ok(())
}

pub async fn confirm(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    commitment_id: Uuid,
    due: &str,
    happened: &str,
) -> Result<(), AppError> {
    access.require_affected()?;
    if crate::rounds::anonymous_confirmations(&user.org, &access.repair) {
        return Err(AppError::Conflict(
            "confirmations are anonymous in this repair: answer in the occurrence's confirmation round".into(),
        ));
    }
    let happened = match happened {
        "yes" | "true" => true,
        "no" | "false" => false,
        _ => return Err(AppError::invalid("happened", "must be yes or no")),
    };
    let list = state.store().commitments(access.repair.id).await?;
    let c = find_commitment(&list, commitment_id)?;
    let due = find_occurrence(c, due)?;
    if due > today(state)
        && c.occurrences
            .iter()
            .find(|o| o.due == due)
            .and_then(|o| o.done_on)
            .is_none()
    {
        return Err(AppError::Conflict(
            "this occurrence is not due yet, and its owner has not marked it done".into(),
        ));
    }
    // No audit entry: who confirmed what is confidential input.
    state
        .store()
        .confirm(commitment_id, due, user.person.id, happened, today(state))
        .await?;
    Ok(())
}

/// Posts the automatic update for each occurrence that has become missed. Idempotent.
pub async fn announce_missed(
    state: &AppState,
    org_id: Uuid,
    repair_id: Uuid,
) -> Result<(), AppError> {
    let commitments = state.store().commitments(repair_id).await?;
    announce_missed_in(state, org_id, repair_id, &commitments).await?;
    Ok(())
}

/// The same, over commitments already read; returns whether any was announced.
async fn announce_missed_in(
    state: &AppState,
    org_id: Uuid,
    repair_id: Uuid,
    list: &[Commitment],
) -> Result<bool, AppError> {
    let today = today(state);
    let mut announced = false;
    for c in list {
        for due in commitments::missed(&occurrences(&c.occurrences), today) {
            if c.occurrences
                .iter()
                .any(|o| o.due == due && o.missed_announced)
            {
                continue;
            }
            let update = NewUpdate {
                id: state.new_id(),
                kind: UpdateKind::Missed,
                author_id: None,
                body: format!(
                    "Missed: “{}” by {}, due {due}, was not confirmed as kept.",
                    c.statement, c.owner_name
                ),
                reason: None,
                created_at: state.now(),
            };
            announced = true;
            if !state
                .store()
                .announce_missed(repair_id, c.id, due, &update)
                .await?
            {
                // Another request announced it first.
                continue;
            }
            crate::webhooks::announce_id(
                state,
                org_id,
                repair_id,
                kintsugi_core::webhooks::Event::CommitmentMissed,
            )
            .await;
        }
    }
    Ok(announced)
}

/// Every open repair of every organisation, for the background sweep.
pub async fn announce_missed_everywhere(state: &AppState) -> Result<(), AppError> {
    for org in state.store().list_organisations().await? {
        for r in state.store().all_repairs(org.id).await? {
            if r.stage.is_open() {
                announce_missed(state, org.id, r.id).await?;
            }
        }
    }
    Ok(())
}

/// Follow-through over a set of commitments.
pub fn follow_through(list: &[Commitment], today: Date) -> FollowThrough {
    list.iter()
        .map(|c| commitments::follow_through(&occurrences(&c.occurrences), today))
        .sum()
}

pub fn status_of(r: &OccurrenceRecord, today: Date) -> Status {
    commitments::status(&occurrence(r), today)
}

pub fn overdue(state: &AppState, r: &RepairSummary) -> Option<repair::Overdue> {
    if !r.stage.is_open() {
        return None;
    }
    repair::overdue(
        r.last_update_at,
        r.created_at,
        r.update_cadence_days,
        state.now(),
    )
}

/// Everything a repair's page or API document shows beyond the repair itself, read once,
/// after announcing any occurrence that has just been missed.
pub struct Detail {
    /// What the view read (shared with the server's snapshot of the repair).
    pub reads: Arc<Reads>,
    /// What still keeps the current stage from ending.
    pub missing: Vec<String>,
    pub overdue: Option<String>,
    /// In rebuild: the recovery gate's checklist.
    pub gate: Option<kintsugi_core::gate::GateReport>,
}

/// Everything one view of a repair reads beyond the repair itself.
pub struct Reads {
    pub acks: Vec<Acknowledgment>,
    pub causes: Vec<Cause>,
    pub updates: Vec<Update>,
    pub commitments: Vec<Commitment>,
    pub rounds: RoundsRead,
}

impl Reads {
    async fn read(state: &AppState, repair_id: Uuid) -> Result<Self, AppError> {
        let store = state.store();
        Ok(Reads {
            rounds: RoundsRead::read(state, repair_id).await?,
            commitments: store.commitments(repair_id).await?,
            acks: store.acknowledgments(repair_id).await?,
            causes: store.causes(repair_id).await?,
            updates: store.updates(repair_id).await?,
        })
    }
}

/// What each server keeps of the repairs it shows: the repair (with its people) and what its
/// page reads, each under the `version` the database bumps on every write that changes them
/// (migration 0021's triggers). A view reads the version, one indexed row, and reads the rest
/// again only when it moved, so a busy repair page costs a few small queries instead of about
/// fifteen and 800 rows; several servers each check the same version.
///
/// Safe against a write racing the read: an entry is stored under the version read *before*
/// its rows, so its rows are at least that new; a later write bumps the version and the next
/// view reads again. Bounded: the repairs shown most recently, by count.
pub struct Snapshots {
    repairs: quick_cache::sync::Cache<Uuid, Arc<Repair>>,
    reads: quick_cache::sync::Cache<Uuid, (i64, Arc<Reads>)>,
}

impl Snapshots {
    /// Repairs kept at once; an organisation of thousands has tens open at a time.
    const REPAIRS: usize = 256;

    pub fn new() -> Self {
        Snapshots {
            repairs: quick_cache::sync::Cache::new(Self::REPAIRS),
            reads: quick_cache::sync::Cache::new(Self::REPAIRS),
        }
    }
}

impl Default for Snapshots {
    fn default() -> Self {
        Self::new()
    }
}

/// The repair, from this server's snapshot while its version has not moved.
async fn current_repair(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<Arc<Repair>>, AppError> {
    let store = state.store();
    if let Some(kept) = state.snapshots().repairs.get(&id)
        && kept.org_id == org_id
        && store.repair_version(org_id, id).await? == Some(kept.version)
    {
        return Ok(Some(kept));
    }
    let Some(repair) = store.repair(org_id, id).await? else {
        return Ok(None);
    };
    let repair = Arc::new(repair);
    state.snapshots().repairs.insert(id, repair.clone());
    Ok(Some(repair))
}

/// What a view of `r` reads, from this server's snapshot while `r.version` is current. `r`
/// was read (or its version checked) just now, so what is read here is at least that new.
pub async fn reads(state: &AppState, r: &Repair) -> Result<Arc<Reads>, AppError> {
    if let Some((_, kept)) = state
        .snapshots()
        .reads
        .get(&r.id)
        .filter(|(version, _)| *version == r.version)
    {
        return Ok(kept);
    }
    let reads = Arc::new(Reads::read(state, r.id).await?);
    state
        .snapshots()
        .reads
        .insert(r.id, (r.version, reads.clone()));
    Ok(reads)
}

pub async fn detail(state: &AppState, org: &Organisation, r: &Repair) -> Result<Detail, AppError> {
    let mut reads = reads(state, r).await?;
    // Time-driven changes next, so the view shows them: rounds that are due close (and
    // settle their confirmations, which changes occurrences); then due occurrences get their
    // confirmation round, a pulse opens if due, and missed occurrences are announced. Each
    // step only writes when something is due, and then the view reads again (not kept: the
    // write moved the version, and the next view keeps what it reads).
    if crate::rounds::close_due_rounds(state, r.org_id, &r.title, &reads.rounds.list).await? {
        reads = Arc::new(Reads::read(state, r.id).await?);
    }
    let opened = crate::rounds::open_confirmation_rounds(
        state,
        org,
        r,
        &reads.rounds.list,
        &reads.commitments,
    )
    .await?;
    let pulsed = crate::rounds::open_pulse_if_due(state, r, &reads.rounds.list).await?;
    let missed = announce_missed_in(state, r.org_id, r.id, &reads.commitments).await?;
    if opened || pulsed || missed {
        reads = Arc::new(Reads::read(state, r.id).await?);
    }
    let Reads {
        acks,
        causes,
        updates,
        commitments,
        rounds,
    } = reads.as_ref();
    let gate = (r.stage == Stage::Rebuild)
        .then(|| crate::rounds::gate_report(state.now(), org, r, rounds, commitments));
    let facts = repair::Facts {
        stage: Some(r.stage),
        acknowledgments: acks.len(),
        closed_listening_rounds: rounds
            .list
            .iter()
            .filter(|round| !round.open && round.kind == crate::rounds::LISTENING)
            .count(),
        no_round_reason: r.no_round_reason.is_some(),
        causes: causes.len(),
        scheduled_commitments: commitments.len(),
        gate_passes: gate.as_ref().map(|g| g.passes),
    };
    let missing = if r.stage.is_open() {
        repair::missing_to_leave(r.stage, &facts)
    } else {
        vec![]
    };
    let summary = RepairSummary {
        id: r.id,
        title: r.title.clone(),
        stage: r.stage,
        created_at: r.created_at,
        update_cadence_days: r.update_cadence_days,
        last_update_at: updates
            .iter()
            .filter(|u| u.kind != UpdateKind::Missed)
            .map(|u| u.created_at)
            .max(),
    };
    let overdue = overdue(state, &summary).map(|o| o.describe());
    Ok(Detail {
        reads,
        missing,
        overdue,
        gate,
    })
}
