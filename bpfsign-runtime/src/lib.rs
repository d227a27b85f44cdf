//! bpfsign-runtime
