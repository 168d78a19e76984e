//! The device's side of the link (`zkedge-device`, the code the firmware runs) against the host
//! driver (`zkedge serve`'s service), in process over a socket pair: both modes end to end,
//! the NTT policy, damaged and hostile replies, a silent host, and refused uploads.

mod common;

use std::{
    io::{Read, Write},
    os::unix::net::{UnixListener, UnixStream},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use accel_backends::{wire::FRAME, Backend, Checked, CpuBackend, Fr};
use accel_proto::{
    encode_reply, ErrorCode, MultiOpen, Reply, ReplyBody, RequestBody, Stats, WirePoint,
};
use common::line::SocketLine;
use rand::{Rng, SeedableRng};
use zkedge::{
    bundled,
    keys::{self, Keys, SrsOrigin},
    router::{Policy, Router, RouterStats},
    serve::{self, port, Mode, Report, ServiceConfig},
    srs,
};
use zkedge_device::{session, CallError, Client, ClientConfig, Line, Remote, Timeouts, Wait};
use zkedge_kernel::{
    infer::infer,
    layout::{Layout, Witness},
    model::Model,
    prover::{self, Prepared, Srs},
};

/// The device's clock for its router's breaker.
fn millis() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

fn keys() -> Keys {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::new(&model).unwrap().k();
    keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
}

/// A sample's witness, output and class.
fn observe(keys: &Keys, sample: usize) -> (Witness, Vec<i8>, u32) {
    let input = &bundled::samples().unwrap().inputs[sample];
    let trace = infer(&keys.model, input).unwrap();
    let witness = keys.layout.witness(&keys.model, &trace).unwrap();
    (witness, trace.output().to_vec(), trace.class() as u32)
}

/// The host driver on one end of a socket pair, in a thread; the device's line on the other.
fn host(keys: Keys, config: ServiceConfig) -> (SocketLine, JoinHandle<(Report, u64, RouterStats)>) {
    let cpu_only = Router::new(Box::new(CpuBackend::new()), Policy::NONE);
    host_with(keys, cpu_only, config)
}

/// The host driver over `router`; its thread returns the report and the NTTs it did.
fn host_with(
    keys: Keys,
    router: Checked<Router>,
    config: ServiceConfig,
) -> (SocketLine, JoinHandle<(Report, u64, RouterStats)>) {
    let (device, mut host) = UnixStream::pair().unwrap();
    let mut server = serve::server(keys, router, config).unwrap();
    let handle = thread::spawn(move || {
        serve::serve_link(&mut server, &mut host).unwrap();
        let ntts = server.backend().counters().ntt_calls;
        let stats = server.backend().stats();
        (server.extension().report().clone(), ntts, stats)
    });
    (SocketLine::new(device), handle)
}

fn quick() -> ClientConfig {
    let mut t = Timeouts::default();
    t.reply_ms = 2_000;
    t.quiet_ms = 20;
    ClientConfig::new(t, 3)
}

/// The device's client, with a session open, on a host serving `keys` in a thread.
fn device(
    keys: Keys,
    config: ServiceConfig,
) -> (Client<SocketLine>, JoinHandle<(Report, u64, RouterStats)>) {
    // A device names its model by the hash of the model it runs, weights included.
    let model_id = keys.model_id;
    let (line, host) = host(keys, config);
    let mut remote = Remote::new(Client::new(line, quick()), millis);
    remote.hooks_mut().client().connect(3).unwrap();
    session::open(&mut remote, &model_id).unwrap();
    (remote.into_hooks().into_client(), host)
}

/// Two copies of the bundled model's keys with `input` visibility: one served, one to check
/// the served proofs with.
fn keys_with(input: zkedge_kernel::layout::Visibility) -> (Keys, Keys) {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::with_input(&model, input).unwrap().k();
    let make =
        || keys::generate_with(model.clone(), srs::dev(k), SrsOrigin::InsecureDev, input).unwrap();
    (make(), make())
}

/// The file the host wrote for its one proof.
fn only_proof(report: &Report) -> zkedge::proof::ProofFile {
    assert_eq!(report.proofs.len(), 1, "{report:?}");
    let path = report.proofs[0]
        .file
        .as_ref()
        .expect("the proof was written");
    zkedge::proof::ProofFile::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

/// Whether `r` is a refusal with `code`.
fn refused_with(r: &Result<session::Proved, CallError>, code: ErrorCode) {
    assert!(
        matches!(r, Err(CallError::Refused(e)) if e.code == code),
        "expected {code:?}: {r:?}"
    );
}

#[test]
fn witness_mode_proves_on_the_host() {
    let keys = keys();
    let model_hash = keys.model_hash;
    let k = keys.layout.k();
    let (witness, output, class) = observe(&keys, 0);
    let (line, host) = host(keys, ServiceConfig::default());
    let mut remote = Remote::new(Client::new(line, quick()), millis);
    remote.hooks_mut().client().connect(3).unwrap();
    let s = session::open(&mut remote, &model_hash).unwrap();
    assert_eq!(u32::from(s.info.k), k);
    assert_eq!(s.info.ntt_min_log, accel_proto::NTT_NEVER);
    let mut client = remote.into_hooks().into_client();
    let proved =
        session::send_witness(&mut client, &witness.advice, &output, class, MultiOpen::Gwc)
            .unwrap();
    let stats = client.stats();
    drop(client);
    let (report, _, _) = host.join().unwrap();
    assert_eq!(report.proofs.len(), 1);
    let p = &report.proofs[0];
    assert_eq!(p.mode, Mode::Witness);
    assert_eq!(p.digest, hex(&proved.digest));
    assert_eq!((p.output.clone(), p.class), (output, class));
    // The witness travels as varints: a fraction of 32 bytes a value.
    let values: usize = witness.advice.iter().map(Vec::len).sum();
    assert!(
        report.witness_bytes < 2 * values as u64,
        "{} bytes for {values} values",
        report.witness_bytes
    );
    assert!(stats.tx_bytes < 3 * values as u64);
}

#[test]
fn input_mode_runs_the_model_on_the_host_and_holds_the_device_to_its_output() {
    let keys = keys();
    let input_len = keys.model.input_len();
    let values: usize = keys.layout.advice_columns().count() * keys.layout.rows();
    let input = bundled::samples().unwrap().inputs[1].clone();
    let trace = infer(&keys.model, &input).unwrap();
    let (output, class) = (trace.output().to_vec(), trace.class() as u32);
    let (mut client, host) = device(keys, ServiceConfig::default());

    // A claimed output the model does not give on this input is refused, whichever part lies.
    let mut lie = output.clone();
    lie[0] = lie[0].wrapping_add(1);
    let refused = session::send_input(&mut client, &input, &lie, class, MultiOpen::Gwc);
    assert!(
        matches!(&refused, Err(CallError::Refused(r)) if r.code == ErrorCode::Unsatisfied),
        "{refused:?}"
    );
    let other = (class + 1) % output.len() as u32;
    let refused = session::send_input(&mut client, &input, &output, other, MultiOpen::Gwc);
    assert!(
        matches!(&refused, Err(CallError::Refused(r)) if r.code == ErrorCode::Unsatisfied),
        "{refused:?}"
    );
    // An input of another length is refused before anything is allocated.
    let refused = session::send_input(&mut client, &input[1..], &output, class, MultiOpen::Gwc);
    assert!(
        matches!(&refused, Err(CallError::Refused(r)) if r.code == ErrorCode::BadLength && r.detail as usize == input_len),
        "{refused:?}"
    );

    let before = client.stats().tx_bytes;
    let proved =
        session::send_input(&mut client, &input, &output, class, MultiOpen::Shplonk).unwrap();
    let sent = client.stats().tx_bytes - before;
    drop(client);
    let (report, _, _) = host.join().unwrap();
    assert_eq!(report.proofs.len(), 1, "{report:?}");
    let p = &report.proofs[0];
    assert_eq!(p.mode, Mode::Input);
    assert_eq!(p.digest, hex(&proved.digest));
    assert_eq!((p.output.clone(), p.class), (output, class));
    // The link carries the input, not the witness: bytes, not one or more per witness value.
    assert_eq!(report.input_bytes, 3 * input_len as u64);
    assert!(
        sent < values as u64 / 4,
        "{sent} bytes up for {values} witness values"
    );
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Proves sample `sample` on the "device" through `remote`; returns the proof bytes.
fn prove_on_device<L: Line>(
    remote: &mut Checked<Remote<L>>,
    s: &session::Session,
    prepared: &Prepared,
    keys_witness: (&Witness, &[i8], u32),
) -> Vec<u8> {
    let (witness, _, _) = keys_witness;
    let (advice, instance) = witness.to_field();
    let srs = Srs {
        monomial: s.monomial,
        lagrange: s.lagrange,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    prover::prove(
        prepared,
        remote,
        &srs,
        advice,
        &instance,
        prover::MultiOpen::Gwc,
        &mut rng,
    )
    .unwrap()
    .bytes
}

fn device_proving(config: ServiceConfig) -> (Report, u64, u64, u64) {
    let keys = keys();
    let model_hash = keys.model_hash;
    let key = keys.zk.clone().unwrap();
    let (witness, output, class) = observe(&keys, 3);
    let (line, host) = host(keys, config);
    let mut remote = Remote::new(Client::new(line, quick()), millis);
    remote.hooks_mut().client().connect(3).unwrap();
    let s = session::open(&mut remote, &model_hash).unwrap();
    let prepared = Prepared::new(key, &mut remote).unwrap();
    let proof = prove_on_device(&mut remote, &s, &prepared, (&witness, &output, class));
    let proved = session::submit_proof(
        remote.hooks_mut().client(),
        &proof,
        &output,
        class,
        MultiOpen::Gwc,
    )
    .unwrap();
    assert_eq!(proved.digest, session::digest(&proof));
    assert_eq!(proved.len as usize, proof.len());
    let local = remote.local().counters().ntt_calls;
    let sent = remote.remote_ntts();
    let msms = remote.counters().msm_calls;
    drop(remote);
    let (report, host_ntts, _) = host.join().unwrap();
    assert_eq!(report.proofs.len(), 1);
    assert_eq!(report.proofs[0].mode, Mode::DeviceProving);
    assert!(msms > 0);
    (report, local, sent, host_ntts)
}

#[test]
fn serve_checks_its_accelerators_msms_before_relaying_them_to_the_device() {
    use accel_backends::wire::{
        faults::Faults, loopback::Loopback, ClientConfig as WireConfig, ServeConfig, Server,
        WireBackend,
    };
    let keys = keys();
    let model_hash = keys.model_hash;
    let key = keys.zk.clone().unwrap();
    let (witness, output, class) = observe(&keys, 2);
    // The host's accelerator answers its fifth MSM with the negated sum, a sound frame.
    let faults = Faults {
        lie_msm: Some(4),
        ..Faults::default()
    };
    let line = Loopback::with_faults(
        Server::new(CpuBackend::new(), ServeConfig::default()),
        faults,
    );
    let mut accel = WireBackend::new(
        zkedge_device::Client::new(line, WireConfig::default()),
        "lying",
    );
    accel.connect(1).unwrap();
    let mut router = Router::new(Box::new(accel.checked()), Policy::ALL);
    zkedge::router::check_results(&mut router, &keys.srs);
    let (line, host) = host_with(keys, router, ServiceConfig::default());
    let mut remote = Remote::new(Client::new(line, quick()), millis);
    remote.hooks_mut().client().connect(3).unwrap();
    let s = session::open(&mut remote, &model_hash).unwrap();
    let prepared = Prepared::new(key, &mut remote).unwrap();
    let proof = prove_on_device(&mut remote, &s, &prepared, (&witness, &output, class));
    // The device's proof, made with every MSM relayed from the host, verifies.
    let proved = session::submit_proof(
        remote.hooks_mut().client(),
        &proof,
        &output,
        class,
        MultiOpen::Gwc,
    )
    .unwrap();
    assert_eq!(proved.digest, session::digest(&proof));
    drop(remote);
    let (report, _, stats) = host.join().unwrap();
    assert_eq!(report.proofs.len(), 1);
    assert_eq!(
        stats.wrong, 1,
        "the lie was caught by the router's check: {stats:?}"
    );
    assert!(
        stats.reference_jobs >= 1,
        "and the MSM redone on the CPU: {stats:?}"
    );
}

#[test]
fn device_proofs_verify_on_the_host_with_ntts_kept_on_the_device() {
    let (_, local, sent, _) = device_proving(ServiceConfig::default());
    assert!(local > 0);
    assert_eq!(sent, 0, "the default policy keeps every NTT on the device");
}

#[test]
fn the_host_policy_can_take_the_large_ntts() {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::new(&model).unwrap().k();
    let mut config = ServiceConfig::default();
    config.ntt_min_log = (k + 1) as u8;
    let (_, local, sent, host_ntts) = device_proving(config);
    // The extended-domain NTT (2^(k+2)) goes to the host, the 2^k ones stay.
    assert!(sent >= 1, "no NTT went to the host");
    assert!(local > 0);
    assert!(host_ntts >= sent);
}

#[test]
fn damaged_replies_are_refused_and_the_job_retried() {
    let keys = keys();
    let model_hash = keys.model_hash;
    let (witness, output, class) = observe(&keys, 1);
    let (mut line, host) = host(keys, ServiceConfig::default());
    // One byte in 400: the packed circuit's witness is about twice the first one's bytes.
    line.damage = Some(400);
    let mut remote = Remote::new(
        Client::new(line, ClientConfig::new(quick().timeouts, 8)),
        millis,
    );
    remote.hooks_mut().client().connect(10).unwrap();
    let mut proved = None;
    // Each layer retries: the client its jobs, the caller (as the firmware does) the session.
    for _ in 0..10 {
        let attempt = session::open(&mut remote, &model_hash).and_then(|_| {
            session::send_witness(
                remote.hooks_mut().client(),
                &witness.advice,
                &output,
                class,
                MultiOpen::Gwc,
            )
        });
        match attempt {
            Ok(p) => {
                proved = Some(p);
                break;
            }
            Err(e) => assert!(e.is_transient(), "{e}"),
        }
    }
    let proved = proved.expect("the witness got through");
    let stats = remote.client_ref().stats();
    // Each damaged reply is refused with a Fault and its request sent again: the frame is
    // retransmitted, not the job.
    assert!(
        stats.faults >= 1 && stats.retransmits >= stats.faults,
        "{stats:?}"
    );
    drop(remote);
    let (report, _, _) = host.join().unwrap();
    assert!(report.faults >= 1);
    assert!(report
        .proofs
        .iter()
        .any(|p| p.digest == hex(&proved.digest)));
}

#[test]
fn a_silent_host_times_out_and_says_so() {
    let (device, _host) = UnixStream::pair().unwrap();
    let mut t = Timeouts::default();
    t.reply_ms = 200;
    t.quiet_ms = 10;
    let mut client = Client::new(SocketLine::new(device), ClientConfig::new(t, 2));
    let start = Instant::now();
    assert_eq!(client.connect(3), Err(CallError::Timeout));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(client.stats().timeouts, 3);
}

#[test]
fn a_closed_line_is_not_retried() {
    let (device, host) = UnixStream::pair().unwrap();
    drop(host);
    let mut client = Client::new(SocketLine::new(device), quick());
    let e = client.connect(5).unwrap_err();
    assert!(!e.is_transient(), "{e}");
}

/// A fake host that answers every request with something hostile.
fn hostile_host(seed: u64) -> (SocketLine, JoinHandle<()>) {
    let (device, mut host) = UnixStream::pair().unwrap();
    let handle = thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut buf = [0u8; 4096];
        let mut out = vec![0u8; FRAME + 1];
        let point = WirePoint {
            x: [0xff; 32],
            y: [1; 32],
        };
        while let Ok(n) = host.read(&mut buf) {
            if n == 0 {
                break;
            }
            let id = rng.gen_range(0..8u32);
            let body = match rng.gen_range(0..8) {
                0 => ReplyBody::Ok,
                1 => ReplyBody::MsmDone {
                    sum: point,
                    stats: Stats::default(),
                },
                2 => ReplyBody::NttValues {
                    offset: rng.gen(),
                    values: &[0xff; 64],
                },
                3 => ReplyBody::Proved {
                    digest: [0; 32],
                    len: rng.gen(),
                    millis: 0,
                },
                _ => ReplyBody::Error(accel_proto::ErrorReply {
                    code: ErrorCode::Device,
                    detail: rng.gen(),
                }),
            };
            let bytes: Vec<u8> = match rng.gen_range(0..3) {
                0 => (0..rng.gen_range(1..600)).map(|_| rng.gen()).collect(),
                _ => encode_reply(id, body, &mut out, FRAME).unwrap().to_vec(),
            };
            if host.write_all(&bytes).is_err() {
                break;
            }
        }
    });
    (SocketLine::new(device), handle)
}

#[test]
fn hostile_replies_are_errors_not_panics() {
    for seed in 0..4 {
        let (line, host) = hostile_host(seed);
        let mut t = Timeouts::default();
        t.reply_ms = 100;
        t.work_ms = 100;
        t.prove_ms = 100;
        t.quiet_ms = 5;
        // Stale and garbled replies make the client wait out its reply window and send again:
        // two attempts a request keep the test short.
        let mut config = ClientConfig::new(t, 1);
        config.attempts = 2;
        let mut remote = Remote::new(Client::new(line, config), millis);
        let _ = remote.hooks_mut().client().connect(2);
        let adopted = remote.hooks_mut().adopt_bases(0, 16).unwrap();
        let h = remote.handle_for(adopted).unwrap();
        for _ in 0..10 {
            let scalars = [Fr::from(3u64); 5];
            let _ = remote.msm(h, 0, &scalars);
            let _ = session::open(&mut remote, &[0; 32]);
            let _ = session::submit_proof(
                remote.hooks_mut().client(),
                &[1; 100],
                &[0, 0],
                0,
                MultiOpen::Gwc,
            );
            let _ = session::send_witness(
                remote.hooks_mut().client(),
                &[vec![1, 2, 3]],
                &[0, 0],
                0,
                MultiOpen::Gwc,
            );
        }
        drop(remote);
        host.join().unwrap();
    }
}

/// Sends one request and returns the host's error code, if it refused.
fn refusal<L: Line>(client: &mut Client<L>, body: RequestBody<'_>) -> Option<ErrorCode> {
    let deadline = client.now_ms() + 5_000;
    match client.call(body, Wait::Reply(16), deadline) {
        Err(CallError::Refused(r)) => Some(r.code),
        Ok(_) => None,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_host_refuses_what_does_not_fit_the_keys() {
    let keys = keys();
    let model_hash = keys.model_hash;
    let rows = keys.layout.rows() as u32;
    let columns = keys.layout.advice_columns().count() as u16;
    let (line, host) = host(keys, ServiceConfig::default());
    let mut client = Client::new(line, quick());
    client.connect(3).unwrap();
    let begin = |columns, rows, output: &'static [u8]| RequestBody::WitnessBegin {
        columns,
        rows,
        output,
        class: 0,
    };
    // Nothing before a session; no session for another model.
    assert_eq!(
        refusal(&mut client, begin(columns, rows, &[0, 0])),
        Some(ErrorCode::NoSession)
    );
    assert_eq!(
        refusal(&mut client, RequestBody::Session { model: [9; 32] }),
        Some(ErrorCode::UnknownModel)
    );
    assert_eq!(
        refusal(&mut client, RequestBody::Session { model: model_hash }),
        None
    );
    // Shapes are the keys', not the peer's.
    assert_eq!(
        refusal(&mut client, begin(columns, u32::MAX, &[0, 0])),
        Some(ErrorCode::BadLength)
    );
    assert_eq!(
        refusal(&mut client, begin(60_000, rows, &[0, 0])),
        Some(ErrorCode::BadLength)
    );
    assert_eq!(
        refusal(&mut client, begin(columns, rows, &[0, 0, 0])),
        Some(ErrorCode::BadLength)
    );
    // Chunks: in order, within the rows, well-formed.
    assert_eq!(refusal(&mut client, begin(columns, rows, &[0, 0])), None);
    let chunk = |column, offset, values: &'static [u8]| RequestBody::WitnessChunk {
        column,
        offset,
        values,
    };
    // A chunk past where the upload stands is refused with that place (protocol v2: the
    // upload is kept, for a client that lost a chunk to resume).
    assert_eq!(
        refusal(&mut client, chunk(1, 0, &[2])),
        Some(ErrorCode::BadOffset)
    );
    assert_eq!(refusal(&mut client, begin(columns, rows, &[0, 0])), None);
    assert_eq!(
        refusal(&mut client, chunk(0, 5, &[2])),
        Some(ErrorCode::BadOffset)
    );
    assert_eq!(refusal(&mut client, begin(columns, rows, &[0, 0])), None);
    assert_eq!(
        refusal(&mut client, chunk(0, 0, &[0x80])),
        Some(ErrorCode::Malformed)
    );
    assert_eq!(refusal(&mut client, begin(columns, rows, &[0, 0])), None);
    assert_eq!(
        refusal(
            &mut client,
            RequestBody::WitnessEnd {
                multiopen: MultiOpen::Gwc
            }
        ),
        Some(ErrorCode::Incomplete)
    );
    // A witness of the right shape that does not satisfy the circuit.
    let zeros = vec![vec![5i64; rows as usize]; usize::from(columns)];
    let e = session::send_witness(&mut client, &zeros, &[0, 0], 1, MultiOpen::Gwc).unwrap_err();
    assert_eq!(
        e,
        CallError::Refused(accel_proto::ErrorReply {
            code: ErrorCode::Unsatisfied,
            detail: 0
        })
    );
    // A proof that does not verify, and one too large to take.
    let e = session::submit_proof(&mut client, &[7; 2528], &[0, 0], 0, MultiOpen::Gwc).unwrap_err();
    assert!(
        matches!(e, CallError::Refused(r) if r.code == ErrorCode::InvalidProof),
        "{e}"
    );
    // The session keeps NTTs on the device (the default policy): an NTT the device sends
    // anyway is refused, not computed.
    let ntt = RequestBody::NttBegin {
        log_n: 12,
        omega: accel_proto::elem::encode_fr(
            &accel_backends::Domain::with_halo2_root(12).unwrap().omega(),
        ),
        direction: accel_proto::Direction::Forward,
        coset: None,
    };
    assert_eq!(refusal(&mut client, ntt), Some(ErrorCode::Forbidden));
    let huge = RequestBody::ProofBegin {
        len: u32::MAX,
        output: &[0, 0],
        class: 0,
        multiopen: MultiOpen::Gwc,
    };
    assert_eq!(refusal(&mut client, huge), Some(ErrorCode::SizeUnsupported));
    drop(client);
    let (report, _, _) = host.join().unwrap();
    assert!(report.proofs.is_empty());
    assert!(report.refused.len() >= 10);
}

#[test]
fn a_device_that_stops_reading_loses_its_session_and_the_host_serves_on() {
    let keys = keys();
    let model_hash = keys.model_hash;
    let rows = keys.layout.rows() as u32;
    let (line, host) = host(keys, ServiceConfig::default());
    let mut raw = line.stream.try_clone().unwrap();
    let mut client = Client::new(line, quick());
    client.connect(3).unwrap();
    assert_eq!(
        refusal(&mut client, RequestBody::Session { model: model_hash }),
        None
    );
    // Requests, and never a reply read: far more replies than the host will hold.
    let mut out = vec![0u8; FRAME + 1];
    for id in 1_000..41_000u32 {
        let hello = RequestBody::Hello {
            version: accel_proto::VERSION,
            max_frame: FRAME as u32,
        };
        let frame = accel_proto::encode_request(id, hello, &mut out, FRAME).unwrap();
        raw.write_all(frame).unwrap();
    }
    // Reading again: the host still answers, and the session is gone.
    client.resync().unwrap();
    let begin = RequestBody::WitnessBegin {
        columns: 6,
        rows,
        output: &[0, 0],
        class: 0,
    };
    assert_eq!(refusal(&mut client, begin), Some(ErrorCode::NoSession));
    assert_eq!(
        refusal(&mut client, RequestBody::Session { model: model_hash }),
        None
    );
    drop((client, raw));
    let (report, _, _) = host.join().unwrap();
    // One session, dropped once (the replies that piled up after it are discarded quietly).
    assert_eq!(report.dropped_sessions, 1);
}

#[test]
fn ports_open_unix_sockets() {
    let dir = std::env::temp_dir().join(format!("zkedge-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let accept = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hi").unwrap();
    });
    let spec = format!("unix:{}", path.display());
    let mut p = port::open(&spec, 115_200, Duration::from_secs(5)).unwrap();
    let mut buf = [0u8; 2];
    p.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    accept.join().unwrap();
    assert!(port::open(
        &format!("unix:{}", dir.join("none.sock").display()),
        115_200,
        Duration::from_millis(200)
    )
    .is_err());
    let _ = std::fs::remove_dir_all(&dir);
    // Replies are typed: the frame a fake host writes above decodes as what it says.
    let mut out = [0u8; 64];
    let frame = encode_reply(3, ReplyBody::Ok, &mut out, 64).unwrap();
    let len = frame.len() - 1;
    let body = accel_proto::open(&mut frame[..len]).unwrap();
    assert_eq!(
        accel_proto::parse_reply(body).unwrap(),
        Reply {
            id: 3,
            body: ReplyBody::Ok
        }
    );
}

#[test]
fn public_input_keys_serve_input_mode_and_refuse_the_modes_without_the_input() {
    use zkedge::proof::{self, Revealed};
    use zkedge_kernel::layout::Visibility;

    let (keys, check) = keys_with(Visibility::Public);
    let input = bundled::samples().unwrap().inputs[2].clone();
    let trace = infer(&keys.model, &input).unwrap();
    let (output, class) = (trace.output().to_vec(), trace.class() as u32);
    let witness = keys.layout.witness(&keys.model, &trace).unwrap();
    let out = std::env::temp_dir().join(format!("zkedge-public-serve-{}", std::process::id()));
    let mut config = ServiceConfig::default();
    config.out_dir = Some(out.clone());
    let (mut client, host) = device(keys, config);

    // A witness carries no input for the instance: refused before anything is uploaded.
    let refused =
        session::send_witness(&mut client, &witness.advice, &output, class, MultiOpen::Gwc);
    refused_with(&refused, ErrorCode::Forbidden);
    let proved = session::send_input(&mut client, &input, &output, class, MultiOpen::Gwc).unwrap();
    drop(client);
    let (report, _, _) = host.join().unwrap();
    let file = only_proof(&report);
    assert_eq!(file.input, Revealed::Input(input.clone()));
    assert_eq!(hex(&zkedge::files::hash(&file.proof)), hex(&proved.digest));
    proof::verify(&check, &file).unwrap();
    // The same proof claiming another input does not verify.
    let mut other = file.clone();
    let mut lie = input;
    lie[0] = lie[0].wrapping_add(1);
    other.input = Revealed::Input(lie);
    assert!(proof::verify(&check, &other).is_err());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn hashed_input_keys_prove_the_commitment_the_device_claims() {
    use halo2_proofs::halo2curves::ff::PrimeField;
    use zkedge::proof::{self, Revealed};
    use zkedge_device::session::Salted;
    use zkedge_kernel::layout::Visibility;

    let (hashed, check) = keys_with(Visibility::Hashed);
    let input = bundled::samples().unwrap().inputs[1].clone();
    let trace = infer(&hashed.model, &input).unwrap();
    let (output, class) = (trace.output().to_vec(), trace.class() as u32);
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let salt = proof::random_salt(&mut rng);
    // The device's own commitment: the kernel's Poseidon, as the firmware computes it.
    let commitment = proof::commitment(&input, &salt).to_repr();
    let salted = Salted {
        salt: salt.to_repr(),
        commitment,
    };
    let out = std::env::temp_dir().join(format!("zkedge-hashed-serve-{}", std::process::id()));
    let mut config = ServiceConfig::default();
    config.out_dir = Some(out.clone());
    let (mut client, served) = device(hashed, config);

    // No salt, no proof: a proof of these keys always commits to something.
    let plain = session::send_input(&mut client, &input, &output, class, MultiOpen::Gwc);
    refused_with(&plain, ErrorCode::Forbidden);
    // A commitment the input and salt do not give (the device's hash of another reading).
    let mut other = input.clone();
    other[0] = other[0].wrapping_add(1);
    let lie = Salted {
        commitment: proof::commitment(&other, &salt).to_repr(),
        ..salted
    };
    let lied =
        session::send_hashed_input(&mut client, &input, &lie, &output, class, MultiOpen::Gwc);
    refused_with(&lied, ErrorCode::Unsatisfied);
    // A salt that is not a canonical scalar.
    let wide = Salted {
        salt: [0xff; 32],
        ..salted
    };
    let bad =
        session::send_hashed_input(&mut client, &input, &wide, &output, class, MultiOpen::Gwc);
    refused_with(&bad, ErrorCode::NonCanonical);
    // A witness carries no salt: refused like a public-input key's.
    let witness = keys_witness(&check, &trace);
    let w = session::send_witness(&mut client, &witness, &output, class, MultiOpen::Gwc);
    refused_with(&w, ErrorCode::Forbidden);

    let proved =
        session::send_hashed_input(&mut client, &input, &salted, &output, class, MultiOpen::Gwc)
            .unwrap();
    drop(client);
    let (report, _, _) = served.join().unwrap();
    let file = only_proof(&report);
    assert_eq!(file.input, Revealed::Commitment(commitment));
    assert_eq!(
        report.proofs[0].commitment.as_deref(),
        Some(hex(&commitment).as_str())
    );
    assert_eq!(hex(&zkedge::files::hash(&file.proof)), hex(&proved.digest));
    proof::verify(&check, &file).unwrap();
    // The same proof claiming the other reading's commitment does not verify.
    let mut claim = file.clone();
    claim.input = Revealed::Commitment(lie.commitment);
    assert!(proof::verify(&check, &claim).is_err());
    std::fs::remove_dir_all(&out).ok();

    // Keys that keep the input private refuse a salt: no commitment would be proven.
    let (mut client, served) = device(keys(), ServiceConfig::default());
    let salted_to_private =
        session::send_hashed_input(&mut client, &input, &salted, &output, class, MultiOpen::Gwc);
    refused_with(&salted_to_private, ErrorCode::Forbidden);
    drop(client);
    let (report, _, _) = served.join().unwrap();
    assert!(report.proofs.is_empty(), "{report:?}");
}

#[test]
fn hashed_weight_keys_prove_the_devices_input_and_refuse_its_witness() {
    use halo2_proofs::halo2curves::ff::PrimeField;
    use zkedge::proof;
    use zkedge_kernel::layout::{Visibility, Weights};

    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::with_visibility(&model, Visibility::Private, Weights::Hashed)
        .unwrap()
        .k();
    let make = || {
        keys::generate_visible(
            model.clone(),
            srs::dev(k),
            SrsOrigin::InsecureDev,
            Visibility::Private,
            Weights::Hashed,
        )
        .unwrap()
    };
    let (served_keys, check) = (make(), make());
    // Models of one architecture share the keys' model hash; the device names its own model.
    assert_ne!(served_keys.model_id, served_keys.model_hash);
    let input = bundled::samples().unwrap().inputs[2].clone();
    let trace = infer(&model, &input).unwrap();
    let (output, class) = (trace.output().to_vec(), trace.class() as u32);
    let witness = keys_witness(&check, &trace);
    let out = std::env::temp_dir().join(format!("zkedge-weights-serve-{}", std::process::id()));
    let mut config = ServiceConfig::default();
    config.out_dir = Some(out.clone());
    let (mut client, served) = device(served_keys, config);
    // A device's witness carries no weights' hash: refused.
    let w = session::send_witness(&mut client, &witness, &output, class, MultiOpen::Gwc);
    refused_with(&w, ErrorCode::Forbidden);
    session::send_input(&mut client, &input, &output, class, MultiOpen::Gwc).unwrap();
    drop(client);
    let (report, _, _) = served.join().unwrap();
    let file = only_proof(&report);
    assert_eq!(file.weights, Some(proof::weights_hash(&model).to_repr()));
    proof::verify(&check, &file).unwrap();
    std::fs::remove_dir_all(&out).ok();
}

/// The integer witness of a hashed-input key's inference (without its commitment's columns):
/// what a device would send in witness mode.
fn keys_witness(keys: &Keys, trace: &zkedge_kernel::infer::Trace) -> Vec<Vec<i64>> {
    let poseidon = zkedge::poseidon::poseidon();
    keys.layout
        .witness_with_salt(&keys.model, trace, poseidon, Default::default())
        .unwrap()
        .advice
}
