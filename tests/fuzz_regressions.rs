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
        };
        let parsed = replyd::message::extract(&data, &opts);
        assert!(parsed.attachments.len() <= 4, "{name}");
    }
}
