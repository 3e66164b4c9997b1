//! Rows as the database returns them, and their checked conversion into store records.

use kintsugi_core::{KThreshold, Roles};
use kintsugi_store::{Organisation, Person, Session, StoreError, Team};

use crate::{from_ts, uuid};

/// Teams of one organisation, optionally one team, with their count of active members.
pub const TEAMS_SQL: &str = "SELECT t.id, t.org_id, t.name, t.created_at, \
    (SELECT COUNT(*) FROM team_members m JOIN people p ON p.id = m.person_id WHERE m.team_id = t.id AND p.active) AS member_count \
    FROM teams t WHERE t.org_id = $1 ORDER BY t.name, t.id";

/// One team, by its primary key (an organisation may have thousands).
pub const TEAM_SQL: &str = "SELECT t.id, t.org_id, t.name, t.created_at, \
    (SELECT COUNT(*) FROM team_members m JOIN people p ON p.id = m.person_id WHERE m.team_id = t.id AND p.active) AS member_count \
    FROM teams t WHERE t.org_id = $1 AND t.id = $2";

#[derive(sqlx::FromRow)]
pub struct OrganisationRow {
    // Named apart from a person's columns, so one row can carry both (`SIGNED_IN_SQL`).
    #[sqlx(rename = "org_id")]
    pub id: String,
    #[sqlx(rename = "org_name")]
    pub name: String,
    pub is_demo: bool,
    pub k_threshold: i64,
    pub gate_pulses: i64,
    pub gate_target_cap: i64,
    pub gate_min_change: i64,
    pub gate_follow_through: i64,
    pub gate_min_weeks: i64,
    pub gate_deception_weeks: i64,
    #[sqlx(rename = "org_created_at")]
    pub created_at: i64,
}

