//! The generic wire server over the CPU backend, driven frame by frame in memory: the same
//! request handling hw-sim serves with, checked without a serial line.
#![cfg(feature = "wire")]

use accel_backends::{
    wire::{ServeConfig, Server},
    CpuBackend, Fr, G1Affine,
};
use accel_proto::{
    elem, encode_request, parse_reply, Direction, ErrorCode, ErrorReply, Feed, FrameAccumulator,
    ReplyBody, RequestBody, VERSION,
};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{FftField, UniformRand};

struct Harness {
    server: Server<CpuBackend>,
    acc: FrameAccumulator<4096>,
    next: u32,
}

/// What a reply said, owned.
#[derive(Debug, PartialEq)]
enum Got {
    Ok,
    Hello(u16),
    Handle(u32),
    Sum(G1Affine),
    Done,
    Values(Vec<Fr>),
    Err(ErrorReply),
}

impl Harness {
    fn new() -> Self {
        Self {
            server: Server::new(CpuBackend::new(), ServeConfig::new(100, Some(115_200), 2)),
            acc: FrameAccumulator::new(),
            next: 0,
        }
    }

    fn ask(&mut self, body: RequestBody<'_>) -> Got {
        self.next += 1;
        let mut buf = vec![0u8; 4097];
        let frame = encode_request(self.next, body, &mut buf, 4096).expect("fits");
        let mut replies = Vec::new();
        self.server
            .on_bytes(&mut self.acc, frame, |r| {
                replies.push(r.to_vec());
                Ok(())
            })
            .expect("in memory");
        assert_eq!(replies.len(), 1, "one reply per request");
        let mut rx = FrameAccumulator::<4096>::new();
        let Feed::Frame { body, .. } = rx.feed(&replies[0]) else {
            panic!("the reply is a sound frame");
        };
        let reply = parse_reply(body).expect("readable");
        assert_eq!(reply.id, self.next);
        match reply.body {
            ReplyBody::Ok => Got::Ok,
            ReplyBody::Hello(c) => Got::Hello(c.version),
            ReplyBody::BasesLoaded { handle, .. } => Got::Handle(handle),
            ReplyBody::MsmDone { sum, .. } => Got::Sum(elem::decode_point(&sum).expect("point")),
            ReplyBody::NttDone { .. } => Got::Done,
            ReplyBody::NttValues { values, .. } => {
                let mut v = Vec::new();
                elem::decode_fr_chunk(values, |_, x| v.push(x)).expect("canonical");
                Got::Values(v)
            }
            ReplyBody::Error(e) => Got::Err(e),
            other => panic!("{other:?}"),
        }
    }
}

fn bytes_of(xs: &[Fr]) -> Vec<u8> {
    xs.iter().flat_map(elem::encode_fr).collect()
}

