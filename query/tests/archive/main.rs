//! The archive's tests in one binary: the verifier against every kind of
//! tampering (mutations), inclusion proofs, and verification end to end.

#[path = "../support/mod.rs"]
mod support;

mod mutations;
mod proof;
mod reports;
mod verify;