/// An organisation's columns, named as `OrganisationRow` reads them.
pub const ORGANISATION_SQL: &str = "SELECT id AS org_id, name AS org_name, is_demo, k_threshold, gate_pulses, \
    gate_target_cap, gate_min_change, gate_follow_through, gate_min_weeks, gate_deception_weeks, \
    created_at AS org_created_at FROM organisations";

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrganisationRow) -> Result<Self, StoreError> {
        Ok(Organisation {
            id: uuid(&r.id)?,
            name: r.name,
            is_demo: r.is_demo,
            k_threshold: KThreshold::new(r.k_threshold)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            gate: kintsugi_core::gate::GateSettings {
                pulses_required: r.gate_pulses as u32,
                target_cap_tenths: r.gate_target_cap as u32,
                min_change_tenths: r.gate_min_change as u32,
                follow_through_percent: r.gate_follow_through as u8,
                min_weeks: r.gate_min_weeks as u32,
                deception_extra_weeks: r.gate_deception_weeks as u32,
            },
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TeamRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: i64,
    pub member_count: i64,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;
    fn try_from(r: TeamRow) -> Result<Self, StoreError> {
        Ok(Team {
            id: uuid(&r.id)?,
            org_id: uuid(&r.org_id)?,
            name: r.name,
            member_count: r.member_count,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PersonRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_facilitator: bool,
    pub active: bool,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
}

impl PersonRow {
    /// The person with their teams picked out of `(person_id, team_id)` links, and their password hash.
    pub fn into_person(
        self,
        links: &ByParent<'_, (String, String)>,
    ) -> Result<(Person, Option<String>), StoreError> {
        let mut team_ids = links
            .of(&self.id)
            .iter()
            .map(|(_, team)| uuid(team))
            .collect::<Result<Vec<_>, _>>()?;
        team_ids.sort();
        let person = Person {
            id: uuid(&self.id)?,
            org_id: uuid(&self.org_id)?,
            name: self.name,
            email: self.email,
            roles: Roles {
                admin: self.is_admin,
                facilitator: self.is_facilitator,
            },
            active: self.active,
            has_password: self.password_hash.is_some(),
            team_ids,
            created_at: from_ts(self.created_at)?,
            deactivated_at: self.deactivated_at.map(from_ts).transpose()?,
        };
        Ok((person, self.password_hash))
    }
}

/// A live session with its person, their organisation and one of their teams (a row per
/// team; none when they are in no team). The person's `org_id` is the organisation's too.
pub const SIGNED_IN_SQL: &str = "SELECT s.id_hash, s.created_at AS session_created_at, s.expires_at, \
    p.id, p.org_id, p.name, p.email, p.password_hash, p.is_admin, p.is_facilitator, p.active, \
    p.created_at, p.deactivated_at, tm.team_id, \
    o.name AS org_name, o.is_demo, o.k_threshold, o.gate_pulses, o.gate_target_cap, o.gate_min_change, \
    o.gate_follow_through, o.gate_min_weeks, o.gate_deception_weeks, o.created_at AS org_created_at \
    FROM sessions s JOIN people p ON p.id = s.person_id JOIN organisations o ON o.id = p.org_id \
    LEFT JOIN team_members tm ON tm.person_id = p.id \
    WHERE s.id_hash = $1 AND s.expires_at > $2 AND p.active";

#[derive(sqlx::FromRow)]
pub struct SignedInRow {
    pub id_hash: String,
    pub session_created_at: i64,
    pub expires_at: i64,
    #[sqlx(flatten)]
    pub person: PersonRow,
    pub team_id: Option<String>,
    #[sqlx(flatten)]
    pub org: OrganisationRow,
}

impl SignedInRow {
    pub fn into_signed_in(
        rows: Vec<SignedInRow>,
    ) -> Result<Option<(Session, Person, Organisation)>, StoreError> {
        let links: Vec<(String, String)> = rows
            .iter()
            .filter_map(|r| Some((r.person.id.clone(), r.team_id.clone()?)))
            .collect();
        let Some(r) = rows.into_iter().next() else {
            return Ok(None);
        };
        let session = Session {
            id_hash: r.id_hash,
            person_id: uuid(&r.person.id)?,
            created_at: from_ts(r.session_created_at)?,
            expires_at: from_ts(r.expires_at)?,
        };
        let (person, _) = r
            .person
            .into_person(&ByParent::new(&links, |(person, _)| person.as_str()))?;
        Ok(Some((session, person, r.org.try_into()?)))
    }
}

// ---- Repairs ----

use kintsugi_core::repair::{Breach, CauseCategory, Scope, Side, Stage, UpdateKind};
use kintsugi_store::{
    Acknowledgment, AuditEntry, Cause, Commitment, Notification, OccurrenceRecord, Participant,
    Repair, RepairSummary, UpdateVersion,
};
use time::Date;

fn parsed<T>(what: &str, r: Result<T, kintsugi_core::Invalid>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(format!("stored {what} is unreadable: {e}")))
}

pub fn date(text: &str) -> Result<Date, StoreError> {
    Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|e| StoreError::Internal(format!("bad date {text:?}: {e}")))
}

pub fn date_text(d: Date) -> String {
    d.to_string()
}

/// Repairs of one organisation, optionally only those a person takes part in or facilitates.
pub const REPAIR_LIST_SQL: &str = "SELECT r.id, r.title, r.stage, r.created_at, r.update_cadence_days, \
    (SELECT MAX(u.created_at) FROM updates u WHERE u.repair_id = r.id AND u.kind <> 'missed') AS last_update_at \
    FROM repairs r WHERE r.org_id = $1 AND ($2 IS NULL OR r.facilitator_id = $2 OR EXISTS \
    (SELECT 1 FROM repair_participants rp WHERE rp.repair_id = r.id AND rp.person_id = $2)) \
    ORDER BY r.created_at DESC, r.id";

#[derive(sqlx::FromRow)]
pub struct RepairListRow {
    pub id: String,
    pub title: String,
    pub stage: String,
    pub created_at: i64,
    pub update_cadence_days: i64,
    pub last_update_at: Option<i64>,
}

impl TryFrom<RepairListRow> for RepairSummary {
    type Error = StoreError;
    fn try_from(r: RepairListRow) -> Result<Self, StoreError> {
        Ok(RepairSummary {
            id: uuid(&r.id)?,
            title: r.title,
            stage: parsed("stage", Stage::parse(&r.stage))?,
            created_at: from_ts(r.created_at)?,
            update_cadence_days: r.update_cadence_days as u32,
            last_update_at: r.last_update_at.map(from_ts).transpose()?,
        })
    }
}

pub const REPAIR_SQL: &str = "SELECT r.id, r.org_id, r.title, r.summary, r.breach, r.scope, r.stage, r.facilitator_id, \
    f.name AS facilitator_name, r.update_cadence_days, r.deception, r.no_round_reason, r.closed_reason, \
    r.override_reason, r.pair_consent, r.rebuild_started_at, r.pulse_every_days, r.created_at, r.version FROM repairs r JOIN people f ON f.id = r.facilitator_id \
    WHERE r.id = $1 AND r.org_id = $2";

#[derive(sqlx::FromRow)]
pub struct RepairRow {
    pub id: String,
    pub org_id: String,
    pub title: String,
    pub summary: String,
    pub breach: String,
    pub scope: String,
    pub stage: String,
    pub facilitator_id: String,
    pub facilitator_name: String,
    pub update_cadence_days: i64,
    pub deception: bool,
    pub no_round_reason: Option<String>,
    pub closed_reason: Option<String>,
    pub override_reason: Option<String>,
    pub pair_consent: bool,
    pub rebuild_started_at: Option<i64>,
    pub pulse_every_days: i64,
    pub created_at: i64,
    pub version: i64,
}

impl RepairRow {
    pub fn into_repair(
        self,
        people: Vec<(String, String, String)>,
        teams: Vec<(String, String, String)>,
    ) -> Result<Repair, StoreError> {
        Ok(Repair {
            id: uuid(&self.id)?,
            org_id: uuid(&self.org_id)?,
            title: self.title,
            summary: self.summary,
            breach: parsed("breach", Breach::parse(&self.breach))?,
            scope: parsed("scope", Scope::parse(&self.scope))?,
            stage: parsed("stage", Stage::parse(&self.stage))?,
            facilitator_id: uuid(&self.facilitator_id)?,
            facilitator_name: self.facilitator_name,
            update_cadence_days: self.update_cadence_days as u32,
            deception: self.deception,
            no_round_reason: self.no_round_reason,
            closed_reason: self.closed_reason,
            override_reason: self.override_reason,
            pair_consent: self.pair_consent,
            rebuild_started_at: self.rebuild_started_at.map(from_ts).transpose()?,
            pulse_every_days: self.pulse_every_days as u32,
            participants: people
                .into_iter()
                .map(|(id, name, side)| {
                    Ok(Participant {
                        person_id: uuid(&id)?,
                        name,
                        side: parsed("side", Side::parse(&side))?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            teams: teams
                .into_iter()
                .map(|(id, name, side)| Ok((uuid(&id)?, name, parsed("side", Side::parse(&side))?)))
                .collect::<Result<_, StoreError>>()?,
            created_at: from_ts(self.created_at)?,
            version: self.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AckRow {
    pub id: String,
    pub author_id: String,
    pub author_name: String,
    pub body: String,
    pub score: i64,
    pub created_at: i64,
}

impl TryFrom<AckRow> for Acknowledgment {
    type Error = StoreError;
    fn try_from(r: AckRow) -> Result<Self, StoreError> {
        Ok(Acknowledgment {
            id: uuid(&r.id)?,
            author_id: uuid(&r.author_id)?,
            author_name: r.author_name,
            body: r.body,
            score: r.score.clamp(0, 100) as u8,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CauseRow {
    pub id: String,
    pub category: String,
    pub description: String,
    pub created_at: i64,
}

impl TryFrom<CauseRow> for Cause {
    type Error = StoreError;
    fn try_from(r: CauseRow) -> Result<Self, StoreError> {
        Ok(Cause {
            id: uuid(&r.id)?,
            category: parsed("category", CauseCategory::parse(&r.category))?,
            description: r.description,
            support: vec![],
            supporting_comments: vec![],
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UpdateRow {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct VersionRow {
    pub update_id: String,
    pub version: i64,
    pub body: String,
    pub reason: Option<String>,
    pub editor_name: Option<String>,
    pub created_at: i64,
}

impl UpdateRow {
    pub fn into_update(
        self,
        versions: &ByParent<'_, VersionRow>,
    ) -> Result<kintsugi_store::Update, StoreError> {
        let versions = versions
            .of(&self.id)
            .iter()
            .map(|v| {
                Ok(UpdateVersion {
                    version: v.version as u32,
                    body: v.body.clone(),
                    reason: v.reason.clone(),
                    editor_name: v.editor_name.clone(),
                    created_at: from_ts(v.created_at)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if versions.is_empty() {
            return Err(StoreError::Internal(format!(
                "update {} has no version",
                self.id
            )));
        }
        Ok(kintsugi_store::Update {
            id: uuid(&self.id)?,
            seq: self.seq as u32,
            kind: parsed("kind", UpdateKind::parse(&self.kind))?,
            author_id: self.author_id.as_deref().map(uuid).transpose()?,
            author_name: self.author_name,
            created_at: from_ts(self.created_at)?,
            versions,
        })
    }
}

/// Which commitments to read: each a condition on `c` (commitments) with one parameter, so
/// that every reader gets a plan on its own index (an `$1 IS NULL OR ...` condition would keep
/// the planner from any index and scan every commitment of every repair).
pub enum CommitmentsOf {
    Repair,
    Owner,
    Organisation,
}

impl CommitmentsOf {
    fn condition(&self) -> &'static str {
        match self {
            CommitmentsOf::Repair => "c.repair_id = $1",
            CommitmentsOf::Owner => "c.owner_id = $1",
            CommitmentsOf::Organisation => {
                "c.repair_id IN (SELECT id FROM repairs WHERE org_id = $1)"
            }
        }
    }

    pub fn commitments_sql(&self) -> String {
        format!(
            "SELECT c.id, c.repair_id, r.title AS repair_title, c.owner_id, p.name AS owner_name, \
             c.statement, c.cadence, c.created_at FROM commitments c JOIN repairs r ON r.id = c.repair_id \
             JOIN people p ON p.id = c.owner_id WHERE {} ORDER BY c.created_at, c.id",
            self.condition()
        )
    }

    /// One join and one grouping rather than three correlated subqueries per occurrence: the
    /// repair page reads every occurrence of a repair on each view.
    pub fn occurrences_sql(&self) -> String {
        format!(
            "SELECT o.commitment_id, o.due, o.done_on, o.missed_announced, \
             COUNT(CASE WHEN k.happened THEN 1 END) AS yes, \
             COUNT(CASE WHEN NOT k.happened THEN 1 END) AS no, \
             MAX(k.confirmed_on) AS last_confirmed_on \
             FROM occurrences o JOIN commitments c ON c.id = o.commitment_id \
             LEFT JOIN confirmations k ON k.commitment_id = o.commitment_id AND k.due = o.due \
             WHERE {} GROUP BY o.commitment_id, o.due, o.done_on, o.missed_announced ORDER BY o.due",
            self.condition()
        )
    }
}

#[derive(sqlx::FromRow)]
pub struct CommitmentRow {
    pub id: String,
    pub repair_id: String,
    pub repair_title: String,
    pub owner_id: String,
    pub owner_name: String,
    pub statement: String,
    pub cadence: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct OccurrenceRow {
    pub commitment_id: String,
    pub due: String,
    pub done_on: Option<String>,
    pub missed_announced: bool,
    pub yes: i64,
    pub no: i64,
    pub last_confirmed_on: Option<String>,
}

impl CommitmentRow {
    pub fn into_commitment(
        self,
        occurrences: &ByParent<'_, OccurrenceRow>,
    ) -> Result<Commitment, StoreError> {
        let occurrences = occurrences
            .of(&self.id)
            .iter()
            .map(|o| {
                Ok(OccurrenceRecord {
                    due: date(&o.due)?,
                    done_on: o.done_on.as_deref().map(date).transpose()?,
                    yes: o.yes as u32,
                    no: o.no as u32,
                    last_confirmed_on: o.last_confirmed_on.as_deref().map(date).transpose()?,
                    missed_announced: o.missed_announced,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Commitment {
            id: uuid(&self.id)?,
            repair_id: uuid(&self.repair_id)?,
            repair_title: self.repair_title,
            owner_id: uuid(&self.owner_id)?,
            owner_name: self.owner_name,
            statement: self.statement,
            cadence: self.cadence,
            created_at: from_ts(self.created_at)?,
            occurrences,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub repair_id: Option<String>,
    pub body: String,
    pub seen: bool,
    pub created_at: i64,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;
    fn try_from(r: NotificationRow) -> Result<Self, StoreError> {
        Ok(Notification {
            id: uuid(&r.id)?,
            repair_id: r.repair_id.as_deref().map(uuid).transpose()?,
            body: r.body,
            seen: r.seen,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub at: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: uuid(&r.id)?,
            actor_id: r.actor_id.as_deref().map(uuid).transpose()?,
            actor_name: r.actor_name,
            action: r.action,
            subject: r.subject,
            detail: r.detail,
            at: from_ts(r.at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RoundRow {
    pub id: String,
    pub repair_id: Option<String>,
    pub kind: String,
    pub public_key: String,
    pub fingerprint: String,
    pub status: String,
    pub closes_at: Option<i64>,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub subject: Option<String>,
    pub k: i64,
    pub replaced_keys: i64,
}

use kintsugi_core::rounds::RoundKind;

pub const ROUND_SQL: &str = "SELECT id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject, k, \
     (SELECT COUNT(*) FROM round_issued i WHERE i.round_id = rounds.id AND i.replaced) AS replaced_keys FROM rounds";

impl TryFrom<RoundRow> for kintsugi_store::Round {
    type Error = StoreError;
    fn try_from(r: RoundRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::Round {
            id: uuid(&r.id)?,
            repair_id: r.repair_id.as_deref().map(uuid).transpose()?,
            kind: parsed("round kind", RoundKind::parse(&r.kind))?,
            public_key: r.public_key,
            fingerprint: r.fingerprint,
            subject: r.subject,
            open: r.status == "open",
            closes_at: r.closes_at.map(from_ts).transpose()?,
            opened_at: from_ts(r.opened_at)?,
            closed_at: r.closed_at.map(from_ts).transpose()?,
            k: kintsugi_core::KThreshold::new(r.k)
                .map_err(|e| StoreError::Internal(format!("round k: {e}")))?,
            replaced_keys: u32::try_from(r.replaced_keys).unwrap_or(u32::MAX),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AnswerRow {
    pub id: String,
    pub category: Option<String>,
    pub comment: Option<String>,
    pub rating: Option<i64>,
    pub reply_check: Option<String>,
}

impl TryFrom<AnswerRow> for kintsugi_store::Answer {
    type Error = StoreError;
    fn try_from(r: AnswerRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::Answer {
            id: uuid(&r.id)?,
            category: r.category,
            comment: r.comment,
            rating: r.rating,
            items: vec![],
            reply_check: r.reply_check,
        })
    }
}

// ---- Team health ----

pub fn health_round_row(
    (round, org, team, instrument, period): (String, String, String, Option<String>, i64),
) -> Result<kintsugi_store::HealthRound, StoreError> {
    Ok(kintsugi_store::HealthRound {
        round_id: uuid(&round)?,
        org_id: uuid(&org)?,
        team_id: uuid(&team)?,
        instrument_id: instrument.as_deref().map(uuid).transpose()?,
        period,
    })
}

#[derive(sqlx::FromRow)]
pub struct RollupRow {
    pub team_id: Option<String>,
    pub period: i64,
    pub dimension: String,
    pub dimension_name: String,
    pub total: i64,
    pub value_count: i64,
    pub respondents: i64,
    pub scale_min: i64,
    pub scale_max: i64,
}

impl TryFrom<RollupRow> for kintsugi_store::HealthRollup {
    type Error = StoreError;
    fn try_from(r: RollupRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::HealthRollup {
            team_id: r.team_id.as_deref().map(uuid).transpose()?,
            period: r.period,
            dimension: r.dimension,
            dimension_name: r.dimension_name,
            total: r.total,
            value_count: r.value_count,
            respondents: r.respondents,
            scale_min: r.scale_min,
            scale_max: r.scale_max,
        })
    }
}

// ---- Outgoing webhooks ----

#[derive(sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    pub repair_id: Option<String>,
    pub url: String,
    pub secret: String,
    pub events: String,
    pub created_at: i64,
}

impl TryFrom<WebhookRow> for kintsugi_store::Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::Webhook {
            id: uuid(&r.id)?,
            org_id: uuid(&r.org_id)?,
            repair_id: r.repair_id.as_deref().map(uuid).transpose()?,
            url: r.url,
            secret: r.secret,
            events: r.events.split_whitespace().map(str::to_owned).collect(),
            created_at: from_ts(r.created_at)?,
        })
    }
}

/// One delivery by id.
pub const DELIVERIES_SQL_ONE: &str = "SELECT id, webhook_id, event, body, status, attempts, last_http_status, last_error, \
    created_at, updated_at FROM webhook_deliveries WHERE id = $1";
/// An organisation's latest deliveries.
pub const DELIVERIES_SQL_ORG: &str = "SELECT id, webhook_id, event, body, status, attempts, last_http_status, last_error, \
    created_at, updated_at FROM webhook_deliveries WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT $2";

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<DeliveryRow> for kintsugi_store::Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::Delivery {
            id: uuid(&r.id)?,
            webhook_id: uuid(&r.webhook_id)?,
            event: r.event,
            body: r.body,
            status: r.status,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            last_http_status: r.last_http_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            created_at: from_ts(r.created_at)?,
            updated_at: from_ts(r.updated_at)?,
        })
    }
}

// ---- Events ----

/// One event with its repair's title.
pub const EVENT_SQL: &str = "SELECT e.id, e.org_id, e.repair_id, r.title AS repair_title, e.event, e.round_id, \
    e.stage, e.created_at, e.fanned_out_at FROM events e JOIN repairs r ON r.id = e.repair_id WHERE e.id = $1";

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub org_id: String,
    pub repair_id: String,
    pub repair_title: String,
    pub event: String,
    pub round_id: Option<String>,
    pub stage: String,
    pub created_at: i64,
    pub fanned_out_at: Option<i64>,
}

impl TryFrom<EventRow> for kintsugi_store::EventRecord {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(kintsugi_store::EventRecord {
            id: uuid(&r.id)?,
            org_id: uuid(&r.org_id)?,
            repair_id: uuid(&r.repair_id)?,
            repair_title: r.repair_title,
            event: r.event,
            round_id: r.round_id.as_deref().map(uuid).transpose()?,
            stage: parsed("stage", Stage::parse(&r.stage))?,
            created_at: from_ts(r.created_at)?,
            fanned_out: r.fanned_out_at.is_some(),
        })
    }
}

/// Child rows grouped by their parent's id, in their query's order, so that attaching them is
/// one lookup per parent rather than a scan of every child row (a repair's 800 occurrences for
/// each of its 100 commitments; 100,000 people's team links for each person).
pub struct ByParent<'a, T>(std::collections::HashMap<&'a str, Vec<&'a T>>);

impl<'a, T> ByParent<'a, T> {
    pub fn new(rows: &'a [T], parent: impl Fn(&'a T) -> &'a str) -> Self {
        let mut by: std::collections::HashMap<&'a str, Vec<&'a T>> =
            std::collections::HashMap::new();
        for row in rows {
            by.entry(parent(row)).or_default().push(row);
        }
        ByParent(by)
    }

    pub fn of(&self, parent: &str) -> &[&'a T] {
        self.0.get(parent).map_or(&[], Vec::as_slice)
    }
}
