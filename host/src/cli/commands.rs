//! One function per subcommand.

use std::{fs, io::Write, path::Path};

use anyhow::{bail, Context, Result};
use rand::rngs::OsRng;
use zkedge_kernel::{infer::infer as run_model, layout::Layout, model::Model};

use super::{
    input,
    ui::{bytes, human, step},
};
use accel_backends::{Backend, Counters};

use super::RouteArgs;
use crate::{
    backends::{Registry, RegistryError},
    bundled,
    files::{hash, read_bounded},
    keys::{self, Keys, Parts, SrsOrigin},
    proof::{self, MultiOpen, ProofFile, Proved, ProverKind, MAX_PROOF_FILE},
    router::Router,
    srs::{self, DEV_WARNING},
};

/// How a proof was made: by whom, for the report line and for blame.
enum Maker {
    /// Stock halo2-axiom.
    Halo2,
    /// The zkedge prover on the reference backend.
    Reference,
    /// The zkedge prover with jobs on this accelerator (its spec).
    Accelerator(String),
}

/// Proves with the chosen prover, behind a spinner; returns the proof, who made it and a line
/// about how. A backend other than the reference goes behind the router, which keeps small jobs
/// (per `route`), refused and failed ones, and those its checks reject on the CPU. A backend
/// that cannot be opened (its handshake fails) leaves the proof to the CPU, with a warning.
fn prove_with(
    keys: &Keys,
    input: &[i8],
    multiopen: MultiOpen,
    prover: ProverKind,
    backend: &str,
    route: &RouteArgs,
    registry: &Registry,
) -> Result<(Proved, Maker, String)> {
    let ms = |ns: u64| format!("{:.0} ms", ns as f64 / 1e6);
    let work = |c: &Counters| {
        format!(
            "{} MSMs ({}), {} NTTs ({})",
            c.msm_calls,
            ms(c.msm_nanos),
            c.ntt_calls,
            ms(c.ntt_nanos)
        )
    };
    let on_reference = |note: &str| -> Result<(Proved, Maker, String)> {
        let b = registry.reference()?;
        let name = b.name().to_string();
        let (proved, t) = step(&format!("proving (zkedge prover on {name})"), || {
            proof::prove_zkedge(keys, input, multiopen, b, &mut OsRng)
        });
        let (proved, times, b) = proved?;
        let how = format!(
            "zkedge prover on {name}, {multiopen}: {} — {}, constraint evaluation {}{note}",
            human(t),
            work(b.counters()),
            ms(times.quotient_evaluation)
        );
        Ok((proved, Maker::Reference, how))
    };
    match prover {
        ProverKind::Halo2 => {
            let (proved, t) = step("proving (stock halo2-axiom)", || {
                proof::prove_halo2(keys, input, multiopen, OsRng)
            });
            let how = format!("stock halo2-axiom, {multiopen}: {}", human(t));
            Ok((proved?, Maker::Halo2, how))
        }
        ProverKind::Zkedge if registry.is_reference(backend) => on_reference(""),
        ProverKind::Zkedge => {
            let accel = match registry.create(backend) {
                Ok(a) => a,
                Err(e @ RegistryError::Create { .. }) => {
                    eprintln!("warning: {e}; proving on the CPU instead");
                    return on_reference(&format!("; {backend} could not be opened"));
                }
                Err(e) => return Err(e.into()),
            };
            let name = accel.name().to_string();
            let (policy, policy_from) = route.resolve(backend)?;
            let mut router = Router::new(accel, policy);
            crate::router::check_results(&mut router, &keys.srs);
            let (proved, t) = step(
                &format!("proving (zkedge prover, MSMs and NTTs to {name})"),
                || proof::prove_zkedge(keys, input, multiopen, router, &mut OsRng),
            );
            let (proved, times, router) = proved?;
            let a = router.accelerator().counters();
            let mut how = format!(
                "zkedge prover, {multiopen}: {} — on {name}: {}; on the CPU: {}; constraint evaluation {}",
                human(t),
                work(a),
                work(router.reference().counters()),
                ms(times.quotient_evaluation)
            );
            how += &format!(
                "; routing: {} ({policy_from})",
                crate::routing::describe(&policy)
            );
            if a.device_cycles > 0 {
                how += &format!("; {name} counted {} device cycles", a.device_cycles);
            }
            if a.link_bytes > 0 {
                how += &format!(", {} over its link", bytes(a.link_bytes as usize));
            }
            how += &crate::router::describe_faults(&router, &name);
            Ok((proved, Maker::Accelerator(backend.to_string()), how))
        }
    }
}

