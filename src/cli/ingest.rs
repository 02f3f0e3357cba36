//! `replyd ingest`: one message on stdin, delivered by the same rules as the server.
//!
//! This is the target of a Postfix `pipe(8)` or Exim `pipe` transport, which read our exit
//! code (sysexits) to decide between delivered, bounce and retry. So every outcome maps to
//! a code those programs know: 0 stored, 67 (EX_NOUSER) unknown or closed recipient, 65
//! (EX_DATAERR) for a message the server refuses for good, and 75 (EX_TEMPFAIL) for every
//! other failure — a locked database, a full disk, a bad config, even a bug — because mail
//! retried later is mail not lost.
//!
//! The recipient, then the message, meet the rules of every other way in (the intake):
//! over `max_message_size` (`552 5.3.4`), a header block
//! over `max_header_size` (`552 5.3.4`), more `Received:` headers than
//! `max_received_headers` (a loop, `554 5.4.0`). SMTP refuses those with a permanent reply,
//! so here they are 65, not 75: a retry would give the same answer, and the front MTA would
//! keep the message queued for days before bouncing it. A message without a header block (even
//! an empty one) is stored, flagged `no_header_block`, as over SMTP. The standard error names the refusal with
//! the SMTP reply's code and text; the MTA puts it in its bounce. (Bare LF is not a question
//! here: a pipe's lines end as the MTA writes them.)

use crate::intake::{Arrival, DeliveryError, Intake, Refusal, WayIn};
use crate::store::Store;
use crate::Config;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const EX_OK: u8 = 0;
const EX_DATAERR: u8 = 65;
const EX_NOUSER: u8 = 67;
const EX_TEMPFAIL: u8 = 75;

/// The envelope given on the command line.
#[derive(Debug, Default)]
pub struct Args {
    pub recipient: String,
    pub sender: String,
    pub client_ip: Option<IpAddr>,
}

pub fn main(config: PathBuf, database: Option<PathBuf>, args: Args) -> ExitCode {
    let code = std::panic::catch_unwind(move || run(config, database, args)).unwrap_or_else(|_| {
        eprintln!("replyd ingest: internal error; the message will be retried");
        EX_TEMPFAIL
    });
    ExitCode::from(code)
}

fn run(config: PathBuf, database: Option<PathBuf>, args: Args) -> u8 {
    let mut config = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("replyd ingest: {e}");
            return EX_TEMPFAIL;
        }
    };
    if let Some(db) = database {
        config.store.path = db;
        config.store.url = None;
    }
    let limit = config.limits.max_message_size;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(limit as u64 + 1)
        .read_to_end(&mut raw)
    {
        eprintln!("replyd ingest: cannot read the message: {e}");
        return EX_TEMPFAIL;
    }
    if raw.len() > limit {
        // Read the rest, so the MTA's write does not fail before it hears our status; the
        // intake refuses the message for its size like SMTP does.
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    }
    // I/O and timers for the PostgreSQL store's client (its writer is a task of this runtime).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("replyd ingest: {e}");
            return EX_TEMPFAIL;
        }
    };
    let entered = runtime.enter();
    let store = match Store::open(&config.store).and_then(|s| s.start_deliveries().map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("replyd ingest: {e}");
            return EX_TEMPFAIL;
        }
    };
    drop(entered);
    // A pipe's message keeps the front MTA's verdicts: no resolver to build.
    config.security.verify_senders = false;
    let intake = Intake::new(config, store);
    let recipient = args
        .recipient
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let sender = args
        .sender
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let arrival = Arrival {
        helo: None,
        remote_ip: args.client_ip,
        way_in: WayIn::Pipe,
        // The MTA that runs us: its topmost Received names the client, its verdicts count.
        trusted_relay: true,
    };
    let result = runtime.block_on(async {
        let destination = match intake.check_recipient(&arrival, &sender, &recipient).await {
            Ok(d) => d,
            Err(refusal) => return Err(refusal),
        };
        let result = intake
            .deliver(
                &arrival,
                sender,
                vec![(recipient.clone(), destination)],
                raw,
                false,
            )
            .await;
        intake.activity().flush_all();
        intake.store.finish_deliveries().await;
        Ok(result)
    });
    let result = match result {
        Ok(result) => result,
        Err(refusal) => {
            eprintln!("replyd ingest: <{recipient}>: {refusal}");
            return if refusal.is_transient() {
                EX_TEMPFAIL
            } else {
                EX_NOUSER
            };
        }
    };
    match result {
        Ok(stored) => {
            let ids: Vec<String> = stored.iter().map(ToString::to_string).collect();
            eprintln!("replyd ingest: stored as {}", ids.join(" "));
            EX_OK
        }
        Err(DeliveryError::Refused(refusal)) => refuse(&refusal),
        Err(DeliveryError::Store(e)) => {
            eprintln!("replyd ingest: not stored, will be retried: {e}");
            EX_TEMPFAIL
        }
    }
}

/// A message SMTP would refuse at the end of DATA: the same reply on stderr, and the exit
/// code of its class (a `5xx` is for good: 65, never retried; a `4xx` is 75).
fn refuse(refusal: &Refusal) -> u8 {
    eprintln!("replyd ingest: message refused: {refusal}");
    if refusal.is_transient() {
        EX_TEMPFAIL
    } else {
        EX_DATAERR
    }
}
