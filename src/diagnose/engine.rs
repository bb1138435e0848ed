//! The recommendation said in the terms of the engine that ran the tasks (joblib, Dask, Ray):
//! its own settings rather than multiprocessing's. Findings text only; the recommendation's
//! fields stay what the tree decided.

use super::verdict::{DataPassing, Model, Recommendation, SinkAdvice};
use crate::analyze::engines::Engine;
use crate::analyze::select::primary_points;
use crate::analyze::waits::SinkKind;
use crate::analyze::Analysis;
use crate::measure::{Measurements, Service};

/// One line per decided field that the engine has its own words for.
pub fn findings(m: &Measurements, a: &Analysis, rec: &Recommendation) -> Vec<String> {
    let points = primary_points(m, a);
    let probes = || points.iter().filter_map(|(_, p)| p.probes.as_ref());
    let Some(engine) = probes().find_map(|p| p.engine) else {
        return Vec::new();
    };
    let shared = probes()
        .filter_map(|p| p.shared_bytes)
        .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))));
    let per_task = points
        .last()
        .and_then(|(_, p)| p.probes.as_ref()?.ipc_bytes_per_task);
    let w = rec.workers.unwrap_or(1);
    let mut out = Vec::new();
    if let Some(model) = rec.model {
        out.push(model_line(engine, model, w));
    }
    if rec.data_passing == Some(DataPassing::ReferencesOrSharedMemory) {
        out.push(payload_line(engine, per_task));
    }
    if let Some(bytes) = shared {
        out.push(format!(
            "{} passed {} per run by reference through shared memory ({}): counted apart from \
             the bytes pickled or copied per task.",
            name(engine),
            mib(bytes),
            match engine {
                Engine::Joblib => "arrays over max_nbytes memory-mapped in /dev/shm",
                Engine::Ray => "ray.put into the object store in /dev/shm",
                Engine::Dask => "shared memory",
            }
        ));
    }
    if engine == Engine::Ray && rec.sink == Some(SinkAdvice::SingleWriter) {
        let top_sink = points
            .last()
            .and_then(|(_, p)| p.sinks.as_ref()?.first())
            .filter(|s| s.kind == SinkKind::Service(Service::RayActor));
        out.push(match top_sink {
            Some(actor) => format!(
                "In Ray's terms: the sink is an actor ({}), one process that runs its methods \
                 one at a time, and every task waited on each of its writes. Keep one actor, \
                 and make it batch: a method that takes many rows per call, called once per \
                 task with its rows (or by the driver as results come back), without a ray.get \
                 on each row.",
                actor.resource
            ),
            None => "In Ray's terms: give the sink to one actor that batches (it collects rows \
                     and writes many per call), and let tasks hand it rows without a ray.get on \
                     each write."
                .into(),
        });
    }
    out
}

fn name(engine: Engine) -> &'static str {
    match engine {
        Engine::Joblib => "joblib",
        Engine::Dask => "Dask",
        Engine::Ray => "Ray",
    }
}

fn model_line(engine: Engine, model: Model, w: u32) -> String {
    let threads = model != Model::Processes;
    match (engine, threads) {
        (Engine::Joblib, false) => format!(
            "In joblib's terms: Parallel(n_jobs={w}) on its default loky backend, a worker \
             process (and a GIL) per job."
        ),
        (Engine::Joblib, true) => format!(
            "In joblib's terms: Parallel(n_jobs={w}, prefer=\"threads\"): threads in this \
             process, with nothing pickled and no loky processes to start."
        ),
        (Engine::Dask, false) => format!(
            "In Dask's terms: LocalCluster(n_workers={w}, threads_per_worker=1), a worker \
             process (and a GIL) per task slot."
        ),
        (Engine::Dask, true) => format!(
            "In Dask's terms: LocalCluster(n_workers=1, threads_per_worker={w}): one worker \
             process whose threads share its memory."
        ),
        (Engine::Ray, false) => format!(
            "In Ray's terms: ray.init(num_cpus={w}), a worker process (and a GIL) per CPU, each \
             running one task at a time."
        ),
        (Engine::Ray, true) => format!(
            "In Ray's terms: ray.init(num_cpus={w}); the work leaves the GIL free, so one actor \
             with max_concurrency={w} could run it on threads of one process."
        ),
    }
}

fn payload_line(engine: Engine, per_task: Option<f64>) -> String {
    let moved = per_task
        .map(|b| format!(" ({} per task)", mib(b)))
        .unwrap_or_default();
    match engine {
        Engine::Joblib => format!(
            "In joblib's terms: each call's arguments were pickled{moved}; keep max_nbytes at \
             its default \"1M\" (or lower it) so large numpy arrays are memory-mapped into \
             /dev/shm once and every call carries a reference (max_nbytes=None turns that off)."
        ),
        Engine::Dask => format!(
            "In Dask's terms: each task carried its data{moved}; scatter large objects once \
             (client.scatter(obj, broadcast=True)) and pass the future to the tasks."
        ),
        Engine::Ray => format!(
            "In Ray's terms: a large argument passed by value is serialised into the object \
             store for every call{moved}; ray.put it once and pass the ObjectRef, which every \
             task reads in place."
        ),
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}
