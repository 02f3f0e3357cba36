//! The `replyd` command: the daemon and the tools to manage conversations.

mod cli;
mod ingest;

fn main() -> std::process::ExitCode {
    cli::main()
}
