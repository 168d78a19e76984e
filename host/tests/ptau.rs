//! `.ptau` files made by the ecosystem's own tool — snarkjs 0.7.6, installed from npm into
//! target/ — are read point for point as snarkjs reads them, give the Lagrange basis halo2
//! derives itself, and make keys whose proofs verify through the CLI without the dev-SRS flag.
//! Needs `node` and `npm` (`cargo xtask test` installs them).

mod common;

use common::{
    snarkjs::{ceremony, run, snarkjs_dir, POWER},
    zkedge,
};

use std::process::Command;

use halo2_proofs::halo2curves::{
    bn256::{Fq, G1Affine, G2Affine},
    ff::Field,
    CurveAffine,
};
use halo2_proofs::poly::commitment::ParamsProver;
use rand::{rngs::StdRng, SeedableRng};
use zkedge::srs::{self, SrsError, SrsId};
use zkedge_kernel::{
    layout::Layout,
    model::{synthetic, synthetic::Spec, Model},
};

fn fq(decimal: &str) -> Fq {
    decimal.bytes().fold(Fq::ZERO, |acc, d| {
        acc * Fq::from(10) + Fq::from(u64::from(d - b'0'))
    })
}

fn g1_of(v: &serde_json::Value) -> G1Affine {
    let c = |i: usize| fq(v[i].as_str().unwrap());
    G1Affine::from_xy(c(0), c(1)).unwrap()
}

fn g2_of(v: &serde_json::Value) -> G2Affine {
    use halo2_proofs::halo2curves::bn256::Fq2;
    let c = |i: usize| Fq2::new(fq(v[i][0].as_str().unwrap()), fq(v[i][1].as_str().unwrap()));
    G2Affine::from_xy(c(0), c(1)).unwrap()
}

#[test]
fn ptau_points_are_snarkjs_points_and_the_lagrange_basis_is_halo2s() {
    let (contributed, prepared) = ceremony(POWER);
    let srs9 = srs::load(&prepared, 9).unwrap();
    let full = srs::load(&prepared, POWER).unwrap();
    assert_eq!(full.get_g()[..512], srs9.get_g()[..]);
    // snarkjs's own reading of the file, as affine coordinates.
    let dir = snarkjs_dir();
    let dump = run(Command::new("node")
        .arg("ptau_dump.mjs")
        .arg(&prepared)
        .arg("16")
        .current_dir(dir));
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(v["power"], POWER);
    for i in 0..16 {
        assert_eq!(srs9.get_g()[i], g1_of(&v["g1"][i]), "[τ^{i}]₁");
    }
    assert_eq!(G2Affine::generator(), g2_of(&v["g2"][0]));
    assert_eq!(srs9.s_g2(), g2_of(&v["g2"][1]), "[τ]₂");
    assert!(srs::known_secret(&srs9.s_g2()).is_none());

    // The Lagrange points snarkjs prepared (its own root of unity and order), at a size below
    // the file's, are exactly those halo2 derives from the powers (the contributed file has no
    // Lagrange sections, so halo2's g_to_lagrange runs).
    let from_prepared = srs::load(&prepared, 6).unwrap();
    let derived = srs::load(&contributed, 6).unwrap();
    assert_eq!(srs::to_bytes(&from_prepared), srs::to_bytes(&derived));
    assert_eq!(from_prepared.get_g(), &srs9.get_g()[..64]);
    // One ceremony, one identity, whatever the size or the file.
    let (a, b) = (SrsId::of(&srs9), SrsId::of(&derived));
    assert_eq!((a.tau, a.k, b.k), (b.tau, 9, 6));
    // And it is not the development SRS's.
    assert_ne!(a.tau, SrsId::of(&srs::dev(6)).tau);
}

