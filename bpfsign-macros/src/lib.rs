//! bpfsign-macros
