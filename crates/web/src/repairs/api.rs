//! Repairs in the JSON API: the same actions as the pages, as JSON.

use axum::extract::State;
use axum::http::StatusCode;
use kintsugi_store::Repair;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use kintsugi_app::Error;
use kintsugi_app::repairs::commitments::{self, CommitmentInput};
use kintsugi_app::repairs::{self, OpenInput, Reads, detail};
use kintsugi_app::text::rfc3339;

use crate::kernel::error::Problem;
use crate::kernel::error::extract::{Json, Path};
use crate::kernel::session::{CurrentUser, InRepair};
use crate::kernel::{AppState, Reply};

mod out;

use out::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, open))
        .routes(routes!(show))
        .routes(routes!(coach))
        .routes(routes!(acknowledge))
        .routes(routes!(add_cause))
        .routes(routes!(no_round_reason))
        .routes(routes!(move_stage))
        .routes(routes!(post_update))
        .routes(routes!(edit_update))
        .routes(routes!(add_commitment))
        .routes(routes!(mark_done))
        .routes(routes!(confirm))
        .routes(routes!(my_commitments))
}

#[derive(Serialize, ToSchema)]
pub struct RepairListItem {
    id: Uuid,
    title: String,
    /// acknowledge, understand, act, rebuild, rebuilt or closed.
    stage: String,
    /// Whether the person asking takes part (or facilitates); admins also see other repairs' title and stage.
    participant: bool,
    /// "last update 9 days ago, promised every 7", when the update log is behind.
    overdue: Option<String>,
}

/// Repairs the person takes part in; for admins, every repair's title and stage too.
#[utoipa::path(get, path = "/repairs", tag = "repairs", security(("session" = [])),
    responses((status = 200, body = [RepairListItem]), (status = 401, body = Problem)))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Reply<axum::Json<Vec<RepairListItem>>> {
    let mine = state
        .ctx
        .store()
        .repairs_of(user.org.id, user.person.id)
        .await?;
    let mut out: Vec<RepairListItem> = mine
        .iter()
        .map(|r| RepairListItem {
            id: r.id,
            title: r.title.clone(),
            stage: r.stage.as_str().into(),
            participant: true,
            overdue: repairs::overdue(&state.ctx, r).map(|o| o.describe()),
        })
        .collect();
    if user.person.roles.admin {
        for r in state.ctx.store().all_repairs(user.org.id).await? {
            if !mine.iter().any(|m| m.id == r.id) {
                out.push(RepairListItem {
                    id: r.id,
                    title: r.title,
                    stage: r.stage.as_str().into(),
                    participant: false,
                    overdue: None,
                });
            }
        }
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    title: String,
    summary: String,
    /// missed_deadline, broken_promise, lack_of_respect or other.
    breach: String,
    /// person_person, leader_team or team_team.
    scope: String,
    #[serde(default)]
    accountable_people: Vec<Uuid>,
    #[serde(default)]
    accountable_teams: Vec<Uuid>,
    #[serde(default)]
    affected_people: Vec<Uuid>,
    #[serde(default)]
    affected_teams: Vec<Uuid>,
    /// Days between promised updates (1 to 90, default 7).
    update_cadence_days: Option<i64>,
    #[serde(default)]
    deception: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    id: Uuid,
    /// "Start small" advice, when the owner of a new commitment already holds many open ones.
    advice: Option<String>,
}

/// Open a repair. Facilitators and admins; the opener facilitates it.
#[utoipa::path(post, path = "/repairs", tag = "repairs", security(("session" = [])), request_body = OpenBody,
    responses((status = 201, body = Created), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn open(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(b): Json<OpenBody>,
) -> Reply<(StatusCode, axum::Json<Created>)> {
    let input = OpenInput {
        title: &b.title,
        summary: &b.summary,
        breach: &b.breach,
        scope: &b.scope,
        accountable_people: b.accountable_people,
        accountable_teams: b.accountable_teams,
        affected_people: b.affected_people,
        affected_teams: b.affected_teams,
        update_cadence_days: b.update_cadence_days,
        deception: b.deception,
    };
    let id = repairs::open(&state.ctx, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Created { id, advice: None }),
    ))
}