/// [`prove_with`], then halo2-axiom's verifier on the proof before anyone sees it. A proof
/// made with an accelerator that does not verify is blamed on it: the accelerator is suspect
/// for the rest of the run and the proof is made again on the CPU. A proof the CPU (or stock
/// halo2) made that does not verify means the keys are inconsistent: an error.
fn prove_verified(
    keys: &Keys,
    input: &[i8],
    multiopen: MultiOpen,
    prover: ProverKind,
    backend: &str,
    route: &RouteArgs,
    registry: &Registry,
) -> Result<(Proved, String)> {
    let (proved, maker, how) =
        prove_with(keys, input, multiopen, prover, backend, route, registry)?;
    let (verified, t) = step("verifying the proof (halo2-axiom)", || {
        proof::verify(keys, &proved.file)
    });
    let e = match verified {
        Ok(()) => {
            return Ok((
                proved,
                format!("{how}; verified before writing ({})", human(t)),
            ))
        }
        Err(e) => e,
    };
    let Maker::Accelerator(spec) = maker else {
        let by = match maker {
            Maker::Halo2 => "stock halo2-axiom",
            _ => "the zkedge prover on the CPU",
        };
        bail!(
            "the proof {by} made does not verify ({e}); the keys are inconsistent (a damaged \
             zkedge.zpk, pk.bin or params.srs); run `zkedge setup` again"
        );
    };
    eprintln!(
        "warning: the proof made with {spec} does not verify ({e}); {spec} is suspect for \
         this run; proving again on the CPU"
    );
    let reference = registry
        .list()
        .find(|(name, _)| registry.is_reference(name))
        .map_or("cpu", |(name, _)| name)
        .to_string();
    let (proved, _, how) = prove_with(
        keys,
        input,
        multiopen,
        ProverKind::Zkedge,
        &reference,
        route,
        registry,
    )?;
    proof::verify(keys, &proved.file).context(
        "the CPU's proof does not verify either: the keys are inconsistent; run `zkedge setup` again",
    )?;
    Ok((
        proved,
        format!(
            "{how}; re-proved on the CPU and verified, after {spec}'s proof failed verification"
        ),
    ))
}

fn label(model: &Model, class: usize) -> &str {
    model.file().classes.get(class).map_or("?", String::as_str)
}

fn describe(model: &Model) -> String {
    let layers: Vec<String> = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let [c, h, w] = model.layer_output_shape(i);
            format!("{} → {c}×{h}×{w}", l.kind())
        })
        .collect();
    let [c, h, w] = model.input_shape();
    format!("{c}×{h}×{w} → {}", layers.join(" → "))
}

pub fn demo(
    sample: usize,
    multiopen: MultiOpen,
    prover: ProverKind,
    backend: &str,
    route: RouteArgs,
    registry: &Registry,
) -> Result<()> {
    let model = Model::from_json(bundled::MODEL_JSON).context("the bundled model")?;
    let samples = bundled::samples().context("the bundled test set")?;
    let Some(input) = samples.inputs.get(sample) else {
        bail!(
            "the bundled test set has {} samples; pick --sample 0..{}",
            samples.inputs.len(),
            samples.inputs.len()
        );
    };
    let truth = samples.labels.get(sample).copied().unwrap_or(usize::MAX);
    let f = model.file();
    println!("zkedge demo — {}", f.name);
    println!("  {}", f.description);
    println!(
        "  model: {}; {} weights, {} multiply-accumulates; {} as .zkm",
        describe(&model),
        model.weight_count(),
        model.mac_count(),
        bytes(model.to_bytes().len())
    );
    let trace = run_model(&model, input)?;
    let class = trace.class();
    println!(
        "  sample {sample} of {} (true label: {}): inferred class {class} \"{}\", logits {:?}",
        samples.inputs.len(),
        label(&model, truth),
        label(&model, class),
        trace.output()
    );
    let layout = Layout::new(&model)?;
    let k = layout.k();
    println!(
        "  circuit: k = {k} ({} rows; {} used, threshold table {} rows)",
        1usize << k,
        layout.rows(),
        layout.threshold_table().len()
    );
    eprintln!("{DEV_WARNING}");
    let (srs, t_srs) = step("generating the development SRS", || srs::dev(k));
    let (keys, t_keys) = step("generating keys", || {
        keys::generate(model, srs, SrsOrigin::InsecureDev)
    });
    let keys = keys?;
    println!(
        "  setup: SRS {}, keys {} (total {})",
        human(t_srs),
        human(t_keys),
        human(t_srs + t_keys)
    );
    let (proved, how) = prove_verified(&keys, input, multiopen, prover, backend, &route, registry)?;
    let proof_bytes = proved.file.to_bytes();
    println!("  prove: {how}; proof file {}", bytes(proof_bytes.len()));
    let (verified, t_verify) = step("verifying", || {
        ProofFile::from_bytes(&proof_bytes)
            .and_then(|file| proof::verify(&keys, &file).map(|()| file))
    });
    let file = verified.context("the demo's own proof did not verify")?;
    println!(
        "  verify: {}; valid — class {} \"{}\", logits {:?}",
        human(t_verify),
        file.class,
        label(&keys.model, file.class as usize),
        file.output
    );
    Ok(())
}

