//! What a run does: how many samples go through witness mode and how many through device
//! proving. The defaults suit a sensor; under QEMU the host may change them with
//! `-semihosting-config …,arg=witness=N,arg=input=N,arg=hashed=N,arg=device=N` (read with semihosting's
//! `SYS_GET_CMDLINE`), so that one image serves every test.

/// Samples for each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Plan {
    /// Samples proven in witness mode.
    pub witness: u32,
    /// Samples proven in input mode (the host runs the model on the input sent).
    pub input: u32,
    /// Samples proven in input mode with a salt and the input's commitment, for host keys
    /// that hash the input (none by default: the host's keys must be made so).
    pub hashed: u32,
    /// Samples proven on the device.
    pub device: u32,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            witness: 2,
            input: 1,
            hashed: 0,
            device: u32::from(cfg!(feature = "device-proving")),
        }
    }
}

impl Plan {
    /// The defaults, changed by the semihosting command line where there is one.
    pub fn from_host() -> Self {
        let mut plan = Self::default();
        let mut buf = [0u8; 128];
        let Some(line) = cmdline(&mut buf) else {
            return plan;
        };
        for word in line.split(|&b| b == b' ') {
            let Some(eq) = word.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&word[..eq], &word[eq + 1..]);
            let Some(n) = core::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
            else {
                continue;
            };
            match key {
                b"witness" => plan.witness = n,
                b"input" => plan.input = n,
                b"hashed" => plan.hashed = n,
                b"device" if cfg!(feature = "device-proving") => plan.device = n,
                _ => {}
            }
        }
        plan
    }
}

#[cfg(feature = "semihosting")]
fn cmdline(buf: &mut [u8]) -> Option<&[u8]> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE (0x15) writes at most `block[1]` bytes to `block[0]` and the
    // length written back into `block[1]`; it returns 0 on success.
    let rc = unsafe { cortex_m_semihosting::syscall1(0x15, block.as_mut_ptr() as usize) };
    let len = block[1].min(buf.len());
    (rc == 0).then(|| {
        let line = &buf[..len];
        line.split(|&b| b == 0).next().unwrap_or(line)
    })
}

#[cfg(not(feature = "semihosting"))]
fn cmdline(_: &mut [u8]) -> Option<&[u8]> {
    None
}
