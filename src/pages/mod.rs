//! One file per page.

pub mod chapter1;
pub mod home;
pub mod runs;
