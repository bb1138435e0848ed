//! The recommendation as a sentence and a few lines of code, in the terms of the pool API the
//! workload used (analyze/api.rs): its own calls and arguments, never another API's. Pure: the
//! exporters print the sentence (terminal) and the code (markdown, HTML).

use super::{DataPassing, Diagnosis, Model, Recommendation, Scheduling, SinkAdvice};
use crate::analyze::api::PoolApi;
use crate::analyze::Analysis;

/// The language a sketch is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Shell,
}

/// What to do, said for the API that ran the tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    pub api: PoolApi,
    pub sentence: String,
    /// A few lines for that API; None where the advice needs an API the workload did not use
    /// (e.g. processes for a workload that only ran a thread pool).
    pub code: Option<String>,
    pub lang: Lang,
}

/// The sketch for a diagnosis; None when no pool API or task tool was seen, or nothing was
/// recommended.
pub fn sketch(a: &Analysis, d: &Diagnosis) -> Option<Sketch> {
    let rec = &d.recommendation;
    let model = rec.model?;
    let api = chosen_api(a, model)?;
    let fits = api.runs_processes() == (model == Model::Processes) || api.runs_threads_too();
    let lang = if api.is_shell() {
        Lang::Shell
    } else {
        Lang::Python
    };
    if !fits {
        let (want, have) = if model == Model::Processes {
            ("processes", "threads")
        } else {
            ("threads", "processes")
        };
        return Some(Sketch {
            api,
            sentence: format!(
                "Run the tasks in {want} rather than {}'s {have}: {}.",
                api.name(),
                if model == Model::Processes {
                    "its threads serialised (threads_scale)"
                } else {
                    "the work waits more than it computes, or threads scaled as well (cpu_bound, \
                     threads_scale)"
                }
            ),
            code: None,
            lang,
        });
    }
    Some(Sketch {
        api,
        sentence: sentence(api, rec),
        code: code(api, rec),
        lang,
    })
}

/// The API whose workers match the model (processes or threads), preferring the order of
/// [`PoolApi`] (pools before hand-started processes before task tools).
fn chosen_api(a: &Analysis, model: Model) -> Option<PoolApi> {
    let mut used: Vec<PoolApi> = a
        .points
        .iter()
        .flat_map(|p| p.apis.iter().copied())
        .collect();
    used.sort();
    used.dedup();
    let processes = model == Model::Processes;
    used.iter()
        .copied()
        .find(|api| api.runs_processes() == processes)
        .or_else(|| used.first().copied())
}

fn workers_words(rec: &Recommendation) -> String {
    match rec.workers {
        Some(1) => "1 worker".into(),
        Some(n) => format!("{n} workers"),
        None => "the worker count you measure best (worker_count was not decided)".into(),
    }
}

fn sentence(api: PoolApi, rec: &Recommendation) -> String {
    let lead = if api == PoolApi::ShellJobs {
        format!(
            "Keep {} running at once",
            rec.workers
                .map_or("the measured best count of tasks".into(), |n| format!(
                    "{n} tasks"
                ))
        )
    } else {
        format!("Use {} with {}", api.name(), workers_words(rec))
    };
    let mut parts = vec![lead];
    if let Some(m) = rec.start_method.filter(|_| starts_processes(api)) {
        parts.push(format!("started by {}", m.name()));
    }
    match (rec.scheduling, api) {
        (Some(_), PoolApi::Make | PoolApi::ShellJobs) => {}
        (Some(Scheduling::DynamicSmallTasks), PoolApi::Xargs) => {
            parts.push("one argument per task (-n 1), so a free slot takes the next".into())
        }
        (Some(Scheduling::DynamicSmallTasks), _) => {
            parts.push("handing out small tasks one at a time".into())
        }
        (Some(Scheduling::Chunked), PoolApi::Xargs) => {
            parts.push("several arguments per task (-n) to start fewer processes".into())
        }
        (Some(Scheduling::Chunked), _) => parts.push("in chunks of several tasks".into()),
        (None, _) => {}
    }
    let mut s = parts.join(", ");
    if rec.data_passing == Some(DataPassing::ReferencesOrSharedMemory) {
        s.push_str("; pass names and offsets of data kept in shared memory, not the data");
    }
    match rec.sink {
        Some(SinkAdvice::SingleWriter) if api.is_shell() => s.push_str(
            "; let each task write its own file and load them all in one transaction at the end",
        ),
        Some(SinkAdvice::SingleWriter) if api == PoolApi::Ray => s.push_str(
            "; give the sink one actor that takes many rows per call, and no ray.get per row",
        ),
        Some(SinkAdvice::SingleWriter) => {
            s.push_str("; give the sink one writer behind a bounded queue, committing in batches")
        }
        Some(SinkAdvice::Direct) => s.push_str("; each worker may write to the sink, in batches"),
        _ => {}
    }
    if api == PoolApi::ShellJobs && rec.scheduling == Some(Scheduling::DynamicSmallTasks) {
        s.push_str("; start the next task as soon as any one ends, not after the whole batch");
    }
    s.push('.');
    s
}

