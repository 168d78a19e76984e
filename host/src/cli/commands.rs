//! One function per subcommand.

use std::{fs, io::Write, path::Path};

use anyhow::{bail, Context, Result};
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use rand::rngs::OsRng;
use zkedge_kernel::{
    infer::infer as run_model,
    layout::{Layout, Visibility, Weights},
    model::Model,
};

use super::{
    input,
    ui::{self, bytes, human, proving, step, steps},
};
use accel_backends::{Backend, Counters};

use super::{RouteArgs, VerifyArgs};
use crate::{
    backends::{Registry, RegistryError},
    bundle::{self, Bundle, Pins},
    bundled,
    files::{hash, read_bounded},
    keys::{self, Keys, Parts, SrsOrigin},
    proof::{self, MultiOpen, ProofFile, Proved, ProverKind, Revealed, MAX_PROOF_FILE},
    srs::{self, hex, SrsId, DEV_WARNING},
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
/// `salt` is a hashed input's (`None`: a fresh one).
#[allow(clippy::too_many_arguments)]
fn prove_with(
    keys: &Keys,
    input: &[i8],
    salt: Option<Fr>,
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
        let (proved, t) = proving(&format!("proving (zkedge prover on {name})"), |bar| {
            let mut prover = proof::zk_prover(keys, b)?;
            prover.set_progress(Box::new(bar));
            let (proved, times) = proof::prove_zkedge_with_salt(
                keys,
                &mut prover,
                input,
                salt,
                multiopen,
                &mut OsRng,
            )?;
            Ok::<_, proof::ProofError>((proved, times, prover.into_backend()))
        });
        let (proved, times, b) = proved?;
        ui::record("prove_s", t.as_secs_f64());
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
                proof::prove_halo2_salted(keys, input, salt, multiopen, OsRng)
            });
            ui::record("prove_s", t.as_secs_f64());
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
            let router = crate::router::checked(accel, policy, &keys.srs);
            let (proved, t) = proving(
                &format!("proving (zkedge prover, MSMs and NTTs to {name})"),
                |bar| {
                    let mut prover = proof::zk_prover(keys, router)?;
                    prover.set_progress(Box::new(bar));
                    let (proved, times) = proof::prove_zkedge_with_salt(
                        keys,
                        &mut prover,
                        input,
                        salt,
                        multiopen,
                        &mut OsRng,
                    )?;
                    Ok::<_, proof::ProofError>((proved, times, prover.into_backend()))
                },
            );
            let (proved, times, router) = proved?;
            ui::record("prove_s", t.as_secs_f64());
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
                crate::routing_file::describe(&policy)
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
/// halo2) made that does not verify is an error: the keys are inconsistent, or (if `zkedge setup`
/// does not mend it) the CPU backend itself computed wrongly.
#[allow(clippy::too_many_arguments)]
fn prove_verified(
    keys: &Keys,
    input: &[i8],
    salt: Option<Fr>,
    multiopen: MultiOpen,
    prover: ProverKind,
    backend: &str,
    route: &RouteArgs,
    registry: &Registry,
) -> Result<(Proved, String)> {
    let (proved, maker, how) = prove_with(
        keys, input, salt, multiopen, prover, backend, route, registry,
    )?;
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
             zkedge.zpk, pk.bin or params.srs): run `zkedge setup` again; if the proof still \
             does not verify, the prover or the CPU backend is wrong: please report it"
        );
    };
    eprintln!(
        "warning: the proof made with {spec} does not verify ({e}); {spec} is suspect for \
         this run; proving again on the CPU"
    );
    let reference = registry.reference_name().unwrap_or("cpu").to_string();
    let (proved, _, how) = prove_with(
        keys,
        input,
        salt,
        multiopen,
        ProverKind::Zkedge,
        &reference,
        route,
        registry,
    )?;
    proof::verify(keys, &proved.file).context(
        "the CPU's proof does not verify either: the keys are inconsistent (run `zkedge setup` \
         again), or the CPU backend is wrong (if it persists: please report it)",
    )?;
    Ok((
        proved,
        format!(
            "{how}; re-proved on the CPU and verified, after {spec}'s proof failed verification"
        ),
    ))
}

/// A scalar given in hex on the command line: 32 bytes, little-endian, canonical.
fn scalar_arg(flag: &str, text: &str) -> Result<Fr> {
    let bytes = hash_arg(flag, text)?;
    proof::salt_from_bytes(bytes).with_context(|| format!("{flag} {text}"))
}

