//! Opaque, stable identifiers. Each entity has its own newtype so that a session id can never
//! be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not a valid identifier.
#[derive(Debug, thiserror::Error)]
#[error("not a valid id")]
pub struct IdParseError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        // Text formats (the API, JSON) get the same 32-hex-digit form as `Display`, so an id
        // reads the same in a response and in a URL; binary formats (the store) get it as one
        // 128-bit number.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(self.0.as_simple().encode_lower(&mut [0; 32]))
                } else {
                    s.serialize_u128(self.0.as_u128())
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    u128::deserialize(d).map(|n| Self(Uuid::from_u128(n)))
                }
            }
        }

        impl $name {
            /// A new id. Version 7 UUIDs are time-ordered, so new entities sort last in a tree.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Wraps an existing UUID (used when decoding keys).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_simple().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdParseError)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user account.
    UserId
);
uuid_id!(
    /// Identifies one login session (one device); refresh tokens rotate within it.
    SessionId
);
uuid_id!(
    /// Identifies a track. Kept when its file is renamed, moved or retagged.
    TrackId
);
uuid_id!(
    /// Identifies an album (album artist + album title).
    AlbumId
);
uuid_id!(
    /// Identifies an artist.
    ArtistId
);
uuid_id!(
    /// Identifies a playlist.
    PlaylistId
);
uuid_id!(
    /// Identifies one entry of a playlist: the same track may be in a playlist twice, and each
    /// entry is removed or moved by its own id.
    EntryId
);
uuid_id!(
    /// Identifies one recorded play.
    PlayId
);
uuid_id!(
    /// Identifies one app password (a player's credential for the Subsonic API).
    AppPasswordId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips_through_from_str() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        assert!("../../etc/passwd".parse::<UserId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
    }
}
