//! Fuzz targets for bpfsign-gen (see `tests/README.md`, "Fuzzing"). Not published.

pub mod replay;
pub mod targets;
