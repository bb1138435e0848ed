//! A real headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands in on fd 3, replies and events out on fd 4, each a JSON
//! message ended by a NUL byte). It loads a page and reports every console error, uncaught
//! exception and network request the page made, and a screenshot.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Where Debian's package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// What loading one page produced.
#[derive(Debug, Default)]
pub struct PageLoad {
    /// Console messages of level error, and uncaught exceptions.
    pub console_errors: Vec<String>,
    /// Every URL the page requested, the page itself included.
    pub requests: Vec<String>,
    /// The rendered page as PNG.
    pub screenshot_png: Vec<u8>,
    /// The page's text (document.body.innerText).
    pub text: String,
    /// How many <script> elements the DOM holds.
    pub script_elements: u64,
    /// Page rectangles (x, y, width, height in CSS px = screenshot px) of the elements asked for
    /// by id, None for an id the page lacks.
    pub rects: Vec<Option<[f64; 4]>>,
}

/// The browser, or None (with a loud message) when it is not installed outside CI. Under CI
/// (CI=true) a missing browser fails the test: `.ci/run` installs it.
pub fn find() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHROMIUM} is missing under CI: .ci/run must install the chromium package");
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: {CHROMIUM} is not installed, so report.html was NOT checked in a \
         browser. Install it (apt-get install chromium) or run .ci/run. !!!!!!!!\n"
    );
    None
}