/// A scalar as `zkedge` prints it: 64 hex digits of its little-endian bytes.
fn scalar_hex(x: &Fr) -> String {
    hex(&x.to_repr())
}

/// What a proof reveals of the input, for people.
fn describe_revealed(revealed: &Revealed) -> String {
    match revealed {
        Revealed::Nothing => "private (the proof shows the output came from some input)".into(),
        Revealed::Input(x) => format!("public, int8 {x:?}"),
        Revealed::Commitment(c) => format!(
            "hashed, Poseidon commitment {} (open it with the input and its salt: zkedge commit)",
            hex(c)
        ),
    }
}

pub fn commit(model_path: &Path, input_path: &Path, salt: Option<&str>) -> Result<()> {
    let model = input::model(model_path)?;
    let input = input::input(input_path, &model)?;
    let salt = match salt {
        Some(s) => scalar_arg("--salt", s)?,
        None => {
            let s = proof::random_salt(&mut OsRng);
            println!(
                "salt {} (fresh; keep it secret, prove with it)",
                scalar_hex(&s)
            );
            s
        }
    };
    let c = proof::commitment(&input, &salt);
    println!("commitment {}", scalar_hex(&c));
    Ok(())
}

fn describe(model: &Model) -> String {
    let ops: Vec<String> = model
        .ops()
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let [c, h, w] = model.shape(i + 1);
            format!("{} → {c}×{h}×{w}", op.kind())
        })
        .collect();
    let [c, h, w] = model.input_shape();
    format!("{c}×{h}×{w} → {}", ops.join(" → "))
}

/// The layout's shape and size, as `setup` and `demo` print it.
pub(crate) fn describe_layout(layout: &Layout) -> String {
    let p = layout.params();
    let e = layout.estimate();
    format!(
        "k = {} ({} rows; {} used: {} multiply-accumulate, {} rescales in {} slots of {} rows, {} function rows); \
         {} lanes × {} accumulators, {}-bit limbs; {} advice + {} fixed columns, {} lookups; \
         estimated proving time {:.1} s on the CPU",
        layout.k(),
        1usize << layout.k(),
        layout.rows(),
        layout.mac_rows(),
        layout.rescales(),
        p.slots,
        p.template.offsets().len,
        layout.function_rows(),
        p.lanes,
        p.accs,
        p.limb_bits,
        e.advice,
        e.fixed,
        e.lookups,
        e.seconds
    ) + &match p.input {
        Visibility::Private => String::new(),
        Visibility::Public => "; input public".into(),
        Visibility::Hashed => "; input hashed".into(),
    } + &match p.weights {
        Weights::Fixed => String::new(),
        Weights::Hashed => "; weights hashed".into(),
    } + &if p.hashed() {
        format!(" ({} Poseidon rows)", layout.hash_rows())
    } else {
        String::new()
    }
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
        model.class_label(truth),
        model.class_label(class),
        trace.output()
    );
    let layout = Layout::new(&model)?;
    let k = layout.k();
    println!("  circuit: {}", describe_layout(&layout));
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
    let (proved, how) = prove_verified(
        &keys, input, None, multiopen, prover, backend, &route, registry,
    )?;
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
        keys.model.class_label(file.class as usize),
        file.output
    );
    Ok(())
}

/// The SRS for circuits of `2^k` rows: read from `path`, else the development SRS (announced).
fn srs_for(path: Option<&Path>, k: u32) -> Result<(srs::Srs, SrsOrigin)> {
    Ok(match path {
        Some(p) => {
            let (srs, t) = step("reading and checking the SRS", || srs::load(p, k));
            let srs = srs?;
            println!("SRS {} read and checked in {}", p.display(), human(t));
            (srs, SrsOrigin::File(p.display().to_string()))
        }
        None => {
            eprintln!("{DEV_WARNING}");
            (
                step("generating the development SRS", || srs::dev(k)).0,
                SrsOrigin::InsecureDev,
            )
        }
    })
}

