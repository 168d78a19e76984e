fn main() {
    std::process::exit(zkedge::cli::run(std::env::args_os()));
}