/// APIs whose start method the user chooses.
fn starts_processes(api: PoolApi) -> bool {
    matches!(
        api,
        PoolApi::MultiprocessingPool
            | PoolApi::ProcessPoolExecutor
            | PoolApi::MultiprocessingProcess
    )
}

fn workers_literal(rec: &Recommendation) -> String {
    rec.workers.map_or_else(
        || "N  # worker_count was not decided".into(),
        |n| n.to_string(),
    )
}

fn code(api: PoolApi, rec: &Recommendation) -> Option<String> {
    let w = workers_literal(rec);
    let small = rec.scheduling != Some(Scheduling::Chunked);
    let shm = rec.data_passing == Some(DataPassing::ReferencesOrSharedMemory);
    let writer = rec.sink == Some(SinkAdvice::SingleWriter);
    let ctx = rec.start_method.map_or_else(
        || "ctx = mp.get_context()".to_string(),
        |m| format!("ctx = mp.get_context(\"{}\")", m.name()),
    );
    let mut lines: Vec<String> = Vec::new();
    let mut push = |s: &str| lines.push(s.to_string());
    match api {
        PoolApi::MultiprocessingPool | PoolApi::ProcessPoolExecutor => {
            push("import multiprocessing as mp");
            if api == PoolApi::ProcessPoolExecutor {
                push("from concurrent.futures import ProcessPoolExecutor");
            }
            if shm {
                push("from multiprocessing import shared_memory");
            }
            push("");
            push(&format!("workers = {w}"));
            push(&ctx);
            if shm {
                shared_memory_lines(&mut push);
            }
            if writer {
                push("queue = ctx.Queue(maxsize=4 * workers)  # bounded: workers wait, not memory");
                push("writer = ctx.Process(target=write_in_batches, args=(queue,))");
                push("writer.start()");
            }
            let chunk = if small {
                "chunksize=1"
            } else {
                "chunksize=max(1, len(items) // (4 * workers))"
            };
            if api == PoolApi::MultiprocessingPool {
                push("with ctx.Pool(processes=workers) as pool:");
                if small {
                    push(&format!(
                        "    for result in pool.imap_unordered(work, items, {chunk}):"
                    ));
                } else {
                    push(&format!(
                        "    for result in pool.imap(work, items, {chunk}):"
                    ));
                }
            } else {
                push("with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:");
                push(&format!("    for result in ex.map(work, items, {chunk}):"));
            }
            push(if writer {
                "        queue.put(result)"
            } else {
                "        handle(result)"
            });
            if writer {
                writer_tail(&mut push, "queue.put(None)", "writer.join()");
            }
        }
        PoolApi::MultiprocessingProcess => {
            push("import multiprocessing as mp");
            push("");
            push(&format!("workers = {w}"));
            push(&ctx);
            push("tasks = ctx.Queue()");
            push("for item in items:");
            push("    tasks.put(item)");
            if writer {
                push("queue = ctx.Queue(maxsize=4 * workers)  # bounded: workers wait, not memory");
                push("writer = ctx.Process(target=write_in_batches, args=(queue,))");
                push("writer.start()");
            }
            push("procs = [ctx.Process(target=worker, args=(tasks,)) for _ in range(workers)]");
            push("for p in procs:");
            push("    tasks.put(None)  # one stop per worker");
            push("    p.start()");
            push("for p in procs:");
            push("    p.join()");
            if writer {
                writer_tail(&mut push, "queue.put(None)", "writer.join()");
            }
        }
        PoolApi::ThreadPool | PoolApi::ThreadPoolExecutor => {
            if api == PoolApi::ThreadPool {
                push("from multiprocessing.pool import ThreadPool");
            } else {
                push("from concurrent.futures import ThreadPoolExecutor");
            }
            if writer {
                push("import queue");
                push("import threading");
            }
            push("");
            push(&format!("workers = {w}"));
            if writer {
                push("results = queue.Queue(maxsize=4 * workers)  # bounded");
                push("writer = threading.Thread(target=write_in_batches, args=(results,))");
                push("writer.start()");
            }
            if api == PoolApi::ThreadPool {
                push("with ThreadPool(workers) as pool:");
                push(if small {
                    "    for result in pool.imap_unordered(work, items, chunksize=1):"
                } else {
                    "    for result in pool.imap(work, items, chunksize=max(1, len(items) // (4 * workers))):"
                });
            } else {
                push("with ThreadPoolExecutor(max_workers=workers) as ex:");
                push("    for result in ex.map(work, items):");
            }
            push(if writer {
                "        results.put(result)"
            } else {
                "        handle(result)"
            });
            if writer {
                writer_tail(&mut push, "results.put(None)", "writer.join()");
            }
        }
        PoolApi::Joblib => {
            push("from joblib import Parallel, delayed");
            push("");
            push(&format!(
                "results = Parallel(n_jobs={w_}{t}, batch_size={b})(delayed(work)(x) for x in items)",
                w_ = rec.workers.map_or("-1".to_string(), |n| n.to_string()),
                t = if rec.model == Some(Model::Threads) { ", prefer=\"threads\"" } else { "" },
                b = if small { "1" } else { "\"auto\"" }
            ));
        }
        PoolApi::Dask => {
            push("from dask.distributed import Client");
            push("");
            let n = rec.workers.map_or("None".to_string(), |n| n.to_string());
            push(&if rec.model == Some(Model::Threads) {
                format!("client = Client(n_workers=1, threads_per_worker={n})")
            } else {
                format!("client = Client(n_workers={n}, threads_per_worker=1)")
            });
            if shm {
                push("data = client.scatter(data, broadcast=True)  # sent once, not per task");
            }
            push("results = client.gather(client.map(work, items))");
        }
        PoolApi::Ray => {
            push("import ray");
            push("");
            push(&format!(
                "ray.init(num_cpus={})",
                rec.workers.map_or("None".to_string(), |n| n.to_string())
            ));
            if shm {
                push("ref = ray.put(data)  # into the object store once, not per task");
            }
            let call = if shm {
                "work.remote(ref, x)"
            } else {
                "work.remote(x)"
            };
            if writer {
                ray_writer_lines(&mut push, call);
            } else {
                push(&format!("results = ray.get([{call} for x in items])"));
            }
        }
        PoolApi::Make => {
            let n = rec.workers.map_or("N".to_string(), |n| n.to_string());
            push(&format!("make -j {n}"));
            if writer {
                push("# each recipe writes its own file; one last rule loads them all at once");
            }
        }
        PoolApi::Xargs => {
            let n = rec.workers.map_or("N".to_string(), |n| n.to_string());
            let per = if small { "-n 1" } else { "-n 8" };
            if writer {
                push("mkdir -p rows");
                push(&format!(
                    "xargs -P {n} -n 1 sh -c 'task \"$1\" > rows/\"$1\"' _ < items.txt"
                ));
                push("cat rows/* | load_in_one_transaction  # one writer, one commit");
            } else {
                push(&format!("xargs -P {n} {per} task < items.txt"));
            }
        }
        PoolApi::ShellJobs => return None,
    }
    Some(lines.join("\n") + "\n")
}

