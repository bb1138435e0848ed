//! End-to-end and CLI tests: one integration binary, one module per area.

mod cli;
mod ipc;
mod lab01;
mod labs;
mod offcpu;
mod probes;
mod sampler;
mod shapes;
mod support;
