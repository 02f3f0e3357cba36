//! Storage faults for tests: a full disk (a small tmpfs) and read-only files (the immutable
//! attribute: even root cannot write such a file). Both need root; check [`FULL_DISK`] or
//! [`READ_ONLY`] with `needs` first.

use super::needs::Need;
use super::TempDir;
use std::process::Command;

/// What [`Mount`] needs.
pub const FULL_DISK: &[Need] = &[Need::Root, Need::Program("mount"), Need::Program("umount")];
/// What [`immutable`] needs.
pub const READ_ONLY: &[Need] = &[Need::Root, Need::Program("chattr")];

/// A small tmpfs mounted for one test, unmounted on drop.
pub struct Mount {
    pub dir: TempDir,
}

impl Mount {
    pub fn new(size: &str) -> Mount {
        let dir = TempDir::new("mnt");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount(8) must be available: the test checked for it");
        assert!(
            ok.success(),
            "mounting a tmpfs failed: these tests need root"
        );
        Mount { dir }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Sets or clears the immutable attribute: even root cannot write such a file.
pub fn immutable(files: &[std::path::PathBuf], on: bool) {
    for f in files {
        if f.exists() {
            let ok = Command::new("chattr")
                .arg(if on { "+i" } else { "-i" })
                .arg(f)
                .status()
                .expect("chattr(1) (e2fsprogs) is needed");
            assert!(ok.success(), "chattr on {} failed", f.display());
        }
    }
}
