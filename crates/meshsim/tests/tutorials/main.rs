//! The tutorials, end to end, each in its own simulated world. One test binary so that the three
//! worlds run side by side (cargo runs test binaries one after another).

#[path = "../common/mod.rs"]
mod common;

mod cross_model;
mod seed_tutorial;
mod single_model;
