//! Replays inputs the fuzzers found (and seeds), through the same code the fuzz targets
//! drive, so a fixed crash stays fixed. Add files under tests/fuzz-regressions/<target>/.

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn extract_regressions() {
    let cases = inputs("extract");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let opts = replyd::message::ExtractOptions {
            max_attachment_size: 4096,
            max_attachments: 4,
            ..Default::default()
        };
        let parsed = replyd::message::extract(&data, &opts);
        assert!(parsed.attachments.len() <= 4, "{name}");
        // What the store reads back for a reply kept as a range of the raw bytes.
        if let Some((start, len)) = parsed.reply_range {
            let stored = std::str::from_utf8(&data[start..start + len]).unwrap();
            assert_eq!(stored.replace("\r\n", "\n"), parsed.reply_text, "{name}");
        }
    }
}

#[test]
fn session_regressions() {
    let cases = inputs("session");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let out = replyd::fuzzing::session(&data);
        assert!(
            out.starts_with(b"220 "),
            "{name}: {}",
            String::from_utf8_lossy(&out)
        );
        for line in out.split_inclusive(|&b| b == b'\n') {
            assert!(line.ends_with(b"\r\n"), "{name}: {line:?}");
            assert!(line[..3].iter().all(u8::is_ascii_digit), "{name}: {line:?}");
        }
    }
    // The seed that completes a transaction was stored.
    let out = replyd::fuzzing::session(
        &inputs("session")
            .into_iter()
            .find(|(n, _)| n == "seed-smtp-full")
            .unwrap()
            .1,
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("250 2.0.0 Ok: ") && text.contains("stored as m"),
        "{text}"
    );
    assert!(text.contains("221 2.0.0"), "{text}");
}
