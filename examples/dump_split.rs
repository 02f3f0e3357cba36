//! Prints what the extraction makes of every input under the given folders, so that a
//! change meant to make it faster can be shown to change nothing:
//!
//! ```text
//! cargo run --release --example dump_split -- ../shared/corpus tests/fixtures > before.txt
//! # change, rebuild
//! cargo run --release --example dump_split -- ../shared/corpus tests/fixtures > after.txt
//! cmp before.txt after.txt
//! ```
//!
//! `.eml` files go through `message::extract` (reply text, quoted text, text body, the
//! reply's range in the raw bytes, flags, HTML body length); `.txt` and `.html` files in an
//! `emails/` folder (the corpus's body-only cases) through `split_body`. Files in sorted
//! order, so two runs compare line by line.

use replyd::message::{extract, split_body, ExtractOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn dump(files: &[PathBuf], o: &mut impl Write) -> std::io::Result<()> {
    let opts = ExtractOptions::default();
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        let body_only = f.to_string_lossy().contains("/emails/");
        match ext {
            "eml" => {
                let p = extract(&std::fs::read(f)?, &opts);
                writeln!(o, "== {}", f.display())?;
                writeln!(
                    o,
                    "{:?}\n{:?}\n{:?}",
                    p.reply_text, p.quoted_text, p.text_body
                )?;
                let html = p.html_body.map(|h| h.len());
                writeln!(o, "{:?}\n{:?}\n{:?}", p.reply_range, p.flags, html)?;
            }
            "txt" | "html" if body_only => {
                let bytes = std::fs::read(f)?;
                let s = String::from_utf8_lossy(&bytes);
                let b = if ext == "txt" {
                    split_body(Some(&s), None)
                } else {
                    split_body(None, Some(&s))
                };
                writeln!(o, "== {}\n{b:?}", f.display())?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut files = Vec::new();
    for dir in std::env::args().skip(1) {
        if let Err(e) = walk(Path::new(&dir), &mut files) {
            eprintln!("dump_split: {dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let stdout = std::io::stdout();
    if let Err(e) = dump(&files, &mut stdout.lock()) {
        eprintln!("dump_split: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
