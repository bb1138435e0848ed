//! The probe times SQLite's write lock: a real `begin immediate` ... `commit` held ~50 ms by a
//! Python sqlite3 connection shows as a hold of about that long on the database folder's row.

#[allow(dead_code)]
#[path = "../src/abi.rs"]
mod abi;

use abi::{Header, LockCounter, Row, Slot, HEADER_SIZE, ROWS, SLOT_SIZE};
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.with_file_name("libforkcast_preload.so");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

const SCRIPT: &str = r#"
import fcntl, os, sqlite3, sys, time
path = os.path.join(sys.argv[1], "t.db")
db = sqlite3.connect(path, isolation_level=None)
db.execute("pragma journal_mode=wal")
db.execute("create table t (x integer)")
fcntl.fcntl(0, fcntl.F_GETFD)  # a non-lock fcntl passes through
db.execute("begin immediate")
db.execute("insert into t values (1)")
time.sleep(0.05)
db.execute("commit")
print(db.execute("select count(*) from t").fetchone()[0])
"#;

#[test]
fn a_sqlite_write_transaction_held_50_ms_shows_as_a_50_ms_hold() {
    let python = std::env::var("FORKCAST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = std::env::temp_dir().join(format!("forkcast-lock-{}", std::process::id()));
    let db_dir = dir.join("db");
    std::fs::create_dir_all(&db_dir).unwrap();
    let counters = dir.join("counters.bin");
    // A pyenv shim starts dozens of processes before the interpreter.
    let nslots = 256u32;
    let mut header = vec![0u8; HEADER_SIZE];
    header[..8].copy_from_slice(&abi::MAGIC);
    put_u32(&mut header, offset_of!(Header, version), abi::VERSION);
    put_u32(
        &mut header,
        offset_of!(Header, header_size),
        HEADER_SIZE as u32,
    );
    put_u32(&mut header, offset_of!(Header, slot_size), SLOT_SIZE as u32);
    put_u32(&mut header, offset_of!(Header, rows_per_slot), ROWS as u32);
    put_u32(&mut header, offset_of!(Header, nslots), nslots);
    header.resize(HEADER_SIZE + nslots as usize * SLOT_SIZE, 0);
    std::fs::write(&counters, &header).unwrap();

    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&db_dir)
        .env("LD_PRELOAD", built_library())
        .env(abi::ENV_OUT, &counters)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    let file = std::fs::read(&counters).unwrap();
    let claimed = u32_at(&file, offset_of!(Header, next_slot)).min(nslots) as usize;
    let (mut holds, mut held_ns) = (0u64, 0u64);
    let want = db_dir.canonicalize().unwrap();
    for i in 0..claimed {
        let slot = &file[HEADER_SIZE + i * SLOT_SIZE..][..SLOT_SIZE];
        for r in 0..ROWS {
            let row = &slot[offset_of!(Slot, rows) + r * size_of::<Row>()..][..size_of::<Row>()];
            let at = offset_of!(Row, lock);
            let h = u64_at(row, at + offset_of!(LockCounter, holds));
            if h == 0 {
                continue;
            }
            let len = u32_at(row, offset_of!(Row, peer_len)) as usize;
            let peer = String::from_utf8_lossy(&row[offset_of!(Row, peer)..][..len]).into_owned();
            assert_eq!(PathBuf::from(&peer), want, "a hold on another resource");
            holds += h;
            held_ns += u64_at(row, at + offset_of!(LockCounter, ns));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    // The journal-mode switch and `create table` take the lock briefly, the transaction once.
    assert!(holds >= 2, "holds {holds}");
    let held_ms = held_ns as f64 / 1e6;
    assert!(
        (50.0..120.0).contains(&held_ms),
        "held {held_ms:.1} ms in {holds} holds"
    );
}
