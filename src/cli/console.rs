//! `replyd console hash-password`: the argon2 hash for `[console] password_hash`, so the
//! password itself is never written into the config file.
//!
//! The password is read from stdin (one line; a script pipes it in). On a terminal it is
//! prompted for twice with echo off (termios through `rustix`, without `unsafe`), so it
//! is neither shown nor left in the shell history.

use clap::Subcommand;
use std::io::{BufRead, IsTerminal, Write};

/// The longest password taken (argon2 takes any length; this only bounds the read).
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Subcommand)]
pub enum ConsoleCommand {
    /// Reads a password (stdin, or prompted on a terminal without echo) and prints its
    /// argon2 hash for `[console] password_hash`.
    HashPassword,
}

pub fn main(command: &ConsoleCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        ConsoleCommand::HashPassword => {
            let password = if std::io::stdin().is_terminal() {
                let first = prompt("Console password: ")?;
                let again = prompt("Again: ")?;
                if first != again {
                    return Err("the two passwords differ".into());
                }
                first
            } else {
                read_line(std::io::stdin().lock())?
            };
            if password.is_empty() {
                return Err("the password is empty".into());
            }
            println!("{}", crate::config::hash_password(&password)?);
            Ok(())
        }
    }
}

/// One line (without its line end), at most [`MAX_PASSWORD_BYTES`].
fn read_line(input: impl BufRead) -> Result<String, Box<dyn std::error::Error>> {
    let mut line = Vec::new();
    input
        .take(MAX_PASSWORD_BYTES as u64 + 2)
        .read_until(b'\n', &mut line)?;
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.len() > MAX_PASSWORD_BYTES {
        return Err(format!("the password is over {MAX_PASSWORD_BYTES} bytes").into());
    }
    Ok(String::from_utf8(line).map_err(|_| "the password is not UTF-8")?)
}

/// Asks for a line on the terminal (prompt on stderr) with echo off, restored afterwards.
fn prompt(question: &str) -> Result<String, Box<dyn std::error::Error>> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    eprint!("{question}");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        let _ = tcsetattr(&stdin, OptionalActions::Now, &quiet);
    }
    let line = read_line(stdin.lock());
    if let Some(saved) = &saved {
        let _ = tcsetattr(&stdin, OptionalActions::Now, saved);
    }
    line
}
