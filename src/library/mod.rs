//! The media folders: scanning them into the catalog (probe with symphonia, incremental by
//! size and modification time, moves recognised by fingerprint), watching them, and their artwork.

pub mod artwork;
pub mod probe;
pub mod scan;
pub mod watch;

pub use scan::{Library, ScanFailure, ScanState, ScanStatus};
