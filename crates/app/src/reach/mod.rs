//! What reaches people and systems outside Kintsugi: the job queue that carries it, email,
//! webhooks, and the SSRF guard in front of every address an admin types in. Knows no
//! feature: features hand it mail, deliveries and jobs.

pub mod email;
pub mod jobs;
pub mod ssrf;
pub mod webhooks;