async fn repair_out(
    state: &AppState,
    org: &kintsugi_store::Organisation,
    r: &Repair,
) -> Reply<RepairOut> {
    let detail::Detail {
        reads,
        missing,
        overdue,
        gate,
    } = detail::detail(&state.ctx, &state.snapshots, org, r).await?;
    let Reads {
        acks,
        causes,
        updates,
        commitments,
        ..
    } = reads.as_ref();
    let r = r.clone();
    let today = state.ctx.today();
    Ok(RepairOut {
        overdue,
        missing,
        gate,
        follow_through: commitments::follow_through(commitments, today).into(),
        id: r.id,
        title: r.title,
        summary: r.summary,
        breach: r.breach.as_str().into(),
        scope: r.scope.as_str().into(),
        stage: r.stage.as_str().into(),
        facilitator_id: r.facilitator_id,
        facilitator_name: r.facilitator_name,
        update_cadence_days: r.update_cadence_days,
        no_round_reason: r.no_round_reason,
        closed_reason: r.closed_reason,
        override_reason: r.override_reason,
        participants: r
            .participants
            .into_iter()
            .map(|p| ParticipantOut {
                person_id: p.person_id,
                name: p.name,
                side: p.side.as_str().into(),
            })
            .collect(),
        acknowledgments: acks
            .iter()
            .cloned()
            .map(|a| AckOut {
                id: a.id,
                author_name: a.author_name,
                body: a.body,
                score: a.score,
                created_at: rfc3339(a.created_at),
            })
            .collect(),
        causes: causes
            .iter()
            .cloned()
            .map(|c| CauseOut {
                supporting_comments: c.supporting_comments,
                category: c.category.as_str().into(),
                description: c.description,
            })
            .collect(),
        updates: updates.iter().cloned().map(Into::into).collect(),
        commitments: commitments
            .iter()
            .cloned()
            .map(|c| commitment_out(c, today))
            .collect(),
    })
}

