//! Who may do what. The web layer asks these questions; it does not answer them itself.

use serde::{Deserialize, Serialize};

/// The roles a person holds besides being a member. A person can hold several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub admin: bool,
    pub facilitator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {needed} role")]
pub struct Forbidden {
    pub needed: &'static str,
}

impl Roles {
    pub const ADMIN: Roles = Roles {
        admin: true,
        facilitator: false,
    };

    /// Admin work: teams, people, roles and settings. Never confidential input.
    pub fn require_admin(self) -> Result<(), Forbidden> {
        if self.admin {
            Ok(())
        } else {
            Err(Forbidden { needed: "admin" })
        }
    }

    /// The organisation dashboard: aggregates for the people who run repairs or the install.
    pub fn require_dashboard(self) -> Result<(), Forbidden> {
        if self.admin || self.facilitator {
            Ok(())
        } else {
            Err(Forbidden {
                needed: "admin or facilitator",
            })
        }
    }

    /// Names for display, most powerful first.
    pub fn labels(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.admin {
            out.push("admin");
        }
        if self.facilitator {
            out.push("facilitator");
        }
        out.push("member");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_do_admin_work() {
        let table = [
            (Roles::default(), false),
            (
                Roles {
                    admin: false,
                    facilitator: true,
                },
                false,
            ),
            (Roles::ADMIN, true),
            (
                Roles {
                    admin: true,
                    facilitator: true,
                },
                true,
            ),
        ];
        for (roles, allowed) in table {
            assert_eq!(roles.require_admin().is_ok(), allowed, "{roles:?}");
        }
    }

    #[test]
    fn admins_and_facilitators_see_the_dashboard() {
        for (admin, facilitator, allowed) in [
            (false, false, false),
            (false, true, true),
            (true, false, true),
            (true, true, true),
        ] {
            let roles = Roles { admin, facilitator };
            assert_eq!(roles.require_dashboard().is_ok(), allowed, "{roles:?}");
        }
        assert_eq!(
            Roles::default()
                .require_dashboard()
                .unwrap_err()
                .to_string(),
            "this needs the admin or facilitator role"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(Roles::default().labels(), ["member"]);
        assert_eq!(
            Roles {
                admin: true,
                facilitator: true
            }
            .labels(),
            ["admin", "facilitator", "member"]
        );
    }
}
