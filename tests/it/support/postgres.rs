//! A private, throwaway PostgreSQL server per test: `initdb` into a fresh temp dir, listening
//! only on a unix socket in that dir (no TCP port to collide on), stopped and removed on Drop.

use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Names only the socket file (`<dir>/.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;

/// Where Debian and Ubuntu install the server binaries, one folder per major version.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

const MISSING: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found: install the \
    `postgresql` package (Debian/Ubuntu: apt-get install postgresql), or set FORKCAST_PG_BIN \
    to the folder that holds them";

/// A running private server. Dropping it stops the server (`-m immediate`) and removes its dir.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    owner: Option<Owner>,
}

/// The unprivileged account the server runs as when the tests run as root
/// (initdb and postgres refuse to run as root).
#[derive(Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

impl PrivatePostgres {
    /// initdb + `pg_ctl start -w`; panics with the command's output if either fails.
    pub fn start() -> PrivatePostgres {
        let bin = server_bin_dir().unwrap_or_else(|| panic!("{MISSING}"));
        let dir = fresh_dir();
        let owner = if is_root() {
            Some(unprivileged_owner())
        } else {
            None
        };
        if let Some(o) = owner {
            std::os::unix::fs::chown(&dir, Some(o.uid), Some(o.gid))
                .unwrap_or_else(|e| panic!("chown {} for the server: {e}", dir.display()));
        }
        // From here on, Drop cleans up even if a step below panics.
        let pg = PrivatePostgres { bin, dir, owner };
        let data = pg.data_dir();
        pg.run_checked(
            "initdb",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-U"),
                OsStr::new("postgres"),
                OsStr::new("--auth=trust"),
                OsStr::new("--no-sync"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--locale=C"),
            ],
        );
        let conf = format!(
            "\n# PrivatePostgres: unix socket only, in the test's own directory\n\
             listen_addresses = ''\nunix_socket_directories = '{}'\nport = {PORT}\n",
            pg.dir.display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf_path)
            .unwrap_or_else(|e| panic!("read {}: {e}", conf_path.display()));
        text.push_str(&conf);
        fs::write(&conf_path, text)
            .unwrap_or_else(|e| panic!("write {}: {e}", conf_path.display()));
        let log = pg.dir.join("server.log");
        pg.run_checked(
            "pg_ctl",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("start"),
            ],
        );
        pg
    }

    /// A libpq connection string for this server.
    pub fn dsn(&self) -> String {
        format!(
            "host={} port={PORT} user=postgres dbname=postgres",
            self.dir.display()
        )
    }

    /// The server's directory (socket, data/, server.log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs one SQL statement with psql and returns its unaligned, tuples-only output, trimmed.
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.dsn(),
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("run psql: {e}"));
        assert!(
            out.status.success(),
            "psql -c {sql:?} failed:\n{}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server binary as the server's owner, run from inside the server dir (the owner may
    /// not be allowed to look at the caller's working directory).
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.dir)
            .env("HOME", &self.dir)
            .env("LC_ALL", "C");
        if let Some(o) = self.owner {
            // std drops root's supplementary groups itself when it switches uid.
            cmd.uid(o.uid).gid(o.gid);
        }
        cmd
    }

    fn run_checked<I, S>(&self, program: &str, args: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        if !out.status.success() {
            let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            panic!("{program} failed:\n{}\nserver.log:\n{log}", describe(&out));
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let data = self.data_dir();
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `$FORKCAST_PG_BIN`, else the highest-version `/usr/lib/postgresql/*/bin`, else PATH.
fn server_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("FORKCAST_PG_BIN") {
        return Some(PathBuf::from(d)).filter(|d| has_tools(d));
    }
    let debian = fs::read_dir(DEBIAN_PG_LIB).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = version_key(&e.file_name().to_string_lossy())?;
                Some((version, e.path().join("bin")))
            })
            .filter(|(_, bin)| has_tools(bin))
            .max()
            .map(|(_, bin)| bin)
    });
    debian.or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).find(|d| has_tools(d)))
}

/// "15" -> [15], "9.6" -> [9, 6]; None for names that are not versions.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Short on purpose: a unix socket path must fit in 107 bytes.
    let name = format!(
        "fcpg-{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The `postgres` system account if there is one, else `nobody`.
fn unprivileged_owner() -> Owner {
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| lookup_user(name))
        .unwrap_or_else(|| panic!("running as root, but neither a `postgres` nor a `nobody` user exists to run the server as"))
}

fn lookup_user(name: &str) -> Option<Owner> {
    let cname = CString::new(name).ok()?;
    // SAFETY: passwd is plain old data; all-zero is a valid (empty) value to be filled in.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: every pointer is valid for the call, buf.len() is the buffer's real length, and
    // getpwnam_r (unlike getpwnam) uses only the memory we pass: safe from parallel tests.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some(Owner {
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// A finished command's status and output, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
