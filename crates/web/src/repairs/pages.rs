//! The list of repairs, and opening one.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kintsugi_app::Error;
use kintsugi_app::repairs::{self, OpenInput};
use kintsugi_core::Invalid;
use kintsugi_core::repair::{self, Breach, Scope};
use kintsugi_store::{Person, Team};
use serde::Deserialize;
use uuid::Uuid;

use crate::kernel::error::extract::Form;
use crate::kernel::page::{Chrome, Page, render};
use crate::kernel::session::CurrentUser;
use crate::kernel::{AppState, Reply};
use crate::repairs::view::{ListedRepair, listed};

#[derive(Template)]
#[template(path = "repairs.html")]
struct ListPage {
    chrome: Chrome,
    can_open: bool,
    mine: Vec<ListedRepair>,
    others: Vec<ListedRepair>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Reply<Response> {
    let mine = listed(&state.ctx, &user).await?;
    let others = if user.person.roles.admin {
        let all = state.ctx.store().all_repairs(user.org.id).await?;
        all.into_iter()
            .filter(|r| !mine.iter().any(|m| m.id == r.id))
            .map(|r| ListedRepair {
                id: r.id,
                title: r.title,
                stage: r.stage,
                overdue: None,
            })
            .collect()
    } else {
        vec![]
    };
    let can_open = user.person.roles.facilitator || user.person.roles.admin;
    Ok(render(
        StatusCode::OK,
        &ListPage {
            chrome: page.chrome("Repairs"),
            can_open,
            mine,
            others,
        },
    ))
}

#[derive(Deserialize, Default, Clone)]
pub struct OpenForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    breach: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    accountable_people: Vec<Uuid>,
    #[serde(default)]
    accountable_teams: Vec<Uuid>,
    #[serde(default)]
    affected_people: Vec<Uuid>,
    #[serde(default)]
    affected_teams: Vec<Uuid>,
    #[serde(default = "default_cadence")]
    update_cadence_days: String,
    deception: Option<String>,
}

fn default_cadence() -> String {
    repair::DEFAULT_UPDATE_CADENCE.to_string()
}

#[derive(Template)]
#[template(path = "repair_new.html")]
struct NewPage {
    chrome: Chrome,
    errors: Vec<Invalid>,
    draft: OpenForm,
    breaches: &'static [Breach],
    scopes: &'static [Scope],
    people: Vec<Person>,
    teams: Vec<Team>,
}

async fn new_form(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    draft: OpenForm,
    errors: Vec<Invalid>,
) -> Reply<Response> {
    if !(user.person.roles.facilitator || user.person.roles.admin) {
        return Err(Error::Forbidden("this needs the facilitator role".into()).into());
    }
    let people = state
        .ctx
        .store()
        .list_people(user.org.id)
        .await?
        .into_iter()
        .filter(|p| p.active)
        .collect();
    let teams = state.ctx.store().list_teams(user.org.id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let draft = OpenForm {
        update_cadence_days: if draft.update_cadence_days.is_empty() {
            default_cadence()
        } else {
            draft.update_cadence_days
        },
        ..draft
    };
    Ok(render(
        status,
        &NewPage {
            chrome: page.chrome("Open a repair"),
            errors,
            draft,
            breaches: Breach::ALL,
            scopes: Scope::ALL,
            people,
            teams,
        },
    ))
}

pub(super) async fn new_page(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
) -> Reply<Response> {
    new_form(
        &state,
        &page,
        &user,
        OpenForm {
            update_cadence_days: default_cadence(),
            ..OpenForm::default()
        },
        vec![],
    )
    .await
}

pub(super) async fn open(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Form(form): Form<OpenForm>,
) -> Reply<Response> {
    let cadence = form.update_cadence_days.trim().parse::<i64>().ok();
    if cadence.is_none() {
        let e = Invalid::new("update_cadence_days", "must be a whole number of days");
        return new_form(&state, &page, &user, form, vec![e]).await;
    }
    let input = OpenInput {
        title: &form.title,
        summary: &form.summary,
        breach: &form.breach,
        scope: &form.scope,
        accountable_people: form.accountable_people.clone(),
        accountable_teams: form.accountable_teams.clone(),
        affected_people: form.affected_people.clone(),
        affected_teams: form.affected_teams.clone(),
        update_cadence_days: cadence,
        deception: form.deception.is_some(),
    };
    match repairs::open(&state.ctx, &user, input).await {
        Ok(id) => Ok(Redirect::to(&format!("/repairs/{id}")).into_response()),
        Err(Error::Invalid(errors)) => new_form(&state, &page, &user, form, errors).await,
        Err(e) => Err(e.into()),
    }
}