#[test]
fn damaged_ptau_files_are_refused_with_a_reason() {
    let (_, prepared) = ceremony(POWER);
    let good = std::fs::read(&prepared).unwrap();
    let dir = std::env::temp_dir().join(format!("zkedge-ptau-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let g1_start = section(&good, 2);
    // The Lagrange basis of size 2^9 follows those of sizes 1 … 2^8 in section 12.
    let lagrange9 = section(&good, 12) + 64 * 511;
    let swap = |b: &mut Vec<u8>, i: usize, j: usize| {
        let first: Vec<u8> = b[i..i + 64].to_vec();
        let second: Vec<u8> = b[j..j + 64].to_vec();
        b[i..i + 64].copy_from_slice(&second);
        b[j..j + 64].copy_from_slice(&first);
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 7].to_vec()),
        ("padded", [good.clone(), vec![0; 3]].concat()),
        ("header only", good[..20].to_vec()),
        ("another curve", {
            let mut b = good.clone();
            b[section(&good, 1) + 4] ^= 1; // the base field modulus
            b
        }),
        ("a power off the curve", {
            let mut b = good.clone();
            b[g1_start + 64 * 3 + 5] ^= 1;
            b
        }),
        ("a coordinate not below q", {
            let mut b = good.clone();
            b[g1_start + 64 * 2 + 31] = 0xff;
            b
        }),
        ("two powers swapped", {
            let mut b = good.clone();
            swap(&mut b, g1_start + 64, g1_start + 128);
            b
        }),
        ("two Lagrange points swapped", {
            let mut b = good.clone();
            swap(&mut b, lagrange9 + 64 * 3, lagrange9 + 64 * 100);
            b
        }),
        ("a section size changed", {
            let mut b = good.clone();
            b[g1_start - 8] ^= 0x40;
            b
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.join(format!("{}.ptau", name.replace(' ', "-")));
        std::fs::write(&path, &bytes).unwrap();
        let err = srs::load(&path, 9)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        eprintln!("{name}: {err}");
        let expected = match name {
            "two powers swapped" | "two Lagrange points swapped" => {
                matches!(err, SrsError::Inconsistent { .. })
            }
            _ => matches!(err, SrsError::Format { .. }),
        };
        assert!(expected, "{name}: {err}");
    }
    let small = dir.join("small.ptau");
    std::fs::write(&small, &good).unwrap();
    assert!(matches!(
        srs::load(&small, POWER + 1),
        Err(SrsError::TooSmall { have: POWER, .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

/// Where section `kind`'s bytes start in a .ptau file (read here independently of zkedge).
fn section(file: &[u8], kind: u32) -> usize {
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let mut at = 12;
    for _ in 0..word(8) {
        let size = u64::from_le_bytes(file[at + 4..at + 12].try_into().unwrap()) as usize;
        if word(at) == kind {
            return at + 12;
        }
        at += 12 + size;
    }
    panic!("no section {kind}")
}

fn small_model() -> Model {
    let mut rng = StdRng::seed_from_u64(accel_conformance::test_seed("ptau model"));
    synthetic::model(&mut rng, [1, 1, 16], &[Spec::Dense { out: 2 }])
}

#[test]
fn keys_over_a_snarkjs_ceremony_prove_and_verify() {
    let model = small_model();
    let k = Layout::new(&model).unwrap().k();
    assert!(
        k <= POWER,
        "the test ceremony has 2^{POWER} powers; the model needs 2^{k}"
    );
    let (_, ptau) = ceremony(POWER);
    let dir = std::env::temp_dir().join(format!("zkedge-ptau-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    std::fs::write(p("model.json"), model.to_json()).unwrap();
    let input: Vec<String> = (0..16)
        .map(|i| ((i * 37) % 255 - 127).to_string())
        .collect();
    std::fs::write(
        p("input.json"),
        format!("{{\"input\": [{}]}}", input.join(",")),
    )
    .unwrap();

    let (code, out, err) = zkedge(&[
        "setup",
        "--model",
        &p("model.json"),
        "--out",
        &p("keys"),
        "--srs",
        ptau.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("INSECURE"), "{err}");
    let (code, _, err) = zkedge(&[
        "prove",
        "--model",
        &p("model.json"),
        "--keys",
        &p("keys"),
        "--input",
        &p("input.json"),
        "--out",
        &p("proof.zkp"),
    ]);
    assert_eq!(code, 0, "{err}");

    // No flag needed: the SRS is a ceremony's. Unpinned, verify says what it did not check.
    let (code, out2, err) = zkedge(&["verify", "--keys", &p("keys"), "--proof", &p("proof.zkp")]);
    assert_eq!(code, 0, "{err}");
    assert!(out2.starts_with("valid: class"), "{out2}");
    assert!(
        out2.contains("NOT checked") && out2.contains("not pinned"),
        "{out2}"
    );

    // The hashes to pin, derived from the model and the .ptau alone.
    let (code, pin, err) = zkedge(&[
        "vk-hash",
        "--model",
        &p("model.json"),
        "--srs",
        ptau.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let line = pin.lines().find(|l| l.starts_with("pin with:")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let vk = words[words.iter().position(|w| *w == "--vk-hash").unwrap() + 1];
    let id = words[words.iter().position(|w| *w == "--srs-id").unwrap() + 1];
    assert!(
        out.contains(vk) && out.contains(id),
        "setup printed other hashes: {out}"
    );
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--keys", &p("keys"), "--proof", &p("proof.zkp")]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        zkedge(&refs)
    };
    let (code, out, err) = verify(&["--vk-hash", vk, "--srs-id", id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("the pinned one (--vk-hash)") && out.contains("the pinned one (--srs-id)"),
        "{out}"
    );
    let dev_id = srs::hex(&SrsId::of(&srs::dev(k)).tau);
    let (code, _, err) = verify(&["--srs-id", &dev_id]);
    assert_eq!(code, 1, "another SRS pinned, still accepted");
    assert!(err.contains("not the pinned"), "{err}");
    // Deriving the key from the model, over the keys' copy of the SRS or over the .ptau.
    let (code, out, err) = verify(&["--model", &p("model.json")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("derived here from"), "{out}");
    let (code, _, err) = verify(&["--model", &p("model.json"), "--srs", ptau.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
