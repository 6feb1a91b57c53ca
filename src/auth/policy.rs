//! The one place that answers "may this user do this to that". Each rule is DESIGN.md's
//! permissions table; each forbidden case has a test below.

use crate::domain::{Role, SessionId, UserId};
use crate::error::{AuthFailure, Error, Result};

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// Who.
    pub user_id: UserId,
    /// Through which session (logout and password change act on it).
    pub session_id: SessionId,
    /// Their role, read from the account on every request so a role change applies at once.
    pub role: Role,
}

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Browse, search and stream the catalog.
    Browse,
    /// Playlists, follows, likes, saves, ratings and history: the caller's own social data.
    UseSocial,
    /// Edit one's own account (profile, password, sessions).
    EditOwnAccount,
    /// Upload tracks and albums, and keep an artist profile.
    Upload,
    /// Edit or delete content owned by `owner` (tracks, albums, artist profiles and playlists).
    ManageContent {
        /// The account that owns the content; `None` for tag-derived content with no owner.
        owner: Option<UserId>,
    },
    /// See play statistics of content owned by `owner`.
    ViewStats {
        /// The account that owns the content.
        owner: Option<UserId>,
    },
    /// Manage users, roles, library folders, moderation and the server.
    Administer,
}

/// Server-wide settings the rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `access.public`: anonymous users may browse and stream.
    pub public_access: bool,
}

impl Policy {
    /// `Ok` when `actor` may do `action`. Anonymous callers denied anything get 401 (signing
    /// in may help); signed-in callers get 403.
    pub fn check(&self, actor: Option<&Actor>, action: Action) -> Result<()> {
        let Some(actor) = actor else {
            return match action {
                Action::Browse if self.public_access => Ok(()),
                _ => Err(Error::Unauthenticated(AuthFailure::Missing)),
            };
        };
        let is_admin = actor.role == Role::Admin;
        let allowed = match action {
            Action::Browse | Action::UseSocial | Action::EditOwnAccount => true,
            Action::Upload => matches!(actor.role, Role::Artist | Role::Admin),
            Action::ManageContent { owner } | Action::ViewStats { owner } => {
                is_admin || (actor.role == Role::Artist && owner == Some(actor.user_id))
            }
            Action::Administer => is_admin,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden(match action {
                Action::Upload => "only artists may upload music".to_owned(),
                Action::ManageContent { .. } => "you may only change your own content".to_owned(),
                Action::ViewStats { .. } => {
                    "you may only see statistics of your own content".to_owned()
                }
                Action::Administer => "this requires the admin role".to_owned(),
                Action::Browse | Action::UseSocial | Action::EditOwnAccount => {
                    "not allowed".to_owned()
                }
            }))
        }
    }
}

impl Policy {
    /// `Ok` when `actor` may see statistics of content owned by any of `owners` (a track can
    /// credit several artists, each with their own account). Admins see everything; artists
    /// what one of their profiles is credited on; others nothing.
    pub fn check_stats(&self, actor: Option<&Actor>, owners: &[UserId]) -> Result<()> {
        let mut last = self.check(actor, Action::ViewStats { owner: None });
        for owner in owners {
            if last.is_ok() {
                break;
            }
            last = self.check(
                actor,
                Action::ViewStats {
                    owner: Some(*owner),
                },
            );
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: Policy = Policy {
        public_access: false,
    };
    const PUBLIC: Policy = Policy {
        public_access: true,
    };

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: UserId::new(),
            session_id: SessionId::new(),
            role,
        }
    }

    fn is_401(r: Result<()>) -> bool {
        matches!(r, Err(Error::Unauthenticated(AuthFailure::Missing)))
    }

    fn is_403(r: Result<()>) -> bool {
        matches!(r, Err(Error::Forbidden(_)))
    }

    #[test]
    fn anonymous_browses_only_when_public() {
        assert!(is_401(PRIVATE.check(None, Action::Browse)));
        assert!(PUBLIC.check(None, Action::Browse).is_ok());
    }

    #[test]
    fn anonymous_can_do_nothing_else() {
        for action in [
            Action::UseSocial,
            Action::EditOwnAccount,
            Action::Upload,
            Action::ManageContent { owner: None },
            Action::ViewStats { owner: None },
            Action::Administer,
        ] {
            assert!(is_401(PUBLIC.check(None, action)), "{action:?}");
        }
    }

    #[test]
    fn listener_may_not_upload_manage_see_stats_or_administer() {
        let l = actor(Role::Listener);
        assert!(PRIVATE.check(Some(&l), Action::Browse).is_ok());
        assert!(PRIVATE.check(Some(&l), Action::UseSocial).is_ok());
        assert!(is_403(PRIVATE.check(Some(&l), Action::Upload)));
        let own = Some(l.user_id);
        assert!(is_403(
            PRIVATE.check(Some(&l), Action::ManageContent { owner: own })
        ));
        assert!(is_403(
            PRIVATE.check(Some(&l), Action::ViewStats { owner: own })
        ));
        assert!(is_403(PRIVATE.check(Some(&l), Action::Administer)));
    }

    #[test]
    fn artist_manages_and_sees_only_own_content() {
        let a = actor(Role::Artist);
        let other = Some(UserId::new());
        assert!(PRIVATE.check(Some(&a), Action::Upload).is_ok());
        assert!(PRIVATE
            .check(
                Some(&a),
                Action::ManageContent {
                    owner: Some(a.user_id)
                }
            )
            .is_ok());
        assert!(is_403(
            PRIVATE.check(Some(&a), Action::ManageContent { owner: other })
        ));
        assert!(is_403(
            PRIVATE.check(Some(&a), Action::ManageContent { owner: None })
        ));
        assert!(PRIVATE
            .check(
                Some(&a),
                Action::ViewStats {
                    owner: Some(a.user_id)
                }
            )
            .is_ok());
        assert!(is_403(
            PRIVATE.check(Some(&a), Action::ViewStats { owner: other })
        ));
        assert!(is_403(PRIVATE.check(Some(&a), Action::Administer)));
    }

    #[test]
    fn stats_are_for_owners_among_the_credited_and_admins() {
        let a = actor(Role::Artist);
        let l = actor(Role::Listener);
        let other = UserId::new();
        assert!(PRIVATE.check_stats(Some(&a), &[other, a.user_id]).is_ok());
        assert!(is_403(PRIVATE.check_stats(Some(&a), &[other])));
        assert!(is_403(PRIVATE.check_stats(Some(&a), &[])));
        assert!(is_403(PRIVATE.check_stats(Some(&l), &[l.user_id])));
        assert!(is_401(PUBLIC.check_stats(None, &[other])));
        assert!(PRIVATE.check_stats(Some(&actor(Role::Admin)), &[]).is_ok());
    }

    #[test]
    fn admin_may_do_everything() {
        let a = actor(Role::Admin);
        for action in [
            Action::Browse,
            Action::UseSocial,
            Action::Upload,
            Action::ManageContent {
                owner: Some(UserId::new()),
            },
            Action::ManageContent { owner: None },
            Action::ViewStats { owner: None },
            Action::Administer,
        ] {
            assert!(PRIVATE.check(Some(&a), action).is_ok(), "{action:?}");
        }
    }
}
