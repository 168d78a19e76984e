//! Key generation and proving at scale on the wide synthetic circuit (`zkedge::synthetic::wide`),
//! one step per process so that each step's peak RSS is its own (measure it with
//! `/usr/bin/time -v`); it prints `key=value` lines. Real models: `zkedge bench-models`.
//!
//! ```sh
//! cargo run --release -p zkedge --example prover_scale -- setup --k 18 --dir /tmp/s18
//! cargo run --release -p zkedge --example prover_scale -- prove --dir /tmp/s18
//! ```

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use accel_backends::{Backend, CpuBackend};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr as H2Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk, ProvingKey as H2ProvingKey, VerifyingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::{ProverGWC, ProverSHPLONK},
    },
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
    SerdeFormat,
};
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};
use zkedge::{
    convert::fr,
    keygen::{SetupStep, VkSource},
    proof::{verify_transcript, MultiOpen},
    srs,
    synthetic::wide::{Shape, Wide},
    zk_prover::ZkProver,
};
use zkedge_kernel::prover::{Phase, Progress, ProvingKey};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Keys for the wide circuit at `k`: the SRS (cached), the verifying key, the zkedge key,
    /// and with --halo2-pk halo2's proving key.
    Setup {
        #[arg(long)]
        k: u32,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = Shape::default().advice)]
        advice: usize,
        #[arg(long, default_value_t = Shape::default().fixed)]
        fixed: usize,
        #[arg(long, default_value_t = Shape::default().lookups)]
        lookups: usize,
        #[arg(long, default_value_t = Shape::default().equality)]
        equality: usize,
        /// Also write halo2's proving key (`pk.bin`, for `prove --prover halo2`).
        #[arg(long)]
        halo2_pk: bool,
        /// How to make the zkedge key: zkedge's keygen (`zkedge::keygen`) or halo2's
        /// keygen_vk + keygen_pk and an export.
        #[arg(long, value_enum, default_value_t = Keygen::Zkedge)]
        keygen: Keygen,
        /// With zkedge's keygen, where the verifying key comes from.
        #[arg(long, value_enum, default_value_t = VkSource::Auto)]
        vk: VkSource,
    },
    /// One proof of a random witness, verified by halo2-axiom's verifier.
    Prove {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Prover::Zkedge)]
        prover: Prover,
        #[arg(long, value_enum, default_value_t = MultiOpen::Gwc)]
        multiopen: MultiOpen,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Keygen {
    Zkedge,
    Halo2,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Prover {
    Zkedge,
    Halo2,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    k: u32,
    advice: usize,
    fixed: usize,
    lookups: usize,
    equality: usize,
}

impl Meta {
    fn shape(&self) -> Shape {
        Shape {
            advice: self.advice,
            fixed: self.fixed,
            lookups: self.lookups,
            equality: self.equality,
        }
    }
}

/// Peak and current resident set size in MiB (Linux).
fn rss() -> (u64, u64) {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn report(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

fn secs(t: Instant) -> String {
    format!("{:.2}", t.elapsed().as_secs_f64())
}

fn params(dir: &Path, k: u32) -> Result<ParamsKZG<Bn256>> {
    let path = dir.join("params.raw");
    if let Ok(bytes) = fs::read(&path) {
        return ParamsKZG::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytes)
            .context("cached SRS");
    }
    let t = Instant::now();
    let srs = srs::dev(k);
    let mut bytes = Vec::new();
    srs.write_custom(&mut bytes, SerdeFormat::RawBytes)?;
    fs::write(&path, bytes)?;
    eprintln!("development SRS for k = {k}: {} s", secs(t));
    Ok(srs)
}

fn setup(dir: &Path, meta: &Meta, halo2_pk: bool, keygen: Keygen, vk: VkSource) -> Result<()> {
    let shape = meta.shape();
    shape.check().map_err(anyhow::Error::msg)?;
    fs::create_dir_all(dir)?;
    fs::write(dir.join("meta.json"), serde_json::to_vec(meta)?)?;
    let srs = params(dir, meta.k)?;
    let circuit = Wide {
        k: meta.k,
        shape,
        seed: 0,
        witness: false,
    };
    report("rss_before_keygen_mib", rss().1);
    report(
        "halo2_vk_estimate_mib",
        zkedge::keygen::halo2_vk_bytes(meta.k, &circuit) >> 20,
    );
    let t = Instant::now();
    let (vk, zpk, pk) = match keygen {
        Keygen::Halo2 => {
            let vk = keygen_vk(&srs, &circuit).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            report("keygen_vk_s", secs(t));
            report("rss_peak_after_vk_mib", rss().0);
            let t = Instant::now();
            let pk = keygen_pk(&srs, vk.clone(), &circuit).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            report("keygen_pk_s", secs(t));
            report("rss_peak_after_pk_mib", rss().0);
            let t = Instant::now();
            let zpk = zkedge_kernel::prover::to_bytes(&zkedge::export::export(&pk)?);
            report("export_s", secs(t));
            (vk, zpk, Some(pk))
        }
        Keygen::Zkedge => {
            let mut last: Option<(SetupStep, Instant)> = None;
            let mut log = |s: Option<SetupStep>| {
                if let Some((p, t)) = last.take() {
                    eprintln!(
                        "{:<36} {:8.2} s   rss {} MiB, peak {} MiB",
                        p.label(),
                        t.elapsed().as_secs_f64(),
                        rss().1,
                        rss().0
                    );
                }
                last = s.map(|s| (s, Instant::now()));
            };
            let (vk, key, from_halo2) =
                zkedge::keygen::keys(&srs, &circuit, vk, &mut |s| log(Some(s)))?;
            log(None);
            report("vk_from_halo2", from_halo2);
            report("zkedge_keygen_s", secs(t));
            report("rss_peak_after_zkedge_key_mib", rss().0);
            let pk = if halo2_pk {
                let t = Instant::now();
                let pk =
                    keygen_pk(&srs, vk.clone(), &circuit).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                report("keygen_pk_s", secs(t));
                Some(pk)
            } else {
                None
            };
            let zpk = key.to_bytes();
            (vk, zpk, pk)
        }
    };
    report("setup_s", secs(t));
    let mut vk_bytes = Vec::new();
    vk.write(&mut vk_bytes, SerdeFormat::RawBytes)?;
    fs::write(dir.join("vk.bin"), vk_bytes)?;
    fs::write(dir.join("zkedge.zpk"), &zpk)?;
    report("zpk_bytes", zpk.len());
    drop(zpk);
    if let (true, Some(pk)) = (halo2_pk, &pk) {
        let mut bytes = Vec::new();
        pk.write(&mut bytes, SerdeFormat::RawBytes)?;
        fs::write(dir.join("pk.bin"), bytes)?;
    }
    report("setup_peak_rss_mib", rss().0);
    Ok(())
}

/// Logs each step of the proof with the time since the last and the resident set.
struct Log {
    last: Option<(Phase, Instant)>,
    quotient: f64,
}

impl Progress for Log {
    fn report(&mut self, phase: Phase, _done: u32, _total: u32) {
        if let Some((p, t)) = self.last.take() {
            let s = t.elapsed().as_secs_f64();
            if p == Phase::Quotient {
                self.quotient += s;
            } else {
                eprintln!("{:<26} {s:8.2} s   rss {} MiB", p.label(), rss().1);
            }
        }
        if phase != Phase::Quotient && self.quotient > 0.0 {
            eprintln!(
                "{:<26} {:8.2} s   rss {} MiB",
                "quotient",
                self.quotient,
                rss().1
            );
            self.quotient = 0.0;
        }
        self.last = Some((phase, Instant::now()));
    }
}

fn prove(dir: &Path, prover: Prover, multiopen: MultiOpen, seed: u64) -> Result<()> {
    let meta: Meta = serde_json::from_slice(&fs::read(dir.join("meta.json"))?)?;
    let shape = meta.shape();
    let srs = params(dir, meta.k)?;
    let vk = VerifyingKey::<G1Affine>::read::<_, Wide>(
        &mut fs::read(dir.join("vk.bin"))?.as_slice(),
        SerdeFormat::RawBytes,
        shape,
    )?;
    let circuit = Wide::new(meta.k, shape, 0);
    let circuit = Wide { seed, ..circuit };
    let t = Instant::now();
    let (advice, instances) = circuit.witness_columns();
    report("witness_s", secs(t));
    let refs: Vec<&[H2Fr]> = instances.iter().map(Vec::as_slice).collect();
    let proof = match prover {
        Prover::Zkedge => {
            let t = Instant::now();
            let key = ProvingKey::from_bytes(&fs::read(dir.join("zkedge.zpk"))?)?;
            report("load_key_s", secs(t));
            report("rss_peak_after_load_mib", rss().0);
            let t = Instant::now();
            let mut zk = ZkProver::new(key, &srs, CpuBackend::new())?;
            report("prepare_s", secs(t));
            report("rss_peak_after_prepare_mib", rss().0);
            report("quotient_columns", zk.prepared().quotient_columns());
            zk.set_progress(Box::new(Log {
                last: None,
                quotient: 0.0,
            }));
            let advice: Vec<Vec<_>> = advice
                .into_iter()
                .map(|c| c.iter().map(fr).collect())
                .collect();
            let inst: Vec<Vec<_>> = instances
                .iter()
                .map(|c| c.iter().map(fr).collect())
                .collect();
            report("rss_before_prove_mib", rss().1);
            let mut rng = StdRng::seed_from_u64(seed);
            let t = Instant::now();
            let proof = zk.prove(advice, &inst, multiopen, &mut rng)?;
            report("prove_s", secs(t));
            let ms = |ns: u64| format!("{:.0}", ns as f64 / 1e6);
            let c = zk.backend().counters();
            report("phase_commit_ms", ms(proof.times.commit));
            report("phase_quotient_ms", ms(proof.times.quotient));
            report("phase_evaluation_ms", ms(proof.times.quotient_evaluation));
            report("phase_open_ms", ms(proof.times.open));
            report("msm_ms", ms(c.msm_nanos));
            report("ntt_ms", ms(c.ntt_nanos));
            report("ntt_calls", c.ntt_calls);
            proof.bytes
        }
        Prover::Halo2 => {
            let t = Instant::now();
            let pk = H2ProvingKey::<G1Affine>::read::<_, Wide>(
                &mut fs::read(dir.join("pk.bin"))
                    .context("no pk.bin: run setup with --halo2-pk")?
                    .as_slice(),
                SerdeFormat::RawBytes,
                shape,
            )?;
            report("load_key_s", secs(t));
            drop(advice);
            let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
            let rng = StdRng::seed_from_u64(seed);
            report("rss_before_prove_mib", rss().1);
            let t = Instant::now();
            let made = match multiopen {
                MultiOpen::Gwc => {
                    create_proof::<KZGCommitmentScheme<Bn256>, ProverGWC<_>, _, _, _, _>(
                        &srs,
                        &pk,
                        &[circuit],
                        &[&refs],
                        rng,
                        &mut transcript,
                    )
                }
                MultiOpen::Shplonk => {
                    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<_>, _, _, _, _>(
                        &srs,
                        &pk,
                        &[circuit],
                        &[&refs],
                        rng,
                        &mut transcript,
                    )
                }
            };
            made.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            report("prove_s", secs(t));
            transcript.finalize()
        }
    };
    report("prove_peak_rss_mib", rss().0);
    report("proof_bytes", proof.len());
    let t = Instant::now();
    if let Err(e) = verify_transcript(&srs, &vk, &refs, &proof, multiopen) {
        bail!("the proof does not verify: {e}");
    }
    report("verify_s", secs(t));
    report("verified", true);
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Setup {
            k,
            dir,
            advice,
            fixed,
            lookups,
            equality,
            halo2_pk,
            keygen,
            vk,
        } => setup(
            &dir,
            &Meta {
                k,
                advice,
                fixed,
                lookups,
                equality,
            },
            halo2_pk,
            keygen,
            vk,
        ),
        Command::Prove {
            dir,
            prover,
            multiopen,
            seed,
        } => prove(&dir, prover, multiopen, seed),
    }
}