/// One actor for the sink, fed a batch of the tasks' rows per call: its methods run one at a
/// time, so a call per row queues every task on it.
fn ray_writer_lines(push: &mut impl FnMut(&str), call: &str) {
    push("");
    push("@ray.remote");
    push("class Writer:  # one actor, one process: its methods run one at a time");
    push("    def write_batch(self, rows):");
    push("        commit(rows)  # many rows per call, one commit");
    push("");
    push("writer = Writer.options(num_cpus=0).remote()");
    push(&format!(
        "refs = [{call} for x in items]  # tasks return their rows, no ray.get inside"
    ));
    push("writes = []");
    push("while refs:");
    push("    done, refs = ray.wait(refs, num_returns=min(len(refs), 8))");
    push("    writes.append(writer.write_batch.remote(ray.get(done)))  # one call per batch");
    push("ray.get(writes)");
}

fn shared_memory_lines(push: &mut impl FnMut(&str)) {
    push("shm = shared_memory.SharedMemory(create=True, size=len(payload))");
    push("shm.buf[:len(payload)] = payload  # once; tasks get (shm.name, offset, length)");
    push("items = [(shm.name, offset, length) for offset, length in slices]");
}

fn writer_tail(push: &mut impl FnMut(&str), stop: &str, join: &str) {
    push(stop);
    push(join);
    push("");
    push("def write_in_batches(queue, batch=500):");
    push("    rows = []");
    push("    while (row := queue.get()) is not None:");
    push("        rows.append(row)");
    push("        if len(rows) >= batch:");
    push("            commit(rows)  # many rows per statement, one commit");
    push("            rows.clear()");
    push("    commit(rows)");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::StartMethod;

    fn rec(model: Model) -> Recommendation {
        Recommendation {
            model: Some(model),
            workers: Some(2),
            scheduling: Some(Scheduling::DynamicSmallTasks),
            start_method: Some(StartMethod::Forkserver),
            ..Recommendation::default()
        }
    }

    #[test]
    fn a_pool_gets_its_own_calls_with_the_recommended_fields() {
        let r = rec(Model::Processes);
        let pool = code(PoolApi::MultiprocessingPool, &r).unwrap();
        assert!(
            pool.contains("pool.imap_unordered(work, items, chunksize=1)"),
            "{pool}"
        );
        assert!(pool.contains("mp.get_context(\"forkserver\")"), "{pool}");
        assert!(!pool.contains("Executor"), "{pool}");
        let ppe = code(PoolApi::ProcessPoolExecutor, &r).unwrap();
        assert!(
            ppe.contains("ProcessPoolExecutor(max_workers=workers, mp_context=ctx)"),
            "{ppe}"
        );
        assert!(!ppe.contains("Pool("), "{ppe}");
    }

    #[test]
    fn a_ray_sink_gets_one_actor_fed_in_batches() {
        let r = Recommendation {
            sink: Some(SinkAdvice::SingleWriter),
            scheduling: Some(Scheduling::Chunked),
            start_method: None,
            ..rec(Model::Processes)
        };
        let code = code(PoolApi::Ray, &r).unwrap();
        assert!(code.contains("ray.init(num_cpus=2)"), "{code}");
        assert!(
            code.contains("writer.write_batch.remote(ray.get(done))"),
            "{code}"
        );
        assert!(!code.contains("Queue"), "Ray's own terms only: {code}");
        let s = sentence(PoolApi::Ray, &r);
        assert!(s.contains("one actor"), "{s}");
    }

    #[test]
    fn xargs_gets_one_argument_per_task_when_tasks_vary() {
        let r = rec(Model::Processes);
        assert_eq!(
            code(PoolApi::Xargs, &r).unwrap(),
            "xargs -P 2 -n 1 task < items.txt\n"
        );
        let s = sentence(PoolApi::Xargs, &r);
        assert!(s.contains("-n 1") && !s.contains("forkserver"), "{s}");
    }
}
