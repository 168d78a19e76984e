//! `zkedge-icicle`: the full zkedge CLI with the `icicle` backend registered.
//!
//! ```text
//! zkedge-icicle [--device auto|cpu|cuda|TYPE:ID] <zkedge command> … --backend icicle …
//! ```
//! `--device` (anywhere on the line, or `ZKEDGE_ICICLE_DEVICE`) sets the device of a plain
//! `--backend icicle`; `--backend icicle:CUDA:1` names one for that spec alone.

use std::{ffi::OsString, process::ExitCode};

use accel_icicle::{DeviceChoice, IcicleBackend};
use zkedge::backends::Registry;

/// Splits `--device X` / `--device=X` out of the arguments (the zkedge CLI has no option of
/// that name; a test in this crate keeps it so).
fn split_device(args: Vec<OsString>) -> Result<(Option<String>, Vec<OsString>), String> {
    let mut device = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(iter.by_ref());
            break;
        }
        let text = arg.to_str();
        if text == Some("--device") {
            let value = iter
                .next()
                .ok_or("--device needs a value: auto, cpu, cuda or TYPE:ID")?;
            device = Some(
                value
                    .into_string()
                    .map_err(|_| "--device: not valid UTF-8")?,
            );
        } else if let Some(value) = text.and_then(|t| t.strip_prefix("--device=")) {
            device = Some(value.to_string());
        } else {
            rest.push(arg);
        }
    }
    Ok((device, rest))
}

/// The default registry plus `icicle`, whose plain spec uses `default_device`.
fn registry(default_device: DeviceChoice) -> Registry {
    let mut registry = Registry::with_defaults();
    registry.register(
        "icicle",
        "ICICLE: CUDA if present, else ICICLE's CPU device (icicle:cpu, icicle:cuda, icicle:CUDA:1; \
         default from --device)",
        Box::new(move |arg| {
            let choice = if arg.is_empty() {
                default_device.clone()
            } else {
                arg.parse::<DeviceChoice>().map_err(|e| e.to_string())?
            };
            let backend = IcicleBackend::new(&choice).map_err(|e| e.to_string())?;
            eprintln!("icicle: {}", backend.selected().note());
            Ok(Box::new(backend))
        }),
    );
    registry
}

fn main() -> ExitCode {
    let (device, args) = match split_device(std::env::args_os().collect()) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let device = device.or_else(|| std::env::var("ZKEDGE_ICICLE_DEVICE").ok());
    let choice = match device.as_deref().map(str::parse::<DeviceChoice>) {
        None => DeviceChoice::Auto,
        Some(Ok(choice)) => choice,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let code = zkedge::cli::run_with(args, &registry(choice));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn device_option_is_taken_out_anywhere() {
        let (d, rest) = split_device(os(&[
            "z",
            "--device",
            "cpu",
            "prove",
            "--backend",
            "icicle",
        ]))
        .unwrap();
        assert_eq!(d.as_deref(), Some("cpu"));
        assert_eq!(rest, os(&["z", "prove", "--backend", "icicle"]));
        let (d, rest) = split_device(os(&["z", "prove", "--device=CUDA:1", "--out", "p"])).unwrap();
        assert_eq!(d.as_deref(), Some("CUDA:1"));
        assert_eq!(rest, os(&["z", "prove", "--out", "p"]));
        let (d, rest) = split_device(os(&["z", "x", "--", "--device", "y"])).unwrap();
        assert_eq!(d, None);
        assert_eq!(rest, os(&["z", "x", "--", "--device", "y"]));
        assert!(split_device(os(&["z", "--device"])).is_err());
    }

    /// `--device` belongs to zkedge-icicle only while the zkedge CLI has no option of that name.
    #[test]
    fn zkedge_cli_has_no_device_option() {
        fn walk(cmd: &clap::Command) -> bool {
            cmd.get_arguments().any(|a| a.get_long() == Some("device"))
                || cmd.get_subcommands().any(walk)
        }
        assert!(!walk(&zkedge::cli::Cli::command()));
    }

    #[test]
    fn registry_has_icicle_and_the_defaults() {
        let r = registry(DeviceChoice::Auto);
        let names: Vec<&str> = r.list().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"icicle") && names.contains(&"cpu"),
            "{names:?}"
        );
        // A bad spec is an error, not an abort.
        assert!(r.create("icicle:no such device").is_err());
        assert!(r.create("icicle:NOSUCHDEVICE").is_err());
    }
}
