//! The `replyd` command: the daemon and the tools to manage conversations (`replyd::cli`).

fn main() -> std::process::ExitCode {
    replyd::cli::main()
}
