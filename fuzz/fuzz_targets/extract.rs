//! Message extraction (MIME parsing, body selection, reply trimming, attachments, automated
//! mail detection) on arbitrary bytes: must never panic, and must always give valid UTF-8.
//! A reply text stored as a range of the raw bytes must read back as exactly that text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: replyd::fuzzing::ignore_caught_parser_panics(), |data: &[u8]| {
    let opts = replyd::message::ExtractOptions {
        max_attachment_size: 4096,
        max_attachments: 4,
        ..Default::default()
    };
    let parsed = replyd::message::extract(data, &opts);
    assert!(parsed.attachments.len() + parsed.skipped_attachments.len() <= 4);
    assert!(parsed.attachments.iter().all(|a| a.size <= 4096));
    if let Some((start, len)) = parsed.reply_range {
        let stored = std::str::from_utf8(&data[start..start + len]).expect("range is UTF-8");
        assert_eq!(stored.replace("\r\n", "\n"), parsed.reply_text);
    }
});
