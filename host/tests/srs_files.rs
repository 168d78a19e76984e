//! Standard SRS files (halo2's `ParamsKZG` serialisation): both formats load, a larger SRS is
//! cut down correctly, and damaged or foreign files are refused with a reason.

use halo2_proofs::{poly::commitment::Params, SerdeFormat};
use zkedge::srs::{self, SrsError};

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("zkedge-srs-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn both_formats_load_and_a_larger_srs_is_cut_down_exactly() {
    let big = srs::dev(9);
    let mut raw = Vec::new();
    big.write_custom(&mut raw, SerdeFormat::RawBytes).unwrap();
    let processed = srs::to_bytes(&big);
    for (name, bytes) in [("raw", &raw), ("processed", &processed)] {
        let path = write(name, bytes);
        let same = srs::load(&path, 9).unwrap();
        assert_eq!(srs::to_bytes(&same), processed, "{name}");
        // The development SRS draws its secret first, so cutting 2^9 down to 2^8 must give the
        // 2^8 development SRS itself, Lagrange basis included.
        let cut = srs::load(&path, 8).unwrap();
        assert_eq!(cut.k(), 8);
        assert_eq!(
            srs::to_bytes(&cut),
            srs::to_bytes(&srs::dev(8)),
            "{name}: downsized SRS differs"
        );
        std::fs::remove_file(path).ok();
    }
}

#[test]
fn bad_srs_files_are_refused_with_a_reason() {
    let good = srs::to_bytes(&srs::dev(6));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("padded", [good.clone(), vec![0]].concat()),
        (
            "huge k",
            [40u32.to_le_bytes().to_vec(), good[4..].to_vec()].concat(),
        ),
        ("damaged point", {
            let mut b = good.clone();
            b[4 + 32 * 5] ^= 0x5a;
            b
        }),
    ];
    for (name, bytes) in cases {
        let path = write(name, &bytes);
        let err = srs::load(&path, 6)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        match name {
            "huge k" => assert!(matches!(err, SrsError::K { k: 40, .. }), "{name}: {err}"),
            "damaged point" => {
                assert!(
                    matches!(
                        err,
                        SrsError::Invalid { .. } | SrsError::Inconsistent { .. }
                    ),
                    "{name}: {err}"
                )
            }
            _ => assert!(matches!(err, SrsError::Size { .. }), "{name}: {err}"),
        }
        std::fs::remove_file(path).ok();
    }
    // Valid points in a broken structure: the last power replaced by the generator.
    let mut srs = srs::dev(6);
    let mut bytes = Vec::new();
    srs.write_custom(&mut bytes, SerdeFormat::Processed)
        .unwrap();
    let g0 = bytes[4..36].to_vec();
    bytes[4 + 32 * 63..4 + 32 * 64].copy_from_slice(&g0);
    let path = write("inconsistent", &bytes);
    assert!(matches!(
        srs::load(&path, 6),
        Err(SrsError::Inconsistent { .. })
    ));
    std::fs::remove_file(path).ok();
    srs = srs::dev(6);
    assert!(srs::check(&srs).is_ok());

    let small = write("small", &good);
    assert!(matches!(
        srs::load(&small, 7),
        Err(SrsError::TooSmall {
            have: 6,
            need: 7,
            ..
        })
    ));
    std::fs::remove_file(small).ok();
}
