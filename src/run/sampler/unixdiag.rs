//! Unix-socket lookups through NETLINK_SOCK_DIAG (unix_diag): for one socket inode, its bound
//! path and its peer's inode. /proc/net/unix has paths but no peers; the peer is what names a
//! client's connection (an accepted server-side socket carries the listener's path).
//!
//! Messages are built and parsed here as plain bytes; the socket calls are in `sys`.

use super::sys::SockDiag;
use std::io;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_PEER: u32 = 0x4;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
/// sizeof(struct nlmsghdr) and sizeof(struct unix_diag_msg).
const NLMSG_HDR: usize = 16;
const DIAG_MSG: usize = 16;

/// What the kernel told about one unix socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct UnixSock {
    /// Bound path; abstract names start with '@'. None when unbound.
    pub path: Option<String>,
    /// The connected peer's inode.
    pub peer: Option<u32>,
}

/// Asks the kernel about one unix socket by inode. NotFound when no such socket is in this
/// network namespace (or unix_diag is missing).
pub(super) fn query(diag: &SockDiag, inode: u32, seq: u32) -> io::Result<UnixSock> {
    let mut msg = Vec::with_capacity(40);
    msg.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
    msg.push(libc::AF_UNIX as u8); // sdiag_family
    msg.push(0); // sdiag_protocol
    msg.extend_from_slice(&0u16.to_ne_bytes()); // pad
    msg.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: all
    msg.extend_from_slice(&inode.to_ne_bytes());
    msg.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER).to_ne_bytes());
    msg.extend_from_slice(&u32::MAX.to_ne_bytes()); // cookie: none
    msg.extend_from_slice(&u32::MAX.to_ne_bytes());
    let mut buf = [0u8; 1024];
    let n = diag.request(&msg, &mut buf)?;
    parse_reply(&buf[..n])
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Parses one reply: a unix_diag_msg followed by attributes, or an NLMSG_ERROR.
fn parse_reply(b: &[u8]) -> io::Result<UnixSock> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "short unix_diag reply");
    let len = u32_at(b, 0).ok_or_else(bad)? as usize;
    let kind = u16_at(b, 4).ok_or_else(bad)?;
    let b = b.get(..len.min(b.len())).ok_or_else(bad)?;
    if kind == NLMSG_ERROR {
        let errno = u32_at(b, NLMSG_HDR).ok_or_else(bad)? as i32;
        return Err(io::Error::from_raw_os_error(-errno));
    }
    let mut out = UnixSock::default();
    let mut off = NLMSG_HDR + DIAG_MSG;
    while off + 4 <= b.len() {
        let rta_len = u16_at(b, off).ok_or_else(bad)? as usize;
        let rta_type = u16_at(b, off + 2).ok_or_else(bad)?;
        if rta_len < 4 || off + rta_len > b.len() {
            break;
        }
        let data = &b[off + 4..off + rta_len];
        match rta_type {
            UNIX_DIAG_NAME if !data.is_empty() => {
                // Abstract names begin with a NUL; show them as '@name' like ss does.
                let (prefix, name) = match data.split_first() {
                    Some((0, rest)) => ("@", rest),
                    _ => ("", data),
                };
                let name = name.split(|&c| c == 0).next().unwrap_or(name);
                out.path = Some(format!("{prefix}{}", String::from_utf8_lossy(name)));
            }
            UNIX_DIAG_PEER => out.peer = u32_at(data, 0).filter(|&p| p != 0),
            _ => {}
        }
        off += (rta_len + 3) & !3;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn inode_of(fd: &impl AsRawFd) -> u32 {
        let m = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        m.ino() as u32
    }

    #[test]
    fn socketpair_ends_name_each_other() {
        let diag = SockDiag::open().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let (ia, ib) = (inode_of(&a), inode_of(&b));
        let ua = query(&diag, ia, 1).unwrap();
        assert_eq!(
            ua,
            UnixSock {
                path: None,
                peer: Some(ib)
            }
        );
        assert_eq!(query(&diag, ib, 2).unwrap().peer, Some(ia));
    }

    #[test]
    fn client_peer_carries_the_listeners_path() {
        let dir = std::env::temp_dir().join(format!("fc-unixdiag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        let diag = SockDiag::open().unwrap();
        let me = query(&diag, inode_of(&client), 3).unwrap();
        assert_eq!(me.path, None);
        let peer = query(&diag, me.peer.unwrap(), 4).unwrap();
        assert_eq!(peer.path.as_deref(), Some(path.to_str().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_inode_is_not_found() {
        let diag = SockDiag::open().unwrap();
        let err = query(&diag, u32::MAX - 7, 5).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
