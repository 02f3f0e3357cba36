//! The `replyd` command: the daemon and the tools to manage conversations.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
