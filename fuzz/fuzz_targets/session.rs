//! Arbitrary client bytes against the SMTP/LMTP session state machine, with a real store on
//! a memory file system: must never panic, and every reply line the server writes must be a
//! well-formed `NNN[ -]text<CRLF>`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: replyd::fuzzing::ignore_caught_parser_panics(), |data: &[u8]| {
    let out = replyd::fuzzing::session(data);
    for line in out.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "reply line without CRLF: {line:?}");
        assert!(line.len() >= 5, "short reply line: {line:?}");
        assert!(line[..3].iter().all(u8::is_ascii_digit), "{line:?}");
        assert!(line[3] == b' ' || line[3] == b'-', "{line:?}");
        assert!(!line[..line.len() - 2].contains(&b'\r'), "{line:?}");
    }
});
