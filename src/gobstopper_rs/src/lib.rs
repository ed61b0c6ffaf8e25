//! gobstopper_rs: native route matching and static-file resolution for Gobstopper.
//!
//! The pure-Rust parts (`pattern`, `router`, `statics`) build and test without Python; the `python` feature
//! (turned on by maturin) adds the bindings in `py`.

pub mod pattern;
pub mod router;
pub mod statics;

#[cfg(feature = "python")]
mod py;
