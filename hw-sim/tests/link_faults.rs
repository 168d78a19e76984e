//! What a broken peer or a broken line does: damaged and hostile frames get error replies and
//! the simulator keeps serving; a killed simulator or a silent line gives the client a typed
//! link error within its timeout.

mod common;

use std::{
    io::{Read, Write},
    time::{Duration, Instant},
};

use accel_backends::{
    wire::serial::{OpenError, SerialBackend, SerialConfig},
    Backend, BackendError, Fr, G1Affine, G1Projective, LinkError,
};
use accel_proto::{
    encode_request, frame::CRC32, parse_reply, ErrorCode, ErrorReply, Feed, FrameAccumulator,
    ReplyBody, RequestBody, UNATTRIBUTED, VERSION,
};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::UniformRand;
use common::Sim;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A raw line to the simulator: frames out, replies in.
struct Raw {
    port: Box<dyn serialport::SerialPort>,
    acc: FrameAccumulator<8192>,
    pending: Vec<u8>,
}

impl Raw {
    fn open(path: &str) -> Raw {
        let port = serialport::new(path, 921_600)
            .timeout(Duration::from_secs(5))
            .open()
            .expect("open the pty");
        Raw {
            port,
            acc: FrameAccumulator::new(),
            pending: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).expect("write");
    }