#[test]
fn a_whole_session_over_the_cpu_backend() {
    let rng = &mut ark_std::test_rng();
    let mut h = Harness::new();
    assert_eq!(
        h.ask(RequestBody::Hello {
            version: VERSION,
            max_frame: 4096
        }),
        Got::Hello(VERSION)
    );
    let g = G1Affine::generator();
    let bases: Vec<G1Affine> = (0..100)
        .map(|_| (g * Fr::rand(rng)).into_affine())
        .collect();
    assert_eq!(h.ask(RequestBody::BasesBegin { len: 100 }), Got::Ok);
    for (i, part) in bases.chunks(63).enumerate() {
        let mut bytes = Vec::new();
        for p in part {
            let mut b = [0u8; 64];
            elem::write_point(p, &mut b);
            bytes.extend(b);
        }
        let got = h.ask(RequestBody::BasesChunk {
            offset: (i * 63) as u32,
            points: &bytes,
        });
        assert_eq!(got, Got::Ok);
    }
    let Got::Handle(handle) = h.ask(RequestBody::BasesEnd) else {
        panic!("a handle")
    };
    let scalars: Vec<Fr> = (0..40).map(|_| Fr::rand(rng)).collect();
    let begin = RequestBody::MsmBegin {
        handle,
        start: 60,
        len: 40,
    };
    assert_eq!(h.ask(begin), Got::Ok);
    let bytes = bytes_of(&scalars);
    assert_eq!(
        h.ask(RequestBody::MsmChunk {
            offset: 0,
            scalars: &bytes
        }),
        Got::Ok
    );
    let want = accel_backends::cpu::msm(&bases[60..], &scalars).into_affine();
    assert_eq!(h.ask(RequestBody::MsmEnd), Got::Sum(want));

    // Retransmissions (protocol version 2): a chunk the upload already holds, or one after a
    // gap, is refused with the offset expected and the upload kept; a Fault leaves the job;
    // a repeated end is answered with the same sum.
    assert_eq!(h.ask(begin), Got::Ok);
    let (first, rest) = bytes.split_at(32 * 10);
    let chunk = |offset, scalars| RequestBody::MsmChunk { offset, scalars };
    let at = |detail| {
        Got::Err(ErrorReply {
            code: ErrorCode::BadOffset,
            detail,
        })
    };
    assert_eq!(h.ask(chunk(0, first)), Got::Ok);
    assert_eq!(h.ask(chunk(0, first)), at(10));
    assert_eq!(h.ask(chunk(20, &rest[..320])), at(10));
    let fault = RequestBody::Fault {
        about: 3,
        code: ErrorCode::BadCrc,
        detail: 0,
    };
    assert_eq!(h.ask(fault), Got::Ok);
    assert_eq!(h.ask(chunk(10, rest)), Got::Ok);
    assert_eq!(h.ask(RequestBody::MsmEnd), Got::Sum(want));
    assert_eq!(h.ask(RequestBody::MsmEnd), Got::Sum(want));
    assert_eq!(h.server.faults(), 1);
    // Any other refusal abandons the job: its end is then out of sequence.
    assert_eq!(h.ask(begin), Got::Ok);
    let got = h.ask(chunk(0, &[0xff; 32]));
    assert!(matches!(got, Got::Err(e) if e.code == ErrorCode::NonCanonical));
    assert!(
        matches!(h.ask(RequestBody::MsmEnd), Got::Err(e) if e.code == ErrorCode::OutOfSequence)
    );
    // Past the loaded bases, and a third set beyond the two slots.
    let got = h.ask(RequestBody::MsmBegin {
        handle,
        start: 90,
        len: 20,
    });
    assert_eq!(
        got,
        Got::Err(ErrorReply {
            code: ErrorCode::BasesOutOfRange,
            detail: 100
        })
    );
    assert_eq!(h.ask(RequestBody::BasesBegin { len: 0 }), Got::Ok);
    assert!(matches!(h.ask(RequestBody::BasesEnd), Got::Handle(_)));
    assert!(
        matches!(h.ask(RequestBody::BasesBegin { len: 1 }), Got::Err(e) if e.code == ErrorCode::NoBasesSlot)
    );

    // An inverse coset NTT of 2^3, values read back in two pieces.
    let omega = Fr::get_root_of_unity(8).expect("two-adic");
    let values: Vec<Fr> = (0..8).map(|_| Fr::rand(rng)).collect();
    let gen = Fr::from(7u64);
    let got = h.ask(RequestBody::NttBegin {
        log_n: 3,
        omega: elem::encode_fr(&omega),
        direction: Direction::Inverse,
        coset: Some(elem::encode_fr(&gen)),
    });
    assert_eq!(got, Got::Ok);
    let bytes = bytes_of(&values);
    assert_eq!(
        h.ask(RequestBody::NttChunk {
            offset: 0,
            values: &bytes
        }),
        Got::Ok
    );
    assert_eq!(h.ask(RequestBody::NttRun), Got::Done);
    // Its reply lost, the run is asked for again: the NTT is not run twice on its output.
    assert_eq!(h.ask(RequestBody::NttRun), Got::Done);
    let mut want = values.clone();
    let domain = accel_backends::Domain::new(3, omega).expect("domain");
    accel_backends::Backend::ntt(
        &mut CpuBackend::new(),
        &mut want,
        &domain,
        accel_backends::NttOp::coset_inverse(gen),
    )
    .expect("cpu ntt");
    assert_eq!(
        h.ask(RequestBody::NttRead {
            offset: 0,
            count: 5
        }),
        Got::Values(want[..5].to_vec())
    );
    assert_eq!(
        h.ask(RequestBody::NttRead {
            offset: 5,
            count: 3
        }),
        Got::Values(want[5..].to_vec())
    );
    // A root of the wrong order, and a wrong version.
    let got = h.ask(RequestBody::NttBegin {
        log_n: 4,
        omega: elem::encode_fr(&omega),
        direction: Direction::Forward,
        coset: None,
    });
    assert!(matches!(got, Got::Err(e) if e.code == ErrorCode::InvalidRoot));
    let got = h.ask(RequestBody::Hello {
        version: VERSION + 1,
        max_frame: 4096,
    });
    assert!(matches!(got, Got::Err(e) if e.code == ErrorCode::VersionMismatch));
}
