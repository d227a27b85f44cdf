//! Kernel-facing integration tests (see tests/README.md).
