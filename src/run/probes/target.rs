//! What kind of program the target is, for `--probes auto`: dynamically linked (LD_PRELOAD can
//! reach it) and/or CPython (the sitecustomize probe can).

use crate::run::spawn::resolve_program;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

/// True when the program runs with another user's or group's rights (set-user-ID or
/// set-group-ID). Such a target is not probed: the loader drops LD_PRELOAD for it, and forkcast
/// will not hand a privileged program files and code it chose.
pub fn target_is_setuid(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o6000 != 0)
}

/// True when the program has an ELF program interpreter (PT_INTERP), i.e. the dynamic loader
/// runs and honours LD_PRELOAD. A `#!` script counts as its interpreter. Unreadable: false.
pub fn target_is_dynamic(path: &Path) -> bool {
    is_dynamic(path, 0)
}

fn is_dynamic(path: &Path, depth: u32) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = vec![0u8; 256];
    let Ok(n) = read_up_to(&mut f, &mut head) else {
        return false;
    };
    head.truncate(n);
    if head.starts_with(b"#!") {
        return depth < 4 && shebang_interpreter(&head).is_some_and(|i| is_dynamic(&i, depth + 1));
    }
    elf_has_interp(&mut f, &head).unwrap_or(false)
}

/// True when `program` (a name or a path) is a Python interpreter by name (`python`, `python3`,
/// `python3.11`, ...) or a script whose `#!` line names one.
pub fn looks_like_python(program: &Path) -> bool {
    let name = program.file_name().and_then(OsStr::to_str).unwrap_or("");
    if is_python_name(name) {
        return true;
    }
    let Some(resolved) = program.to_str().and_then(resolve_program) else {
        return false;
    };
    let mut head = vec![0u8; 256];
    let n = std::fs::File::open(&resolved)
        .and_then(|mut f| read_up_to(&mut f, &mut head))
        .unwrap_or(0);
    head.truncate(n);
    if !head.starts_with(b"#!") {
        return false;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    String::from_utf8_lossy(line)
        .split_whitespace()
        .filter_map(|w| Path::new(w).file_name()?.to_str().map(str::to_owned))
        .any(|w| is_python_name(&w))
}

/// `python`, `python3`, `python3.11`, `python3.13t`, `python3-dbg`...
fn is_python_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("python") else {
        return false;
    };
    rest.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'd' | 't' | 'm' | '-' | 'g' | 'b'))
}

/// The interpreter path of a `#!` line (`/usr/bin/env` for `#!/usr/bin/env python3`).
fn shebang_interpreter(head: &[u8]) -> Option<PathBuf> {
    let line = head[2..].split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    line.split_whitespace().next().map(PathBuf::from)
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Parses the ELF header in `head` and scans the program headers for PT_INTERP.
fn elf_has_interp(f: &mut std::fs::File, head: &[u8]) -> Option<bool> {
    use std::os::unix::fs::FileExt;
    const PT_INTERP: u32 = 3;
    if head.len() < 52 || &head[..4] != b"\x7fELF" {
        return Some(false);
    }
    let big = head[5] == 2;
    let rd = |b: &[u8], at: usize, n: usize| -> Option<u64> {
        let s = b.get(at..at + n)?;
        let mut v = 0u64;
        for i in 0..n {
            let byte = if big { s[i] } else { s[n - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = match head[4] {
        1 => (rd(head, 0x1c, 4)?, rd(head, 0x2a, 2)?, rd(head, 0x2c, 2)?),
        2 => (rd(head, 0x20, 8)?, rd(head, 0x36, 2)?, rd(head, 0x38, 2)?),
        _ => return Some(false),
    };
    if phentsize < 4 || phnum > 4096 {
        return Some(false);
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    f.read_exact_at(&mut table, phoff).ok()?;
    Some(
        table
            .chunks_exact(phentsize as usize)
            .any(|ph| rd(ph, 0, 4) == Some(u64::from(PT_INTERP))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names() {
        for n in [
            "python",
            "python3",
            "python3.11",
            "python3.13t",
            "python3-dbg",
        ] {
            assert!(is_python_name(n), "{n}");
        }
        for n in ["pythonista", "ipython", "bash", "py"] {
            assert!(!is_python_name(n), "{n}");
        }
        assert!(looks_like_python(Path::new("/usr/bin/python3.11")));
    }

    #[test]
    fn the_shell_is_dynamic_and_a_missing_file_is_not() {
        assert!(target_is_dynamic(&resolve_program("sh").unwrap()));
        assert!(!target_is_dynamic(Path::new("/nonexistent/x")));
    }

    /// A 64-bit little-endian ELF header with one program header of type `p_type`.
    fn tiny_elf(p_type: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little-endian
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        b[64..68].copy_from_slice(&p_type.to_le_bytes());
        b
    }

    #[test]
    fn only_an_elf_with_pt_interp_is_dynamic() {
        let dir = std::env::temp_dir().join(format!("forkcast-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (stat, dynamic) = (dir.join("static"), dir.join("dynamic"));
        std::fs::write(&stat, tiny_elf(1)).unwrap(); // PT_LOAD only
        std::fs::write(&dynamic, tiny_elf(3)).unwrap(); // PT_INTERP
        assert!(!target_is_dynamic(&stat));
        assert!(target_is_dynamic(&dynamic));
        let script = dir.join("script");
        std::fs::write(&script, format!("#!{}\n", dynamic.display())).unwrap();
        assert!(target_is_dynamic(&script));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
