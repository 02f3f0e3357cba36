//! The `replyd` command: the daemon and the tools to manage conversations.

mod cli;
mod ingest;

fn main() -> std::process::ExitCode {
    cli::main()
}

/// Buffers cross threads (a session allocates a message, the writer frees it); mimalloc
/// handles that without the arena locks of the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