pub struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<Value>,
    next_id: u64,
    _profile: crate::support::TempDir,
    /// Holds chromium.stderr, shown when the browser stops answering.
    log: crate::support::TempDir,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own; O_CLOEXEC keeps them out of other children.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    pub fn launch(exe: &Path) -> Browser {
        use std::os::fd::AsRawFd;
        let profile = crate::support::TempDir::new("chromium-profile");
        let log = crate::support::TempDir::new("chromium-log");
        let (cmd_r, cmd_w) = pipe();
        let (evt_r, evt_w) = pipe();
        let (child_in, child_out) = (cmd_r.as_raw_fd(), evt_w.as_raw_fd());
        let mut cmd = Command::new(exe);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.str()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log.join("chromium.stderr")).expect("a stderr file"));
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Move both ends above 4 first, so placing one cannot close the other; dup2
                // onto 3 and 4 then gives fds without close-on-exec.
                let high_in = libc::fcntl(child_in, libc::F_DUPFD, 10);
                let high_out = libc::fcntl(child_out, libc::F_DUPFD, 10);
                if high_in < 0
                    || high_out < 0
                    || libc::dup2(high_in, 3) < 0
                    || libc::dup2(high_out, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("chromium starts");
        drop((cmd_r, evt_w));
        let (tx, rx) = channel();
        let mut reader = std::fs::File::from(evt_r);
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to: std::fs::File::from(cmd_w),
            from: rx,
            next_id: 0,
            _profile: profile,
            log,
        }
    }

    /// Sends a command and waits for its reply; events that arrive meanwhile go to `events`.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        events: &mut Vec<Value>,
    ) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        if let Err(e) = self.to.write_all(&bytes) {
            panic!(
                "chromium stopped reading its pipe ({e}); its stderr:\n{}",
                self.stderr()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "chromium did not answer {method}; its stderr:\n{}",
                    self.stderr()
                )
            });
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            events.push(v);
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.log.join("chromium.stderr")).unwrap_or_default()
    }

    /// Waits until an event named `method` arrives (keeping every event), or panics.
    fn wait_for(&mut self, method: &str, events: &mut Vec<Value>) {
        if events.iter().any(|e| e["method"] == method) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {method} from chromium"));
            let done = v["method"] == method;
            events.push(v);
            if done {
                return;
            }
        }
    }

    /// Loads `url` in a fresh tab and reports what it did; the screenshot covers the page from
    /// the top down to the lowest of the elements `ids` (at least one viewport).
    pub fn load(&mut self, url: &str, ids: &[&str]) -> PageLoad {
        let mut ev = Vec::new();
        let target = self.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank"}),
            &mut ev,
        );
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
            &mut ev,
        );
        let sid = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        let s = Some(sid.as_str());
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            self.call(s, domain, json!({}), &mut ev);
        }
        ev.clear();
        self.call(s, "Page.navigate", json!({"url": url}), &mut ev);
        self.wait_for("Page.loadEventFired", &mut ev);
        // Anything fired right after load (a late fetch, a console call) arrives within this.
        std::thread::sleep(Duration::from_millis(500));
        let probe = self.call(
            s,
            "Runtime.evaluate",
            json!({"expression": format!(
                "JSON.stringify({{text: document.body.innerText, \
                   scripts: document.querySelectorAll('script').length, \
                   rects: {ids:?}.map(id => {{ const e = document.getElementById(id); \
                     if (!e) return null; const r = e.getBoundingClientRect(); \
                     return [r.x + scrollX, r.y + scrollY, r.width, r.height]; }}), \
                   width: document.documentElement.scrollWidth}})"
            ), "returnByValue": true}),
            &mut ev,
        );
        let page: Value = serde_json::from_str(probe["result"]["value"].as_str().unwrap_or("{}"))
            .unwrap_or_default();
        let rects: Vec<Option<[f64; 4]>> = page["rects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|v| [0, 1, 2, 3].map(|i| v[i].as_f64().unwrap_or(0.0)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let bottom = rects
            .iter()
            .flatten()
            .map(|r| r[1] + r[3])
            .fold(1400.0, f64::max)
            + 16.0;
        let width = page["width"].as_f64().unwrap_or(1000.0);
        let shot = self.call(
            s,
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": bottom, "scale": 1}}),
            &mut ev,
        );
        ev.extend(self.from.try_iter());
        let mut out = PageLoad::default();
        for e in ev.iter().filter(|e| e["sessionId"] == json!(sid)) {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => out
                    .console_errors
                    .push(format!("console.{}: {}", p["type"], p["args"])),
                "Runtime.exceptionThrown" => out
                    .console_errors
                    .push(format!("exception: {}", p["exceptionDetails"])),
                "Log.entryAdded" if p["entry"]["level"] == "error" => out
                    .console_errors
                    .push(format!("log: {}", p["entry"]["text"])),
                "Network.requestWillBeSent" => out
                    .requests
                    .push(p["request"]["url"].as_str().unwrap_or("?").to_string()),
                _ => {}
            }
        }
        out.rects = rects;
        out.text = page["text"].as_str().unwrap_or_default().to_string();
        out.script_elements = page["scripts"].as_u64().unwrap_or(u64::MAX);
        out.screenshot_png = base64(shot["data"].as_str().expect("screenshot data"));
        self.call(
            None,
            "Target.closeTarget",
            json!({"targetId": target["targetId"]}),
            &mut ev,
        );
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let mut ev = Vec::new();
        self.next_id += 1;
        let bye = json!({"id": self.next_id, "method": "Browser.close", "params": {}});
        let mut bytes = serde_json::to_vec(&bye).unwrap();
        bytes.push(0);
        let _ = self.to.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            ev.extend(self.from.try_iter());
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (the protocol's encoding of binary data).
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 64,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().map(val).filter(|&v| v < 64) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Share of the PNG's pixels that are not (near) white.
pub fn inked_share(png_bytes: &[u8]) -> f64 {
    inked_share_in(png_bytes, None)
}

/// Share of the pixels inside `rect` (x, y, width, height; the whole image when None) that are
/// not (near) white.
pub fn inked_share_in(png_bytes: &[u8], rect: Option<[f64; 4]>) -> f64 {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let px = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let [x0, y0, rw, rh] = rect
        .unwrap_or([0.0, 0.0, w as f64, h as f64])
        .map(|v| v.max(0.0) as usize);
    let (x1, y1) = ((x0 + rw).min(w), (y0 + rh).min(h));
    let (mut inked, mut all) = (0usize, 0usize);
    for y in y0..y1 {
        for x in x0..x1 {
            let p = &buf[(y * w + x) * px..][..px];
            all += 1;
            if p.iter().take(3).any(|&c| c < 235) {
                inked += 1;
            }
        }
    }
    inked as f64 / all.max(1) as f64
}
