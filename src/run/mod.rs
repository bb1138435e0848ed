//! Running the target and the collectors that watch it (platform code lives here, at the edge).

pub mod sampler;
