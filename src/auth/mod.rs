//! Credentials and permissions: password hashing, access and refresh tokens, the server's
//! signing secret, login throttling and the policy that says who may do what.

pub mod password;
pub mod policy;
pub mod secret;
pub mod throttle;
pub mod tokens;

pub use policy::{Action, Actor};
