//! Lets `zkedge-icicle` (and this package's tests and examples) find ICICLE's shared libraries
//! at run time without `LD_LIBRARY_PATH`.
//!
//! ICICLE's build scripts install `libicicle_*.so` under `target/<profile>/deps/icicle/lib` (or
//! `$ICICLE_INSTALL_DIR/lib`, or use prebuilt ones from `$ICICLE_FRONTEND_INSTALL_DIR`) and add
//! that directory to the rpath of their own binaries only; a dependent's binaries need it too.
//! This script builds nothing.

use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=ICICLE_FRONTEND_INSTALL_DIR");
    println!("cargo:rerun-if-env-changed=ICICLE_INSTALL_DIR");
    let lib = if let Ok(dir) = env::var("ICICLE_FRONTEND_INSTALL_DIR") {
        PathBuf::from(dir)
    } else if let Ok(dir) = env::var("ICICLE_INSTALL_DIR") {
        PathBuf::from(dir).join("lib")
    } else {
        // The same place ICICLE's build scripts compute from their OUT_DIR.
        let Ok(out) = env::var("OUT_DIR") else {
            return;
        };
        PathBuf::from(out).join("../../../deps/icicle/lib")
    };
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
}
