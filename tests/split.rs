//! A whole SMTP conversation, each client turn split at every byte position into two TCP
//! writes: the server's answers and the stored message must not depend on where the bytes
//! were cut.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn conversation_split_at_every_byte_position() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let turns: Vec<(Vec<u8>, Vec<u16>)> = vec![
        (
            format!(
                "EHLO split.test\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<{}>\r\n",
                conv.reply_address
            )
            .into_bytes(),
            vec![250, 250, 250],
        ),
        (b"DATA\r\n".to_vec(), vec![354]),
        (
            b"Subject: split\r\nFrom: bob@example.org\r\n\r\nline\r\n..dot\r\nbare\nlf\r\n.\r\n"
                .to_vec(),
            vec![250],
        ),
        (b"QUIT\r\n".to_vec(), vec![221]),
    ];
    let longest = turns.iter().map(|t| t.0.len()).max().unwrap();
    let mut stored_bodies = std::collections::HashSet::new();
    for cut in 0..=longest {
        let mut c = Raw::greeted(srv.addr);
        for (bytes, expected) in &turns {
            let k = cut.min(bytes.len());
            c.send(&bytes[..k]);
            std::thread::sleep(Duration::from_micros(300));
            c.send(&bytes[k..]);
            for code in expected {
                let (got, text) = c.reply();
                assert_eq!(got, *code, "cut at {cut}: {text}");
            }
        }
        assert!(c.is_closed());
    }
    let rows: Vec<Vec<u8>> = srv.incoming().iter().map(|m| srv.client_bytes(m)).collect();
    for r in &rows {
        stored_bodies.insert(r.clone());
    }
    // Every cut stored the same bytes (so one deduplicated row), exactly as framed.
    assert_eq!(stored_bodies.len(), 1);
    assert_eq!(
        rows[0],
        b"Subject: split\r\nFrom: bob@example.org\r\n\r\nline\r\n.dot\r\nbare\r\nlf\r\n".to_vec()
    );
    assert_eq!(srv.stored(), 1);
}
