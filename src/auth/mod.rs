//! Credentials and permissions: password hashing, access and refresh tokens, the server's
//! signing secret, stream tokens for URLs, login throttling, checks remembered until a deadline
//! and the policy that says who may do what.

pub mod password;
pub mod policy;
pub mod remembered;
pub mod secret;
pub mod stream_token;
pub mod throttle;
pub mod tokens;

pub use policy::{Action, Actor};
