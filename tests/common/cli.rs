//! The `replyd` binary as the tests run it: `serve` as a child process, one command with its
//! output checked, a config file written for it, file modes, and a check that what the CLI
//! prints is safe on a terminal.
#![allow(dead_code)]

use super::*;

/// `replyd serve` as a child process, with the SMTP address it logged; killed on drop.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    pub fn start(config: &Path) -> ServeProcess {
        Self::spawn(Command::new(replyd_bin()), config)
    }

    /// `replyd serve` run by `command` (e.g. [`under_umask`]), which gets the arguments.
    pub fn spawn(mut command: Command, config: &Path) -> ServeProcess {
        let mut child = command
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let addr = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "server did not log its address"
            );
            let line = lines.next().expect("server exited").unwrap();
            log.lock().unwrap().push(line.clone());
            if line.contains("listening for SMTP") {
                if let Some(i) = line.find("addr=") {
                    let a = line[i + 5..].split_whitespace().next().unwrap();
                    break a.parse().unwrap();
                }
                // `[log] format = "json"`: `"addr":"127.0.0.1:…"`.
                if let Some(i) = line.find("\"addr\":\"") {
                    let a = line[i + 8..].split('"').next().unwrap();
                    break a.parse().unwrap();
                }
            }
        };
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        ServeProcess { child, addr, log }
    }

    /// What the server logged so far, one line per entry.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of the built `replyd` binary.
pub fn replyd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_replyd")
}

/// A command that runs `program` (with the arguments added to it later) under `umask`
/// (e.g. "022"), through `sh`, leaving the test process's own umask alone: tests run in
/// parallel threads of one process.
pub fn under_umask(umask: &str, program: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(program);
    c
}

/// Runs `replyd --config CONFIG ARGS…` under `umask` (see [`under_umask`]) and returns its
/// output, whatever its exit status.
pub fn replyd_under_umask(umask: &str, config: &Path, args: &[&str]) -> std::process::Output {
    under_umask(umask, replyd_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// The permission bits of `path` (with setuid/setgid/sticky), e.g. `0o600`.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Asserts `path`'s permission bits are `want` (shown in octal when they are not).
pub fn assert_mode(path: &Path, want: u32) {
    let mode = mode_of(path);
    assert!(
        mode == want,
        "{}: mode {mode:04o}, expected {want:04o}",
        path.display()
    );
}

/// `args` without `--database PATH` when PATH stands for a PostgreSQL database: the config
/// [`write_config`] wrote for the test names that database already.
pub fn on_this_store<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--database"
            && args
                .get(i + 1)
                .is_some_and(|db| postgres::url_for(Path::new(db)).is_some())
        {
            i += 2;
            continue;
        }
        out.push(args[i]);
        i += 1;
    }
    out
}

/// Runs `replyd --config CONFIG ARGS…` and returns its standard output; fails the test,
/// showing the standard error, if it exits non-zero.
pub fn replyd_ok(config: &Path, args: &[&str]) -> String {
    let out = Command::new(replyd_bin())
        .arg("--config")
        .arg(config)
        .args(on_this_store(args))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replyd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `replyd --config CONFIG ARGS…` with `input` on stdin, as a pipe transport would.
pub fn replyd_with_stdin(config: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut command = Command::new(replyd_bin());
    command.arg("--config").arg(config).args(args);
    run_with_stdin(command, input)
}

/// Runs `command` with `input` on stdin; its output once it exited.
pub fn run_with_stdin(mut command: Command, input: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A command that refuses the recipient may exit before reading the message (as MTAs'
    // pipe transports allow: they go by the exit status); its status is what is asserted.
    if let Err(e) = stdin.write_all(input) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing to replyd: {e}"
        );
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Writes a config file for the binary into `dir` and returns its path.
pub fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("smtpd.toml");
    // The PostgreSQL database standing for the folder's file, when a test server made one.
    let db = dir.join("replyd.sqlite3");
    let store = match postgres::url_for(&db) {
        Some(url) => format!("url = \"{url}\""),
        None => format!("path = \"{}\"", db.display()),
    };
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nhostname = \"mx.test\"\n\
             domains = [\"{DOMAIN}\"]\nshutdown_grace = \"10s\"\n\
             [store]\n{store}\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// Creates a conversation with the `replyd` binary; returns its UUID and reply address.
pub fn create_conversation(config: &Path) -> (String, String) {
    let out = replyd_ok(
        config,
        &["conversation", "create", "--contact", "bob@example.org"],
    );
    let (uuid, address) = out.trim().split_once('\t').unwrap();
    (uuid.to_string(), address.to_string())
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Asserts that `out`, a human-readable output of the CLI, is safe to print on a terminal:
/// UTF-8 without a single control, bidi or invisible format character (what
/// `replyd::display::escape` writes as `\u{…}`) except the LFs that end lines and the TABs
/// of indented (multi-line field) lines, and no line that starts with `forged` (a line a
/// message tried to forge). Returns the text.
pub fn assert_terminal_safe(out: &[u8], forged: &[&str]) -> String {
    let text = String::from_utf8(out.to_vec()).expect("output is UTF-8");
    for line in text.split('\n') {
        for c in line.chars() {
            let allowed = c == '\t' && line.starts_with("    ");
            assert!(
                allowed || !replyd::display::is_escaped(c),
                "raw {c:?} in the output line {line:?}\n{text}"
            );
        }
        for f in forged {
            assert!(!line.starts_with(f), "forged line {line:?}\n{text}");
        }
    }
    text
}
