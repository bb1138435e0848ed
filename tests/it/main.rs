//! End-to-end and CLI tests: one integration binary, one module per area.

mod bad_input;
mod cli;
mod cluster;
mod degraded;
mod engines;
mod faults;
mod install;
mod ipc;
mod lab01;
mod labs;
mod layers;
mod offcpu;
mod predictions;
mod probes;
mod properties;
mod recordings;
mod report;
mod rounds;
mod sampler;
mod secrets;
mod shapes;
mod sketches;
mod support;
mod switches;
mod verdicts;
mod visuals;