pub fn setup(model_path: &Path, out: &Path, srs_path: Option<&Path>) -> Result<()> {
    let model = input::model(model_path)?;
    let k = Layout::new(&model)?.k();
    let (srs, origin) = match srs_path {
        Some(p) => {
            let (srs, t) = step("reading the SRS", || srs::load(p, k));
            let srs = srs?;
            println!("SRS {} read in {}", p.display(), human(t));
            (srs, SrsOrigin::File(p.display().to_string()))
        }
        None => {
            eprintln!("{DEV_WARNING}");
            (
                step("generating the development SRS", || srs::dev(k)).0,
                SrsOrigin::InsecureDev,
            )
        }
    };
    let name = model.file().name.clone();
    let (keys, t) = step("generating keys", || keys::generate(model, srs, origin));
    let mut keys = keys?;
    keys.save(out)?;
    println!(
        "keys for {name} (k = {k}) written to {} in {}",
        out.display(),
        human(t)
    );
    Ok(())
}

fn warn_if_dev(keys: &Keys) {
    if keys.manifest.srs == SrsOrigin::InsecureDev {
        eprintln!(
            "note: these keys use the INSECURE development SRS; their proofs convince no one"
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub fn prove(
    model_path: &Path,
    keys_dir: &Path,
    input_path: &Path,
    out: &Path,
    multiopen: MultiOpen,
    prover: ProverKind,
    backend: &str,
    route: RouteArgs,
    registry: &Registry,
) -> Result<()> {
    let model = input::model(model_path)?;
    let parts = match prover {
        ProverKind::Zkedge => Parts::Zkedge,
        ProverKind::Halo2 => Parts::Halo2,
    };
    let keys = step("loading keys", || Keys::load(keys_dir, parts)).0?;
    if hash(&model.to_bytes()) != keys.model_hash {
        bail!(
            "{} is not the model the keys in {} were made for ({}); run `zkedge setup --model {}` first",
            model_path.display(),
            keys_dir.display(),
            keys.manifest.model,
            model_path.display()
        );
    }
    warn_if_dev(&keys);
    let input = input::input(input_path, &keys.model)?;
    let (proved, how) =
        prove_verified(&keys, &input, multiopen, prover, backend, &route, registry)?;
    let file_bytes = proved.file.to_bytes();
    fs::write(out, &file_bytes).with_context(|| format!("cannot write {}", out.display()))?;
    let class = proved.trace.class();
    println!(
        "class {class} \"{}\", logits {:?}; proof ({}) written to {}\n  {how}",
        label(&keys.model, class),
        proved.trace.output(),
        bytes(file_bytes.len()),
        out.display(),
    );
    Ok(())
}

pub fn verify(keys_dir: &Path, proof_path: &Path) -> Result<()> {
    let keys = Keys::load(keys_dir, Parts::Verify)?;
    let raw = read_bounded(proof_path, MAX_PROOF_FILE)?;
    let file = ProofFile::from_bytes(&raw).with_context(|| proof_path.display().to_string())?;
    proof::verify(&keys, &file)
        .with_context(|| format!("{} is not a valid proof", proof_path.display()))?;
    println!(
        "valid: class {} \"{}\", logits {:?} (model {})",
        file.class,
        label(&keys.model, file.class as usize),
        file.output,
        keys.manifest.model
    );
    warn_if_dev(&keys);
    Ok(())
}

pub fn infer(
    model_path: &Path,
    input_path: Option<&Path>,
    batch: Option<&Path>,
    json: bool,
) -> Result<()> {
    let model = input::model(model_path)?;
    let inputs = match (input_path, batch) {
        (Some(p), _) => vec![input::input(p, &model)?],
        (None, Some(b)) => input::batch(b, &model)?,
        (None, None) => bail!("give --input or --batch"),
    };
    // One input at a time: a trace holds every value the model computed, and a batch may
    // hold a million inputs.
    let mut outputs: Vec<Vec<i8>> = Vec::new();
    let mut classes = Vec::new();
    for x in &inputs {
        let t = run_model(&model, x)?;
        if json {
            outputs.push(t.output().to_vec());
            classes.push(t.class());
        } else {
            println!(
                "class {} \"{}\", logits {:?}",
                t.class(),
                label(&model, t.class()),
                t.output()
            );
        }
    }
    if json {
        #[derive(serde::Serialize)]
        struct Inferred {
            outputs: Vec<Vec<i8>>,
            classes: Vec<usize>,
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &Inferred { outputs, classes })?;
        writeln!(out)?;
    }
    Ok(())
}

pub fn convert(model_path: &Path, out: &Path) -> Result<()> {
    let model = input::model(model_path)?;
    let bytes = if out.extension().is_some_and(|e| e == "zkm") {
        model.to_bytes()
    } else {
        model.to_json().into_bytes()
    };
    fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "{} written ({})",
        out.display(),
        super::ui::bytes(bytes.len())
    );
    Ok(())
}