    /// The next reply: (id, body summary).
    fn reply(&mut self) -> (u32, Result<Option<u32>, ErrorReply>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let data = std::mem::take(&mut self.pending);
            if !data.is_empty() {
                match self.acc.feed(&data) {
                    Feed::Consumed => {}
                    Feed::Bad { error, .. } => panic!("the server sent a bad frame: {error:?}"),
                    Feed::Frame { body, remaining } => {
                        let reply = parse_reply(body).expect("a readable reply");
                        let summary = match reply.body {
                            ReplyBody::Error(e) => Err(e),
                            ReplyBody::Hello(caps) => Ok(Some(u32::from(caps.version))),
                            ReplyBody::Ok => Ok(None),
                            other => panic!("unexpected reply {other:?}"),
                        };
                        self.pending = remaining.to_vec();
                        return (reply.id, summary);
                    }
                }
            }
            assert!(Instant::now() < deadline, "no reply within 5 s");
            let mut buf = [0u8; 4096];
            match self.port.read(&mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn request(
        &mut self,
        id: u32,
        body: RequestBody<'_>,
    ) -> (u32, Result<Option<u32>, ErrorReply>) {
        let mut buf = [0u8; 4097];
        let frame = encode_request(id, body, &mut buf, 4096)
            .expect("fits")
            .to_vec();
        self.send(&frame);
        self.reply()
    }
}

/// postcard bytes + a CRC (right or wrong), COBS-encoded, delimited.
fn framed(body: &[u8], good_crc: bool) -> Vec<u8> {
    let mut raw = body.to_vec();
    let crc = CRC32.checksum(body) ^ if good_crc { 0 } else { 0x0100_0000 };
    raw.extend(crc.to_le_bytes());
    let mut out = vec![0u8; raw.len() + raw.len() / 254 + 2];
    let n = cobs::encode(&raw, &mut out);
    out.truncate(n);
    out.push(0);
    out
}

fn err(code: ErrorCode, detail: u32) -> Result<Option<u32>, ErrorReply> {
    Err(ErrorReply { code, detail })
}

#[test]
fn damaged_and_hostile_frames_get_error_replies_and_serving_goes_on() {
    let sim = Sim::spawn(&[]);
    let mut raw = Raw::open(&sim.path);
    let hello = RequestBody::Hello {
        version: VERSION,
        max_frame: 4096,
    };
    assert_eq!(raw.request(1, hello), (1, Ok(Some(u32::from(VERSION)))));

    // Bad CRC: a sound BasesEnd body whose CRC is off by one bit.
    let body = postcard::to_slice(&(2u32, 3u32), &mut [0u8; 32])
        .expect("serialize")
        .to_vec();
    raw.send(&framed(&body, false));
    assert_eq!(raw.reply(), (UNATTRIBUTED, err(ErrorCode::BadCrc, 0)));

    // Unknown message kind 200, under id 3: answered under its id.
    let body = postcard::to_slice(&(3u32, 200u32), &mut [0u8; 32])
        .expect("serialize")
        .to_vec();
    raw.send(&framed(&body, true));
    assert_eq!(raw.reply(), (3, err(ErrorCode::UnknownKind, 200)));

    // Known kind (MsmBegin) with a truncated body.
    let body = postcard::to_slice(&(4u32, 5u32, 0u32), &mut [0u8; 32])
        .expect("serialize")
        .to_vec();
    raw.send(&framed(&body, true));
    assert_eq!(raw.reply(), (4, err(ErrorCode::Malformed, 0)));

    // Oversize: 6000 bytes without a delimiter, then one.
    let mut long = vec![0x55u8; 6000];
    long.push(0);
    raw.send(&long);
    assert_eq!(raw.reply(), (UNATTRIBUTED, err(ErrorCode::Oversize, 0)));

    // Truncated: a frame cut short before its delimiter.
    let mut buf = [0u8; 64];
    let frame = encode_request(
        5,
        RequestBody::MsmBegin {
            handle: 0,
            start: 0,
            len: 3,
        },
        &mut buf,
        4096,
    )
    .expect("fits")
    .to_vec();
    let mut cut = frame[..frame.len() - 4].to_vec();
    cut.push(0);
    raw.send(&cut);
    let (id, got) = raw.reply();
    assert_eq!(id, UNATTRIBUTED);
    assert!(
        matches!(
            got,
            Err(ErrorReply {
                code: ErrorCode::BadCrc | ErrorCode::BadFraming,
                ..
            })
        ),
        "{got:?}"
    );

    // An announced length far beyond the limits is refused before anything is allocated.
    let (id, got) = raw.request(6, RequestBody::BasesBegin { len: u32::MAX });
    assert_eq!(id, 6);
    assert_eq!(got, err(ErrorCode::SizeUnsupported, 1 << 20));
    // Out of sequence: a chunk with no job.
    let (_, got) = raw.request(
        7,
        RequestBody::MsmChunk {
            offset: 0,
            scalars: &[0; 32],
        },
    );
    assert_eq!(got, err(ErrorCode::OutOfSequence, 0));
    // A non-canonical scalar in an NTT upload is named by its index.
    let (_, got) = raw.request(
        8,
        RequestBody::NttBegin {
            log_n: 1,
            omega: accel_proto::elem::encode_fr(&-Fr::from(1u64)),
            direction: accel_proto::Direction::Forward,
            coset: None,
        },
    );
    assert_eq!(got, Ok(None));
    let mut values = [0u8; 64];
    values[32..].fill(0xff);
    let (_, got) = raw.request(
        9,
        RequestBody::NttChunk {
            offset: 0,
            values: &values,
        },
    );
    assert_eq!(got, err(ErrorCode::NonCanonical, 1));

    // The server still answers the next request…
    assert_eq!(raw.request(10, hello), (10, Ok(Some(u32::from(VERSION)))));
    drop(raw);

    // …and still computes: a full MSM through SerialBackend on the same simulator.
    let mut client = sim.connect(Duration::from_secs(30));
    let rng = &mut ChaCha20Rng::seed_from_u64(1);
    let bases: Vec<G1Affine> = (0..300)
        .map(|_| (G1Projective::generator() * Fr::rand(rng)).into_affine())
        .collect();
    let scalars: Vec<Fr> = (0..300).map(|_| Fr::rand(rng)).collect();
    let h = client.load_bases(&bases).expect("load");
    let sum = client.msm(h, 0, &scalars).expect("msm");
    assert_eq!(sum, accel_backends::cpu::msm(&bases, &scalars));
    let counted = client.counters();
    assert!(counted.device_cycles > 0 && counted.link_bytes > 300 * 96);
}

#[test]
fn killing_the_simulator_mid_job_fails_the_client_cleanly() {
    let sim = Sim::spawn(&[]);
    let timeout = Duration::from_secs(5);
    let mut client = sim.connect(timeout);
    let rng = &mut ChaCha20Rng::seed_from_u64(2);
    let n = 1 << 14;
    let g = G1Projective::generator() * Fr::rand(rng);
    let bases = vec![g.into_affine(); n];
    let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
    let h = client.load_bases(&bases).expect("load");

    let pid = sim.child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        // The child is ours (spawned above); SIGKILL it by pid mid-MSM.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    });
    let start = Instant::now();
    let got = client.msm(h, 0, &scalars);
    let took = start.elapsed();
    killer.join().expect("killer thread");
    assert!(
        matches!(
            got,
            Err(BackendError::Link(
                LinkError::Closed | LinkError::Timeout | LinkError::Io
            ))
        ),
        "{got:?}"
    );
    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    // The next call fails just as cleanly, without hanging.
    let start = Instant::now();
    assert!(matches!(
        client.msm(h, 0, &scalars[..10]),
        Err(BackendError::Link(_))
    ));
    assert!(start.elapsed() < timeout + Duration::from_secs(1));
}

#[test]
fn a_silent_line_times_out_at_the_handshake() {
    // A pseudo-terminal nobody serves: the handshake is tried three times, each within one
    // reply window, then the open fails with a typed timeout.
    let pty = zkedge_hwsim::serve::open_pty().expect("pty");
    let path = pty.path.to_string_lossy().into_owned();
    let reply = Duration::from_millis(300);
    let start = Instant::now();
    let got = SerialBackend::open(&path, SerialConfig::new(115_200, reply));
    let took = start.elapsed();
    assert!(
        matches!(
            got,
            Err(OpenError::Handshake {
                source: BackendError::Link(LinkError::Timeout),
                ..
            })
        ),
        "{:?}",
        got.err()
    );
    assert!(
        took >= 3 * reply && took < 3 * reply + Duration::from_secs(1),
        "took {took:?}"
    );
    let got = SerialBackend::open("/dev/nonexistent-zkedge", SerialConfig::default());
    assert!(matches!(got, Err(OpenError::Port { .. })));
    drop(pty);
}
