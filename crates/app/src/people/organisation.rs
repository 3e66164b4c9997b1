//! The organisation's settings: the minimum group size and the recovery gate.

use crate::actor::{Actor, audit};
use crate::context::Ctx;
use crate::error::Error;

/// Sets the minimum group size below which nothing confidential is shown (3 to 100), for the
/// rounds and checks opened from now on: each round keeps the k it opened with.
pub async fn set_k(ctx: &Ctx, admin: &Actor, k: i64) -> Result<kintsugi_core::KThreshold, Error> {
    let k = kintsugi_core::KThreshold::new(k)?;
    let entry = audit(
        ctx,
        admin,
        "organisation.k_threshold",
        &admin.org.name,
        format!(
            "minimum group size set to {} for rounds opened from now on",
            k.get()
        ),
    );
    ctx.store().set_k_threshold(admin.org.id, k, &entry).await?;
    Ok(k)
}

/// A tenth-precision number as people type it ("5.5") into tenths (55).
pub fn tenths(field: &'static str, raw: &str) -> Result<u32, Error> {
    let value: f64 = raw
        .trim()
        .parse()
        .map_err(|_| Error::invalid(field, "must be a number like 5.5"))?;
    if !(0.0..=10.0).contains(&value) {
        return Err(Error::invalid(field, "is out of range"));
    }
    Ok((value * 10.0).round() as u32)
}

/// Sets the recovery gate's settings for the organisation, within their bounds.
pub async fn set_gate(
    ctx: &Ctx,
    admin: &Actor,
    gate: kintsugi_core::gate::GateSettings,
) -> Result<(), Error> {
    let gate = gate.check()?;
    let detail = format!(
        "recovery gate: {} pulses, target up to {}.{}, {}% follow-through, {} weeks (+{} after deception)",
        gate.pulses_required,
        gate.target_cap_tenths / 10,
        gate.target_cap_tenths % 10,
        gate.follow_through_percent,
        gate.min_weeks,
        gate.deception_extra_weeks
    );
    let entry = audit(ctx, admin, "organisation.gate", &admin.org.name, detail);
    ctx.store()
        .set_gate_settings(admin.org.id, &gate, &entry)
        .await?;
    Ok(())
}
