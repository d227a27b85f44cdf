//! bpfsign-build
