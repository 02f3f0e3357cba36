//! CPU per message of the pure part of a delivery (`message::extract`: MIME parsing, the
//! text bodies, the reply-text analysis, attachments), without the socket or the store.
//!
//!     cargo run --release --example extract_cost [SIZE_BYTES] [ITERATIONS]
//!
//! The body is what the SMTP bench sends (smtp-source's numbered lines of `X`), so the
//! figure is the part of the bench's CPU per message that `extract` accounts for.

use replyd::message::{extract, ExtractOptions};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(65536);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mut raw = b"From: <sender@example.org>\r\nTo: <reply+00@support.example.com>\r\n\
Date: Thu,  3 Dec 2026 07:01:23 +0000 (UTC)\r\nMessage-Id: <1.2.3@vm>\r\n\r\n"
        .to_vec();
    let mut line = 0usize;
    while raw.len() < size {
        line += 1;
        let mut l = format!("{line}");
        while l.len() < 78 {
            l.push('X');
        }
        raw.extend_from_slice(l.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    let opts = ExtractOptions::default();
    let mut reply = 0;
    let started = Instant::now();
    for _ in 0..iterations {
        reply += extract(&raw, &opts).reply_text.len();
    }
    let per = started.elapsed().as_secs_f64() * 1000.0 / iterations as f64;
    println!(
        "{} bytes, {iterations} iterations: {per:.3} ms per message (reply text {} bytes)",
        raw.len(),
        reply / iterations
    );
}
