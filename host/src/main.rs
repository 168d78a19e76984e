//! `zkedge`: the command line (`zkedge --help`; docs/cli.md). Everything lives in the library.

fn main() {
    std::process::exit(zkedge::cli::run(std::env::args_os()));
}
