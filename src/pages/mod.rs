//! One file per page.

pub mod bench;
pub mod chapter1;
pub mod home;
pub mod runs;
