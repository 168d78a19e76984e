//! A plain-text report for machines: `key value` lines written to a file on the host through
//! semihosting (QEMU's `-semihosting-config enable=on,target=native`, relative to QEMU's
//! working directory), so that `cargo xtask firmware test` can check a run without decoding
//! defmt. Without semihosting (the `rtt` build for a real board) nothing is written.

use core::fmt::{self, Write as _};

/// The report file, or nothing where semihosting is off.
pub struct Report {
    fd: Option<usize>,
}

/// Semihosting `SYS_OPEN` mode "w": create or truncate.
const MODE_W: usize = 4;

impl Report {
    /// Opens `zkedge-report.txt` on the host.
    pub fn open(enabled: bool) -> Self {
        let name = b"zkedge-report.txt\0";
        let fd = if enabled {
            // SAFETY: SYS_OPEN reads the NUL-terminated name and its length; the host returns
            // a handle or -1.
            let fd = unsafe {
                cortex_m_semihosting::syscall!(OPEN, name.as_ptr(), MODE_W, name.len() - 1)
            };
            (fd as isize >= 0).then_some(fd)
        } else {
            None
        };
        Self { fd }
    }

    /// Writes one line, `key value`.
    pub fn line(&mut self, key: &str, value: fmt::Arguments<'_>) {
        if self.fd.is_some() {
            let _ = writeln!(self, "{key} {value}");
        }
    }
}

impl fmt::Write for Report {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let Some(fd) = self.fd else { return Ok(()) };
        // SAFETY: SYS_WRITE reads `s.len()` bytes from `s`; it returns the bytes not written.
        let left = unsafe { cortex_m_semihosting::syscall!(WRITE, fd, s.as_ptr(), s.len()) };
        if left == 0 {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}