pub fn setup(
    model_path: &Path,
    out: &Path,
    srs_path: Option<&Path>,
    (input, weights): (Visibility, Weights),
    vk: keys::VkSource,
    halo2_key: keys::Halo2Key,
) -> Result<()> {
    let model = input::model(model_path)?;
    let layout = Layout::with_visibility(&model, input, weights)?;
    let k = layout.k();
    println!(
        "{}: {} multiply-accumulates; circuit {}",
        model.file().name,
        model.mac_count(),
        describe_layout(&layout)
    );
    let (srs, origin) = srs_for(srs_path, k)?;
    let name = model.file().name.clone();
    let (keys, t) = steps(|say| {
        let mut keys =
            keys::generate_choosing(model, layout, srs, origin, vk, halo2_key, &mut |s| {
                say(s.label())
            })?;
        say(keys::SetupStep::Writing.label());
        keys.save(out)?;
        Ok::<_, keys::KeysError>(keys)
    });
    let keys = keys?;
    ui::record("keygen_s", t.as_secs_f64());
    if keys.pk.is_none() {
        println!(
            "no halo2 proving key written (pk.bin, only `--prover halo2` reads it); \
             `--halo2-key always` writes one"
        );
    }
    println!(
        "keys for {name} (k = {k}, input {}, weights {}) written to {} in {}",
        input.name(),
        weights.name(),
        out.display(),
        human(t)
    );
    if let Some(h) = &keys.weights_hash {
        println!(
            "  weights hash {} (in every proof; verifiers pin it with --weights-hash). \
             model.zkm in {} holds the weights: give verifiers verifier.zkv only",
            hex(h),
            out.display()
        );
    }
    println!(
        "  verifying key {}\n  SRS {}\n  verifiers pin them with `zkedge verify --vk-hash {} --srs-id {}` \
         (or derive the key themselves with --model)",
        hex(&keys.vk_hash),
        keys.srs_id,
        hex(&keys.vk_hash),
        hex(&keys.srs_id.tau)
    );
    Ok(())
}

pub fn vk_hash(
    model_path: &Path,
    srs_path: Option<&Path>,
    input: Visibility,
    weights: Weights,
) -> Result<()> {
    let model = input::model(model_path)?;
    let k = Layout::with_visibility(&model, input, weights)?.k();
    let (srs, _) = srs_for(srs_path, k)?;
    let (vk_hash, t) = step("deriving the verifying key", || {
        bundle::derive_vk_hash(&model, &srs, input, weights)
    });
    let vk_hash = vk_hash?;
    let id = SrsId::of(&srs);
    println!(
        "model {} ({}{})",
        crate::files::hash_hex(&bundle::public_model(&model, weights).to_bytes()),
        model.file().name,
        if weights == Weights::Hashed {
            ", its weights zeroed"
        } else {
            ""
        }
    );
    if weights == Weights::Hashed {
        println!("weights hash {}", scalar_hex(&proof::weights_hash(&model)));
    }
    println!("verifying key {}  (derived in {})", hex(&vk_hash), human(t));
    println!("SRS {id}");
    if let Some(reason) = srs::known_secret(&srs.s_g2()) {
        println!("  the SRS is INSECURE ({reason}): its proofs show nothing");
    }
    println!(
        "pin with: zkedge verify --vk-hash {} --srs-id {} …",
        hex(&vk_hash),
        hex(&id.tau)
    );
    Ok(())
}

fn warn_if_dev(keys: &Keys) {
    if let Some(reason) = srs::known_secret(&keys.srs.s_g2()) {
        eprintln!("note: these keys use an INSECURE SRS ({reason}); their proofs convince no one");
    }
}

