//! Samples a command's tree and prints the SamplerData as JSON (a debugging aid).
//!
//!     cargo run --example sampler_dump -- SECONDS CMD [ARGS...]

use forkcast::run::sampler::{self, SamplerConfig};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("SECONDS CMD [ARGS...]");
    let cmd: Vec<String> = args.collect();
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .spawn()
        .expect("spawn");
    let h = sampler::start(child.id() as i32, Instant::now(), SamplerConfig::default()).unwrap();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let data = h.finish();
    let _ = child.kill();
    let _ = child.wait();
    println!("{}", serde_json::to_string_pretty(&data).unwrap());
}
