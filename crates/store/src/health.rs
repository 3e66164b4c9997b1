//! Team health in the storage interface: a part of [`crate::Store`] of its own, so the
//! checks, their instruments and their rollups read as one piece.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Audit, NewRound, Result, Round};

/// An instrument an organisation loaded: the checked TOML and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstrument {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The `id` inside the file.
    pub key: String,
    pub name: String,
    pub source: String,
    pub loaded_at: OffsetDateTime,
}

/// An organisation's team health settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    pub every: kintsugi_core::health::HealthEvery,
    /// The instrument in use; `None` is the built-in one.
    pub instrument: Option<StoredInstrument>,
}

/// What a team health round asks: which team, with which instrument, in which period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRound {
    pub round_id: Uuid,
    pub org_id: Uuid,
    pub team_id: Uuid,
    /// `None`: the built-in instrument.
    pub instrument_id: Option<Uuid>,
    /// Days since the epoch on which the organisation's checks opened together.
    pub period: i64,
}

/// One dimension of one closed round (or of the whole organisation in one period): exact
/// sums, never answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRollup {
    /// `None` in organisation rollups.
    pub team_id: Option<Uuid>,
    pub period: i64,
    pub dimension: String,
    pub dimension_name: String,
    pub total: i64,
    pub value_count: i64,
    pub respondents: i64,
    pub scale_min: i64,
    pub scale_max: i64,
}

/// One cell of a released period in one dimension: a team's sums (or, with `team_id` `None`,
/// the organisation's), in the layout the period was released in. A hidden cell carries no
/// numbers: its `total`, `value_count` and `respondents` are 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedCell {
    /// The team's parent when the period was released.
    pub parent_id: Option<Uuid>,
    pub hidden: bool,
    pub rollup: HealthRollup,
}

/// A released period: when its checks opened (days since the epoch) and the k they kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasedPeriod {
    pub period: i64,
    pub k: kintsugi_core::KThreshold,
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn health_settings(&self, org_id: Uuid) -> Result<HealthSettings>;
    async fn set_health_every(
        &self,
        org_id: Uuid,
        every: kintsugi_core::health::HealthEvery,
        audit: &Audit,
    ) -> Result<()>;
    /// Stores an instrument (already parsed and checked) and puts it in use, at once.
    async fn load_instrument(&self, instrument: &StoredInstrument, audit: &Audit) -> Result<()>;
    async fn instrument(&self, id: Uuid) -> Result<Option<StoredInstrument>>;
    /// Every team's parent in the organisation (teams without one are left out).
    async fn team_parents(&self, org_id: Uuid) -> Result<Vec<(Uuid, Uuid)>>;
    /// Every team of the organisation as (id, name, parent): what the health views need,
    /// without counting members.
    async fn team_tree(&self, org_id: Uuid) -> Result<Vec<(Uuid, String, Option<Uuid>)>>;
    /// Sets or clears a team's parent. `Refused` when it would make a loop; `NotFound` when
    /// either team is not in the organisation.
    async fn set_team_parent(
        &self,
        org_id: Uuid,
        team_id: Uuid,
        parent: Option<Uuid>,
        audit: &Audit,
    ) -> Result<()>;
    /// Opens a team's health round; `Conflict` while the team has one open.
    async fn open_health_round(
        &self,
        round: &NewRound,
        health: &HealthRound,
        audit: &Audit,
    ) -> Result<()>;
    async fn health_round(&self, round_id: Uuid) -> Result<Option<HealthRound>>;
    /// The period of the organisation's latest checks.
    async fn last_health_period(&self, org_id: Uuid) -> Result<Option<i64>>;
    /// The organisation's open health rounds.
    async fn open_health_rounds(&self, org_id: Uuid) -> Result<Vec<(Round, HealthRound)>>;
    /// Closes a health round and writes its rollups (scored with `instrument`) and adds to the
    /// organisation's, in one transaction; `Conflict` when it was already closed. When it was
    /// the period's last open check, the same transaction releases the period: the release
    /// rule (`kintsugi_core::health::release`, with the checks' k) over the team tree as it is
    /// then, stored once as what the period shows.
    async fn close_health_round(
        &self,
        round_id: Uuid,
        at: OffsetDateTime,
        instrument: &kintsugi_core::instrument::Instrument,
        audit: &Audit,
    ) -> Result<()>;
    /// Releases every period of the organisation whose checks have all closed and that is not
    /// released yet (periods that closed before releases were stored); the number released.
    async fn release_health_periods(&self, org_id: Uuid, at: OffsetDateTime) -> Result<u32>;
    /// The organisation's released periods, oldest first.
    async fn released_periods(&self, org_id: Uuid) -> Result<Vec<ReleasedPeriod>>;
    /// Every cell of one released period (the organisation's among them).
    async fn released_period(&self, org_id: Uuid, period: i64) -> Result<Vec<ReleasedCell>>;
    /// One team's cells (`None`: the organisation's) in every released period, oldest first.
    async fn released_cells(&self, org_id: Uuid, team: Option<Uuid>) -> Result<Vec<ReleasedCell>>;
}
