//! placeholder
pub mod names;
pub mod waypoint;