#[allow(clippy::too_many_arguments)]
pub fn prove(
    model_path: &Path,
    keys_dir: &Path,
    input_path: &Path,
    out: &Path,
    salt: Option<&str>,
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
    if hash(&model.to_bytes()) != keys.model_id {
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
    let salt = salt.map(|s| scalar_arg("--salt", s)).transpose()?;
    if salt.is_some() && keys.layout.input_visibility() != Visibility::Hashed {
        bail!(
            "--salt is for keys that commit to their input; these keys make it {} \
             (zkedge setup --input-visibility hashed)",
            keys.layout.input_visibility().name()
        );
    }
    let (proved, how) = prove_verified(
        &keys, &input, salt, multiopen, prover, backend, &route, registry,
    )?;
    let file_bytes = proved.file.to_bytes();
    ui::record("proof_bytes", file_bytes.len() as f64);
    fs::write(out, &file_bytes).with_context(|| format!("cannot write {}", out.display()))?;
    let class = proved.trace.class();
    println!(
        "class {class} \"{}\", logits {:?}; proof ({}) written to {}\n  {how}",
        keys.model.class_label(class),
        proved.trace.output(),
        bytes(file_bytes.len()),
        out.display(),
    );
    println!("  input: {}", describe_revealed(&proved.file.input));
    if let Some(h) = &proved.file.weights {
        println!("  weights: hashed, Poseidon hash {}", hex(h));
    }
    if let (Some(s), None) = (&proved.salt, salt) {
        println!(
            "  salt {} (fresh): keep it secret; with the input it opens the commitment",
            scalar_hex(s)
        );
    }
    Ok(())
}

/// 32 bytes given in hex on the command line (a hash, a salt, a commitment).
fn hash_arg(flag: &str, text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    crate::files::parse_hex32(text)
        .with_context(|| format!("{flag} takes 64 hex digits (32 bytes), not {text:?}"))
}

pub fn verify(args: &VerifyArgs) -> Result<()> {
    let (source, bundle_path) = match (&args.bundle, &args.keys) {
        (Some(b), _) => (b.display().to_string(), b.clone()),
        (None, Some(dir)) => (dir.display().to_string(), dir.join(keys::BUNDLE)),
        (None, None) => bail!("give --keys DIR or --bundle FILE"),
    };
    let bundle = Bundle::load(&bundle_path)?;
    let raw = read_bounded(&args.proof, MAX_PROOF_FILE)?;
    let file = ProofFile::from_bytes(&raw).with_context(|| args.proof.display().to_string())?;
    let pins = Pins {
        vk_hash: args
            .vk_hash
            .as_deref()
            .map(|h| hash_arg("--vk-hash", h))
            .transpose()?,
        srs: args
            .srs_id
            .as_deref()
            .map(|h| hash_arg("--srs-id", h))
            .transpose()?,
        allow_insecure_srs: args.allow_insecure_dev_srs,
    };
    bundle
        .check_pins(&pins)
        .with_context(|| format!("{} is not trusted", args.proof.display()))?;
    let derived_from = match &args.model {
        Some(model_path) => {
            let model = input::model(model_path)?;
            let srs_path = match (&args.srs, &args.keys) {
                (Some(p), _) => p.clone(),
                (None, Some(dir)) => dir.join("params.srs"),
                (None, None) => {
                    bail!("--model needs the SRS to derive the key over: give --srs FILE")
                }
            };
            let srs = srs::load(&srs_path, bundle.srs_id.k)?;
            bundle
                .check_model(&model, &srs)
                .with_context(|| format!("{} is not trusted", args.proof.display()))?;
            Some(model_path.display().to_string())
        }
        None => None,
    };
    if let Some(expected) = &args.commitment {
        let expected = hash_arg("--commitment", expected)?;
        match &file.input {
            Revealed::Commitment(c) if *c == expected => {}
            Revealed::Commitment(c) => bail!(
                "{} commits to another input: its commitment is {}, not {}",
                args.proof.display(),
                hex(c),
                hex(&expected)
            ),
            _ => bail!(
                "{} does not commit to its input (input {}); --commitment needs keys made \
                 with --input-visibility hashed",
                args.proof.display(),
                file.input.visibility().name()
            ),
        }
    }
    if let Some(expected) = &args.weights_hash {
        let expected = hash_arg("--weights-hash", expected)?;
        match &file.weights {
            Some(h) if *h == expected => {}
            Some(h) => bail!(
                "{} was made with other weights: their hash is {}, not {}",
                args.proof.display(),
                hex(h),
                hex(&expected)
            ),
            None => bail!(
                "{} does not hash its weights (they are in the verifying key); --weights-hash \
                 needs keys made with --weights hashed",
                args.proof.display()
            ),
        }
    }
    let (checked, t) = step("verifying", || bundle.verify(&file));
    checked.with_context(|| format!("{} is not a valid proof", args.proof.display()))?;
    ui::record("verify_s", t.as_secs_f64());
    println!(
        "valid: class {} \"{}\", logits {:?} (model {})",
        file.class,
        bundle.label(file.class),
        file.output,
        bundle.file.model.name
    );
    println!("  input: {}", describe_revealed(&file.input));
    if args.commitment.is_some() {
        println!("  the commitment is the one given (--commitment)");
    }
    if let Some(h) = &file.weights {
        println!(
            "  weights: hashed, Poseidon hash {}{}",
            hex(h),
            if args.weights_hash.is_some() {
                ": the one given (--weights-hash)"
            } else {
                "; NOT checked — pin the weights you trust with --weights-hash"
            }
        );
    }
    let vk = hex(&bundle.vk_hash);
    match (&derived_from, pins.vk_hash) {
        (Some(m), _) => println!("  verifying key {vk}: derived here from {m}"),
        (None, Some(_)) => println!("  verifying key {vk}: the pinned one (--vk-hash)"),
        (None, None) => println!(
            "  verifying key {vk}: as {source} says, for model {}; NOT checked — pin it with \
             --vk-hash or --model to know which model this proof is about",
            hex(&bundle.file.model.hash)
        ),
    }
    match (bundle.insecure_srs(), pins.srs) {
        (Some(reason), _) => {
            println!("  SRS {}: INSECURE ({reason}); allowed by --allow-insecure-dev-srs: this proof shows nothing", bundle.srs_id);
        }
        (None, Some(_)) => println!("  SRS {}: the pinned one (--srs-id)", bundle.srs_id),
        (None, None) => println!(
            "  SRS {}: not pinned — pin the ceremony you trust with --srs-id",
            bundle.srs_id
        ),
    }
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
    // hold a million inputs. TFLite Micro's softmax, where the model ends in one, is computed
    // from the logits, never proven.
    let has_softmax = model.file().softmax.is_some();
    let mut outputs: Vec<Vec<i8>> = Vec::new();
    let mut classes = Vec::new();
    let mut softmaxes: Vec<Vec<i8>> = Vec::new();
    for x in &inputs {
        let t = run_model(&model, x)?;
        let softmax = zkedge_kernel::softmax::apply(&model, t.output()).transpose()?;
        if json {
            outputs.push(t.output().to_vec());
            classes.push(t.class());
            softmaxes.extend(softmax);
        } else {
            let probabilities = softmax
                .as_ref()
                .map(|s| format!(", softmax {s:?} (from the logits, not proven)"))
                .unwrap_or_default();
            println!(
                "class {} \"{}\", logits {:?}{probabilities}",
                t.class(),
                model.class_label(t.class()),
                t.output()
            );
        }
    }
    if json {
        #[derive(serde::Serialize)]
        struct Inferred {
            outputs: Vec<Vec<i8>>,
            classes: Vec<usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            softmax: Option<Vec<Vec<i8>>>,
        }
        let softmax = has_softmax.then_some(softmaxes);
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(
            &mut out,
            &Inferred {
                outputs,
                classes,
                softmax,
            },
        )?;
        writeln!(out)?;
    }
    Ok(())
}

pub fn import(
    model_path: &Path,
    out: &Path,
    classes: Vec<String>,
    name: Option<String>,
) -> Result<()> {
    let mut options = zkedge_import::Options::default().classes(classes);
    if let Some(name) = name {
        options = options.name(name);
    }
    let model = zkedge_import::read(model_path, &options)
        .with_context(|| format!("cannot import {}", model_path.display()))?;
    let data = input::model_bytes(out, &model);
    // The importer has checked that the model lays out; this is the layout `setup` will use.
    let layout = zkedge_import::circuit(&model)?;
    fs::write(out, &data).with_context(|| format!("cannot write {}", out.display()))?;
    println!("imported \"{}\": {}", model.file().name, describe(&model));
    println!(
        "{} weights, {} multiply-accumulates; input in {} order; {}",
        model.weight_count(),
        model.mac_count(),
        match model.file().input.order {
            zkedge_kernel::model::Order::Hwc => "channels-last (HWC)",
            zkedge_kernel::model::Order::Chw => "channels-first (CHW)",
        },
        if model.file().softmax.is_some() {
            "the softmax is computed from the proven logits, not proven"
        } else {
            "no softmax"
        }
    );
    println!(
        "circuit: k = {} ({} of {} rows used; the largest zkedge proves is k = {})",
        layout.k(),
        layout.rows(),
        1u64 << layout.k(),
        zkedge_kernel::layout::MAX_K
    );
    println!("{} written ({})", out.display(), bytes(data.len()));
    Ok(())
}

pub fn convert(model_path: &Path, out: &Path) -> Result<()> {
    let model = input::model(model_path)?;
    let bytes = input::model_bytes(out, &model);
    fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "{} written ({})",
        out.display(),
        super::ui::bytes(bytes.len())
    );
    Ok(())
}