/// One repair, whole. Participants and its facilitator only: for anyone else it does not exist.
#[utoipa::path(get, path = "/repairs/{id}", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RepairOut), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn show(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
) -> Reply<axum::Json<RepairOut>> {
    Ok(axum::Json(
        repair_out(&state, &user.org, &access.repair).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    body: String,
}

/// The apology coach's review of a draft acknowledgment. Advice only; nothing is stored.
#[utoipa::path(post, path = "/repairs/{id}/coach", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = TextBody, responses((status = 200, body = CoachOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn coach(
    InRepair { access, .. }: InRepair,
    Json(b): Json<TextBody>,
) -> Reply<axum::Json<CoachOut>> {
    access.require_accountable()?;
    if b.body.len() > crate::kernel::BODY_LIMIT {
        return Err(Error::invalid("body", "is too long").into());
    }
    let r = repairs::coach_review(&access, &b.body);
    Ok(axum::Json(CoachOut {
        components: r
            .components
            .into_iter()
            .map(|c| SpanOut {
                id: c.id,
                start: c.start,
                end: c.end,
            })
            .collect(),
        flags: r
            .flags
            .into_iter()
            .map(|f| FlagOut {
                rule: f.rule,
                start: f.start,
                end: f.end,
                message: f.message,
                suggestion: f.suggestion,
            })
            .collect(),
        score: r.score,
        advice: r.advice,
        offers_of_repair: r.offers_of_repair,
    }))
}

/// Post an acknowledgment. The accountable side only.
#[utoipa::path(post, path = "/repairs/{id}/acknowledgments", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = TextBody, responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn acknowledge(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<TextBody>,
) -> Reply<StatusCode> {
    repairs::acknowledge(&state.ctx, &user, &access, &b.body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CauseBody {
    /// communication, expectations, culture, personality, process or other.
    category: String,
    description: String,
    /// Ids of comments (from the repair's closed listening rounds) that support this cause.
    #[serde(default)]
    support: Vec<Uuid>,
}

/// Name a cause. The facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/causes", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = CauseBody, responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_cause(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<CauseBody>,
) -> Reply<StatusCode> {
    repairs::add_cause(
        &state.ctx,
        &user,
        &access,
        &b.category,
        &b.description,
        &b.support,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

/// Record why no listening round was possible. The facilitator only.
#[utoipa::path(post, path = "/repairs/{id}/no-round-reason", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = ReasonBody, responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn no_round_reason(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<ReasonBody>,
) -> Reply<StatusCode> {
    repairs::record_no_round_reason(&state.ctx, &user, &access, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    /// The stage the repair is in now, so that two moves never both apply.
    from: String,
    /// advance, close or override.
    action: String,
    /// Required to close or override.
    #[serde(default)]
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct StageOut {
    stage: String,
}

/// Move the repair. The guardrails say what is missing (409); a stale `from` is also a 409.
#[utoipa::path(post, path = "/repairs/{id}/stage", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = StageBody, responses((status = 200, body = StageOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn move_stage(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<StageBody>,
) -> Reply<axum::Json<StageOut>> {
    let stage =
        repairs::move_stage(&state.ctx, &user, &access, &b.from, &b.action, &b.reason).await?;
    Ok(axum::Json(StageOut {
        stage: stage.as_str().into(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// progress, decision, check_in or withheld.
    kind: String,
    body: String,
    /// Required for a decision.
    #[serde(default)]
    reason: String,
}

/// Post an update. The facilitator and the accountable side.
#[utoipa::path(post, path = "/repairs/{id}/updates", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = UpdateBody, responses((status = 201, body = Created), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn post_update(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<UpdateBody>,
) -> Reply<(StatusCode, axum::Json<Created>)> {
    let uid = repairs::post_update(&state.ctx, &user, &access, &b.kind, &b.body, &b.reason).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Created {
            id: uid,
            advice: None,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    body: String,
    #[serde(default)]
    reason: String,
}

/// Edit an update: adds a version; every earlier version stays visible. Its author or the facilitator.
#[utoipa::path(post, path = "/repairs/{id}/updates/{update}/versions", tag = "repairs", security(("session" = [])),
    params(("id" = Uuid, Path), ("update" = Uuid, Path)), request_body = VersionBody,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn edit_update(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, update)): Path<(Uuid, Uuid)>,
    Json(b): Json<VersionBody>,
) -> Reply<StatusCode> {
    repairs::edit_update(&state.ctx, &user, &access, update, &b.body, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentBody {
    owner: Option<Uuid>,
    statement: String,
    /// A single due date (YYYY-MM-DD), or instead cadence + count + first_due.
    due: Option<String>,
    /// daily, weekly, fortnightly or monthly.
    cadence: Option<String>,
    /// 1 to 520.
    count: Option<i64>,
    first_due: Option<String>,
}

/// Add a commitment. The facilitator and the accountable side; the owner is anyone in the repair.
#[utoipa::path(post, path = "/repairs/{id}/commitments", tag = "repairs", security(("session" = [])), params(("id" = Uuid, Path)),
    request_body = CommitmentBody, responses((status = 201, body = Created), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_commitment(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Json(b): Json<CommitmentBody>,
) -> Reply<(StatusCode, axum::Json<Created>)> {
    let input = CommitmentInput {
        owner: b.owner,
        statement: &b.statement,
        due: b.due.as_deref(),
        cadence: b.cadence.as_deref(),
        count: b.count,
        first_due: b.first_due.as_deref(),
    };
    let (cid, advice) = commitments::add_commitment(&state.ctx, &user, &access, input).await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id: cid, advice })))
}

/// Mark an occurrence done. Its owner only.
#[utoipa::path(post, path = "/repairs/{id}/commitments/{commitment}/occurrences/{due}/done", tag = "repairs", security(("session" = [])),
    params(("id" = Uuid, Path), ("commitment" = Uuid, Path), ("due" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn mark_done(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, commitment, due)): Path<(Uuid, Uuid, String)>,
) -> Reply<StatusCode> {
    commitments::mark_done(&state.ctx, &user, &access, commitment, &due).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    happened: bool,
}

/// Say whether an occurrence happened. The affected side only, once each; stored apart from who said it.
#[utoipa::path(post, path = "/repairs/{id}/commitments/{commitment}/occurrences/{due}/confirmation", tag = "repairs", security(("session" = [])),
    params(("id" = Uuid, Path), ("commitment" = Uuid, Path), ("due" = String, Path, description = "YYYY-MM-DD")), request_body = ConfirmBody,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn confirm(
    State(state): State<AppState>,
    InRepair { user, access }: InRepair,
    Path((_repair, commitment, due)): Path<(Uuid, Uuid, String)>,
    Json(b): Json<ConfirmBody>,
) -> Reply<StatusCode> {
    commitments::confirm(
        &state.ctx,
        &user,
        &access,
        commitment,
        &due,
        if b.happened { "yes" } else { "no" },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MyCommitments {
    follow_through: FollowThroughOut,
    commitments: Vec<CommitmentOut>,
}

/// The logged-in person's commitments across repairs, with their follow-through.
#[utoipa::path(get, path = "/me/commitments", tag = "repairs", security(("session" = [])),
    responses((status = 200, body = MyCommitments), (status = 401, body = Problem)))]
async fn my_commitments(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Reply<axum::Json<MyCommitments>> {
    let list = state
        .ctx
        .store()
        .commitments_owned_by(user.person.id)
        .await?;
    let today = state.ctx.today();
    Ok(axum::Json(MyCommitments {
        follow_through: commitments::follow_through(&list, today).into(),
        commitments: list.into_iter().map(|c| commitment_out(c, today)).collect(),
    }))
}
