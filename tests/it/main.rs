//! End-to-end and CLI tests: one integration binary, one module per area.

mod probes;
mod support;
