//! The `replyd` command: the daemon and the tools to manage conversations.

mod cli;
mod ingest;
mod relay_command;

fn main() -> std::process::ExitCode {
    cli::main()
}
