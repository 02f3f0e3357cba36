//! Front MTAs for the recipe tests: a private Postfix or Exim instance per test, from a
//! temporary config directory, on loopback ports (never the system instance, never port
//! 25), and `swaks` to send mail into it. `./scripts/test` installs the programs; a test
//! checks [`POSTFIX`] or [`EXIM`] with [`needs`](super::needs()) first, so where they are
//! missing it is skipped with the reason (or fails, under `REPLYD_REQUIRE_ALL=1`).

use super::needs::{find_program, program, Need};
use super::{free_port, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What a Postfix test needs: root (Postfix starts as root and hands its folders to its
/// users), Postfix itself, and swaks to send into it.
pub const POSTFIX: &[Need] = &[
    Need::Root,
    Need::Program("postfix"),
    Need::Program("postqueue"),
    Need::Program("swaks"),
];

/// What an Exim test needs: root (the daemon runs as root with `-C`), an Exim binary, its
/// user, and swaks.
pub const EXIM: &[Need] = &[
    Need::Root,
    Need::Exim,
    Need::User("Debian-exim"),
    Need::Program("swaks"),
];

/// Runs a command and returns its output, panicking with a hint if it cannot start.
fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// What swaks did: its exit status and its transcript.
pub struct Sent {
    pub ok: bool,
    pub transcript: String,
}

/// Sends one message with swaks to `port`: HELO `customer.test`, from bob@example.org.
pub fn swaks(port: u16, to: &[&str], message_id: &str, body: &str) -> Sent {
    let out = run(Command::new(program("swaks"))
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["--helo", "customer.test", "--from", "bob@example.org"])
        .args(["--to", &to.join(",")])
        .args(["--header", "Subject: Re: Order 42"])
        .args(["--header", &format!("Message-Id: <{message_id}>")])
        .args(["--body", body])
        .args(["--timeout", "60"]));
    Sent {
        ok: out.status.success(),
        transcript: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Polls `f` every 100 ms until it is true or `secs` have passed; returns the last value.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private Postfix instance: `postfix -c DIR start` on a temporary directory.
pub struct Postfix {
    pub dir: TempDir,
    /// Where its smtpd listens.
    pub port: u16,
}

impl Postfix {
    /// The main.cf every instance shares; `main_extra` and `master_extra` are appended
    /// (later main.cf lines win), and `transport` is the content of the transport map.
    pub fn start(main_extra: &str, master_extra: &str, transport: &str) -> Postfix {
        let dir = TempDir::new("postfix");
        let d = dir.path();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // Postfix's master writes its lock into data_directory as the mail owner.
        chown("postfix", &d.join("data"));
        let port = free_port();
        let etc = d.join("etc");
        std::fs::write(etc.join("replyd_transport"), transport).unwrap();
        std::fs::write(
            etc.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {d}/queue\n\
                 data_directory = {d}/data\n\
                 meta_directory = /etc/postfix\n\
                 maillog_file = {d}/maillog\n\
                 maillog_file_prefixes = {d}\n\
                 myhostname = relay.test\n\
                 myorigin = relay.test\n\
                 mydestination =\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 mynetworks = 127.0.0.0/8\n\
                 alias_maps =\n\
                 alias_database =\n\
                 local_recipient_maps =\n\
                 smtp_host_lookup = native\n\
                 # A retry every second, so a deferred message is retried while the test waits.\n\
                 queue_run_delay = 1s\n\
                 minimal_backoff_time = 1s\n\
                 maximal_backoff_time = 2s\n\
                 address_verify_poll_delay = 1s\n\
                 address_verify_poll_count = 20\n\
                 {}\n{}\n",
                RECIPE_MAIN.replace("/etc/postfix/", &format!("{}/", etc.display())),
                main_extra,
                d = d.display(),
            ),
        )
        .unwrap();
        std::fs::write(
            etc.join("master.cf"),
            format!("127.0.0.1:{port} inet n - n - - smtpd\n{MASTER}{master_extra}\n"),
        )
        .unwrap();
        let out = run(Command::new(program("postfix"))
            .arg("-c")
            .arg(&etc)
            .arg("start"));
        let pf = Postfix { dir, port };
        assert!(
            out.status.success(),
            "postfix did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            pf.log()
        );
        assert!(
            wait_for(10, || std::net::TcpStream::connect(("127.0.0.1", port))
                .is_ok()),
            "postfix smtpd is not listening\n{}",
            pf.log()
        );
        pf
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// Its maillog so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// `postqueue -f`: try every deferred message now.
    pub fn flush(&self) {
        run(Command::new(program("postqueue"))
            .arg("-c")
            .arg(self.etc())
            .arg("-f"));
    }

    /// Whether the queue is empty (`postqueue -p`).
    pub fn queue_is_empty(&self) -> bool {
        let out = run(Command::new(program("postqueue"))
            .arg("-c")
            .arg(self.etc())
            .arg("-p"));
        String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty")
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // Never a panic here: it was found when the instance started.
        if let Ok(postfix) = find_program("postfix") {
            let _ = Command::new(postfix)
                .arg("-c")
                .arg(self.etc())
                .arg("abort")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn chown(user: &str, path: &Path) {
    let ok = run(Command::new("chown").arg("-R").arg(user).arg(path));
    assert!(ok.status.success(), "chown {user} {}", path.display());
}

/// Gives the database folder to `nobody`, the user Postfix's pipe runs `replyd ingest` as.
pub fn give_database_to_nobody(dir: &Path) {
    chown("nobody:nogroup", dir);
}

/// The Postfix settings of the README recipe: mail to `reply+…@support.example.com` goes
/// to replyd; recipients are verified by asking replyd during the client's own dialogue.
pub const RECIPE_MAIN: &str = "\
relay_domains = support.example.com
recipient_delimiter = +
transport_maps = texthash:/etc/postfix/replyd_transport
smtpd_recipient_restrictions = reject_unverified_recipient
unverified_recipient_reject_code = 550";

/// The services of a Postfix instance, without chroot (the test runs it from a temporary
/// directory).
const MASTER: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// The Exim binary: `$REPLYD_EXIM`, the copy `./scripts/test` unpacks into
/// `target/exim-root`, or an installed one; or why there is none.
pub fn find_exim() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("REPLYD_EXIM") {
        let p = PathBuf::from(p);
        return match p.exists() {
            true => Ok(p),
            false => Err(format!(
                "REPLYD_EXIM is {}, which does not exist",
                p.display()
            )),
        };
    }
    let unpacked = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/exim-root/usr/sbin/exim4");
    if unpacked.exists() {
        return Ok(unpacked);
    }
    let installed = Path::new("/usr/sbin/exim4");
    if installed.exists() {
        return Ok(installed.to_path_buf());
    }
    Err(
        "Exim is not available: ./scripts/test unpacks exim4-daemon-light into \
         target/exim-root (it conflicts with postfix as a package) and installs its \
         libraries; or set REPLYD_EXIM to an exim binary"
            .into(),
    )
}

/// A private Exim daemon: `exim -C CONF -bdf` in the foreground, as root.
pub struct Exim {
    pub dir: TempDir,
    pub port: u16,
    conf: PathBuf,
    bin: PathBuf,
    child: Child,
}

impl Exim {
    /// Starts Exim with a recipe from the README: its main options, `begin acl`,
    /// `begin routers` and `begin transports` sections.
    pub fn start(recipe: &str) -> Exim {
        let bin = find_exim().unwrap_or_else(|why| panic!("{why}"));
        let dir = TempDir::new("exim");
        let d = dir.path();
        for sub in ["spool", "log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
            chown("Debian-exim", &d.join(sub));
        }
        let port = free_port();
        let conf = d.join("exim.conf");
        std::fs::write(
            &conf,
            format!(
                "exim_path = {bin}\n\
                 primary_hostname = relay.test\n\
                 qualify_domain = relay.test\n\
                 spool_directory = {d}/spool\n\
                 log_file_path = {d}/log/%slog\n\
                 pid_file_path = {d}/exim.pid\n\
                 daemon_smtp_ports = {port}\n\
                 local_interfaces = 127.0.0.1\n\
                 # Run as root with -C, Exim's re-executed delivery processes would lose root.\n\
                 deliver_drop_privilege = true\n\
                 host_lookup =\n\
                 rfc1413_hosts =\n\
                 tls_advertise_hosts =\n\
                 keep_environment =\n\
                 {recipe}\n\
                 begin retry\n\
                 # A retry every 2 s in the test; the README keeps Exim's defaults.\n\
                 *   *   F,1h,2s\n",
                bin = bin.display(),
                d = d.display(),
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .arg("-C")
            .arg(&conf)
            .args(["-bdf", "-q2s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let exim = Exim {
            dir,
            port,
            conf,
            bin,
            child,
        };
        assert!(
            wait_for(10, || std::net::TcpStream::connect(("127.0.0.1", port))
                .is_ok()),
            "exim is not listening\n{}",
            exim.log()
        );
        exim
    }

    /// Its main log so far.
    pub fn log(&self) -> String {
        let d = self.dir.path().join("log");
        format!(
            "{}{}",
            std::fs::read_to_string(d.join("mainlog")).unwrap_or_default(),
            std::fs::read_to_string(d.join("paniclog")).unwrap_or_default()
        )
    }

    /// `exim -qff`: deliver everything queued now.
    pub fn force_queue_run(&self) {
        run(Command::new(&self.bin)
            .arg("-C")
            .arg(&self.conf)
            .arg("-qff"));
    }

    /// Messages on the queue (`exim -bpc`).
    pub fn queue_count(&self) -> usize {
        let out = run(Command::new(&self.bin)
            .arg("-C")
            .arg(&self.conf)
            .arg("-bpc"));
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(usize::MAX)
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
