//! Capping the target's saved stdout and stderr: a flood (measured: `yes` under --timeout 3s
//! wrote 1.8 GB) must not fill the disk, yet the start and the end of the output are what a
//! user reads. The target keeps writing to a plain file (no pipe in between, so its output is
//! not mistaken for IPC and costs no copy); a thread punches the middle out of the file while
//! it grows (a sparse hole, no disk used), and at the end the file is rewritten as the first
//! cap bytes, one line saying how much was left out, and the last cap bytes.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the sizes are checked: at 1 GB/s a file outgrows its cap by ~20 MB at most.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// One saved stream: where it is and a (write-only) handle to its file.
struct Stream {
    path: PathBuf,
    file: File,
}

/// The guard thread of one run.
pub struct OutputGuard {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Stream>>>,
    cap: u64,
}

impl OutputGuard {
    /// Starts guarding `files` (path and an open handle of each), keeping `cap` bytes of head
    /// and of tail.
    pub fn start(files: Vec<(PathBuf, File)>, cap: u64) -> io::Result<OutputGuard> {
        let streams: Vec<Stream> = files
            .into_iter()
            .map(|(path, file)| Stream { path, file })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("forkcast-output-cap".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    for s in &streams {
                        punch_middle(&s.file, cap);
                    }
                    std::thread::sleep(CHECK_EVERY);
                }
                streams
            })?;
        Ok(OutputGuard {
            stop,
            thread: Some(thread),
            cap,
        })
    }

    /// Stops the guard once nobody writes any more, compacts each capped file, and returns each
    /// stream's total size in bytes (None where it could not be read).
    pub fn finish(mut self) -> Vec<Option<u64>> {
        self.stop.store(true, Ordering::Relaxed);
        let Some(streams) = self.thread.take().and_then(|t| t.join().ok()) else {
            return Vec::new();
        };
        streams
            .iter()
            .map(|s| {
                let total = s.file.metadata().ok()?.len();
                if total > 2 * self.cap {
                    // A file we cannot compact stays sparse: it holds the same bytes, with zeros
                    // in the middle, and uses no more disk.
                    let _ = compact(s, total, self.cap);
                }
                Some(total)
            })
            .collect()
    }
}

impl Drop for OutputGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Frees the disk blocks between the head and the tail of a file that outgrew `2 * cap`.
fn punch_middle(file: &File, cap: u64) {
    let Ok(size) = file.metadata().map(|m| m.len()) else {
        return;
    };
    const BLOCK: u64 = 4096;
    let start = cap.div_ceil(BLOCK) * BLOCK;
    let end = (size.saturating_sub(cap) / BLOCK) * BLOCK;
    if end <= start {
        return;
    }
    // SAFETY: fallocate on a file we hold open; punching a hole only frees blocks in a range we
    // never keep (the target appends beyond `size`, and the tail we keep starts after `end`).
    unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            start as libc::off_t,
            (end - start) as libc::off_t,
        )
    };
}

/// Rewrites the file as head, a line naming what was left out, and tail.
fn compact(s: &Stream, total: u64, cap: u64) -> io::Result<()> {
    // The target's handle is write-only; read through a handle of our own.
    let file = File::open(&s.path)?;
    let mut head = vec![0u8; cap as usize];
    file.read_exact_at(&mut head, 0)?;
    let mut tail = vec![0u8; cap as usize];
    file.read_exact_at(&mut tail, total - cap)?;
    let tmp = s.path.with_extension("capped");
    let mut out = File::create(&tmp)?;
    out.write_all(&head)?;
    writeln!(
        out,
        "\n[forkcast: {} of {} bytes left out here: the first and the last {} bytes are kept \
         (--output-cap)]",
        total - 2 * cap,
        total,
        cap
    )?;
    out.write_all(&tail)?;
    std::fs::rename(&tmp, &s.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_keeps_its_head_and_tail_and_its_byte_count() {
        let dir = std::env::temp_dir().join(format!("forkcast-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.stdout");
        let mut writer = File::create(&path).unwrap();
        let guard =
            OutputGuard::start(vec![(path.clone(), writer.try_clone().unwrap())], 8192).unwrap();
        let line: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("line {i:04}\n").into_bytes())
            .collect();
        for _ in 0..200 {
            writer.write_all(&line).unwrap();
        }
        writer.write_all(b"the end\n").unwrap();
        let sizes = guard.finish();
        let expected = 200 * line.len() as u64 + 8;
        assert_eq!(sizes, vec![Some(expected)]);
        let saved = std::fs::read(&path).unwrap();
        assert!(saved.len() < 3 * 8192, "{} bytes kept", saved.len());
        assert!(saved.starts_with(b"line 0000\nline 0001\n"));
        assert!(saved.ends_with(b"line 0999\nthe end\n"));
        let text = String::from_utf8_lossy(&saved);
        assert!(text.contains(&format!(
            "{} of {expected} bytes left out",
            expected - 16384
        )));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
