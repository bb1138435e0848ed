//! End-to-end and CLI tests: one integration binary, one module per area.

mod cli;
mod faults;
mod ipc;
mod lab01;
mod labs;
mod offcpu;
mod probes;
mod report;
mod sampler;
mod support;
