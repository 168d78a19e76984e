//! Proof files are canonical: one proof, one encoding, one digest. Every bit of a proof file
//! flipped on its own is rejected; the encodings halo2-axiom or postcard would let through
//! (a compressed point's stray infinity flag, overlong varints, a scalar not reduced) are refused
//! by zkedge before halo2 reads them.

use halo2_proofs::{
    halo2curves::{
        bn256::{Fr, G1Affine},
        ff::{Field, PrimeField},
    },
    plonk::verify_proof,
    poly::kzg::{
        commitment::KZGCommitmentScheme, multiopen::VerifierGWC, strategy::SingleStrategy,
    },
    transcript::{Blake2bRead, Challenge255, TranscriptReadBuffer},
};
use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    bundle::Bundle,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen, ProofError, ProofFile},
    srs,
};
use zkedge_kernel::{
    layout::Layout,
    model::{synthetic, synthetic::Spec},
};

fn setup() -> (Keys, ProofFile) {
    let mut rng = StdRng::seed_from_u64(accel_conformance::test_seed("canonical"));
    let model = synthetic::model(&mut rng, [1, 1, 16], &[Spec::Dense { out: 2 }]);
    let k = Layout::new(&model).unwrap().k();
    let keys = keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap();
    let input = synthetic::input(&mut rng, &keys.model);
    let file = proof::prove_halo2(&keys, &input, MultiOpen::Gwc, &mut rng)
        .unwrap()
        .file;
    (keys, file)
}

/// halo2-axiom's stock verifier on a bare transcript, as any halo2 user would call it.
fn stock_accepts(keys: &Keys, file: &ProofFile, transcript: &[u8]) -> bool {
    let inst = file.instance();
    let mut t = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(transcript);
    verify_proof::<KZGCommitmentScheme<_>, VerifierGWC<_>, _, _, _>(
        &keys.srs,
        &keys.vk,
        SingleStrategy::new(&keys.srs),
        &[&[&inst]],
        &mut t,
    )
    .is_ok()
}

#[test]
fn every_bit_of_a_proof_file_flipped_alone_is_rejected() {
    let (keys, file) = setup();
    let bundle = Bundle::of(&keys);
    let bytes = file.to_bytes();
    bundle
        .verify(&ProofFile::from_bytes(&bytes).unwrap())
        .unwrap();
    let bits = bytes.len() * 8;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let accepted: Vec<usize> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (bundle, bytes) = (&bundle, &bytes);
                s.spawn(move || {
                    (t..bits)
                        .step_by(threads)
                        .filter(|&bit| {
                            let mut damaged = bytes.clone();
                            damaged[bit / 8] ^= 1 << (bit % 8);
                            ProofFile::from_bytes(&damaged)
                                .and_then(|f| bundle.verify(&f))
                                .is_ok()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        accepted.is_empty(),
        "{} of {bits} single-bit flips accepted, e.g. bits {:?}",
        accepted.len(),
        &accepted[..accepted.len().min(8)]
    );
    // Truncations and an extra byte, too.
    for len in [0, 3, 4, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(ProofFile::from_bytes(&bytes[..len])
            .and_then(|f| bundle.verify(&f))
            .is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ProofFile::from_bytes(&longer).is_err());
}

#[test]
fn a_stray_infinity_flag_passes_halo2_but_not_zkedge() {
    let (keys, file) = setup();
    assert!(stock_accepts(&keys, &file, &file.proof));
    // The transcript is a run of 32-byte points and scalars. Bit 7 of a point's last byte is the
    // infinity flag, which halo2curves-axiom 0.7.3 ignores when x ≠ 0; in a scalar it makes the
    // value exceed the modulus.
    let mut points = 0;
    for at in (31..file.proof.len()).step_by(32) {
        let mut edited = file.clone();
        edited.proof[at] |= 0x80;
        if edited.proof[at] == file.proof[at] {
            continue;
        }
        if stock_accepts(&keys, &edited, &edited.proof) {
            points += 1;
        }
        let err = proof::verify(&keys, &edited).unwrap_err();
        assert!(
            err.to_string().contains("non-canonical"),
            "byte {at}: {err}"
        );
    }
    assert!(
        points >= 10,
        "the premise: halo2 accepts the flag on every point (saw {points})"
    );
}

#[test]
fn overlong_varints_decode_in_postcard_and_are_refused() {
    let (keys, file) = setup();
    let bytes = file.to_bytes();
    // The version (4) is the first varint after the magic: 0x04 → 0x84 0x00.
    assert_eq!(bytes[4], 4);
    let overlong = [&bytes[..4], &[0x84, 0x00], &bytes[5..]].concat();
    let decoded: ProofFile = postcard::from_bytes(&overlong[4..]).unwrap();
    assert_eq!(
        decoded, file,
        "the premise: postcard reads overlong varints"
    );
    assert!(matches!(
        ProofFile::from_bytes(&overlong),
        Err(ProofError::NonCanonical(_))
    ));
    // The class, just before what the proof reveals of the input (private: one byte, the
    // variant), the weights' hash (fixed weights: one byte, none) and the transcript's length:
    // class c → c | 0x80, 0x00.
    let tail = postcard::to_allocvec(&(&file.input, &file.weights, &file.proof)).unwrap();
    let at = bytes.len() - tail.len() - 1;
    assert_eq!(u32::from(bytes[at]), file.class);
    let overlong = [&bytes[..at], &[bytes[at] | 0x80, 0x00], &bytes[at + 1..]].concat();
    assert_eq!(
        postcard::from_bytes::<ProofFile>(&overlong[4..]).unwrap(),
        file
    );
    assert!(ProofFile::from_bytes(&overlong).is_err());
    proof::verify(&keys, &ProofFile::from_bytes(&bytes).unwrap()).unwrap();
}

#[test]
fn a_scalar_not_reduced_is_refused() {
    let (keys, file) = setup();
    // The last 32 bytes of a GWC transcript are a point; find a scalar that has room to add r.
    let r = {
        let mut r = (-Fr::ONE).to_repr();
        r[0] += 1; // r − 1 ends in ...00 (r is odd and r − 1 = 2^28·t), so no carry
        r
    };
    let mut refused = 0;
    for at in (0..file.proof.len()).step_by(32) {
        let chunk: [u8; 32] = file.proof[at..at + 32].try_into().unwrap();
        let Some(value) = Option::<Fr>::from(Fr::from_repr(chunk)) else {
            continue;
        };
        // value + r, if it fits in 256 bits: the same residue, another encoding.
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let s = u16::from(chunk[i]) + u16::from(r[i]) + carry;
            sum[i] = s as u8;
            carry = s >> 8;
        }
        if carry != 0 || value.to_repr() != chunk {
            continue;
        }
        let mut edited = file.clone();
        edited.proof[at..at + 32].copy_from_slice(&sum);
        assert!(proof::verify(&keys, &edited).is_err(), "byte {at}");
        refused += 1;
    }
    assert!(refused > 0);
}

#[test]
fn a_proofs_digest_is_the_digest_of_its_one_encoding() {
    let (_, file) = setup();
    let bytes = file.to_bytes();
    let parsed = ProofFile::from_bytes(&bytes).unwrap();
    assert_eq!(parsed.digest(), zkedge::files::hash(&bytes));
    assert_eq!(parsed.to_bytes(), bytes);
}
