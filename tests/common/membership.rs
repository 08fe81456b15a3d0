//! Mesh membership harness (filled in the next step).
