//! The words and phrases of every language the classifier knows, kept as data.
//!
//! The rules (what makes a line an attribution, a header block, a mobile signature …)
//! are the same in every language; only the words differ. Keeping the words in one text
//! file per language (`lexicon/<code>.txt`) makes supporting a language, or a client's new
//! wording, an edit to a word list that the tests check, not to the classifier.
//!
//! The files are compiled in ([`include_str!`]) and parsed once, on first use, into the
//! tables the classifier reads: plain slices where it scans every entry, sorted slices
//! where it looks a word up, and a first-byte filter for the mobile signature prefixes.
//!
//! # File format
//!
//! UTF-8, one item per line:
//!
//! * `[section]` starts a section; every entry belongs to the section above it;
//! * a line starting with `#` is a comment; blank lines are ignored;
//! * any other line is an entry, as written, leading and trailing whitespace trimmed.
//!
//! Entries are compared with line *keys* (lowercased, invisible characters dropped,
//! whitespace collapsed to one space), so they are written in that form. An entry may
//! appear in several files (a word shared by languages); the tables keep it once. Within
//! one section of one file, an entry may appear only once.
//!
//! Sections (all optional):
//!
//! | section | what it lists |
//! |---|---|
//! | `header-from`, `header-date`, `header-to`, `header-cc`, `header-subject` | names of the header fields of a quoted message (`From`, `Von`, `发件人` …), without the colon; a name belongs to one field only |
//! | `attribution-start-words` | words an attribution line starts with ("On", "Am", weekday abbreviations …) |
//! | `attribution-end-verbs` | verbs an attribution ends with, before its colon ("wrote", "a écrit") |
//! | `attribution-mid-verbs` | verbs that may also stand inside it (`Am … schrieb Name <mail>:`) |
//! | `quoting-prefixes` | "Quoting" forms, followed by a name and address ("Zitat von") |
//! | `message-stems` | stems naming an original or forwarded message in a separator line ("original", "nachricht") |
//! | `forward-stems` | stems saying "forwarded", for the undecorated "Begin forwarded message:" form |
//! | `message-nouns` | nouns for "message" that form must also contain |
//! | `forwarded-by` | "Forwarded by" forms that start a decorated separator |
//! | `forward-words` | words that make a history marker a *forward* rather than an original message ("forward", "weitergeleitet", "转发") |
//! | `forward-subject-prefixes` | subject prefixes of a forwarded message, without the colon (`fwd`, `wg`, `tr`) |
//! | `sent-prefixes` | starts of a mobile / app signature ("Sent from", "Von meinem") |
//! | `sent-suffixes` | ends of one, in languages that put the verb last ("から送信") |
//! | `sent-my` | "Sent from my" forms, which may name any device |
//! | `closings` | words a closing line starts with ("regards", "mit freundlichen grüßen"): a closing alone under a quote does not make the quote the context of an answer |
//! | `device-words` | device and app names that make a "Sent …" line a signature |
//! | `reply-above` | what a helpdesk's "reply above this line" line says, in part ("reply above this line", "au-dessus de cette ligne"): where its mail, and so the history, starts |
//!
//! Order matters in `sent-prefixes` only: the first entry, in load order (files in the
//! order of [`FILES`], entries in file order), that starts a line is the one whose rest is
//! measured for the short `Sent with <App>` form.
//!
//! Adding a language: a new `lexicon/<code>.txt` and its code in [`FILES`].

use std::sync::LazyLock;

use super::header_blocks::{H_CC, H_DATE, H_FROM, H_SUBJECT, H_TO};

/// `(language code, file text)` for every file under `lexicon/`, in load order.
macro_rules! lexicon_files {
    ($($code:literal),* $(,)?) => {
        &[$(($code, include_str!(concat!("lexicon/", $code, ".txt")))),*]
    };
}

/// Every lexicon file, in load order. `common` holds what belongs to no one language
/// (brand and product names).
const FILES: &[(&str, &str)] = lexicon_files!(
    "common", "en", "de", "fr", "es", "pt", "it", "nl", "sv", "da", "nb", "pl", "ru", "uk", "cs",
    "sk", "fi", "zh", "ja", "ko", "el", "tr", "hu", "ro", "ca", "id", "ms", "vi", "he", "ar", "hr",
    "sr", "bg", "et", "lv", "lt", "hi",
);

/// The lexicon of every file in [`FILES`], parsed on first use.
pub(super) fn lexicon() -> &'static Lexicon {
    static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
        // Our own compiled-in data: `tests::every_lexicon_file_parses` guarantees this.
        Lexicon::parse(FILES).unwrap_or_else(|e| panic!("built-in reply lexicon: {e}"))
    });
    &LEXICON
}

/// The sections of a lexicon file (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// A header field name, with the field kind (`H_FROM` …) it names.
    HeaderLabel(u8),
    AttributionStartWords,
    AttributionEndVerbs,
    AttributionMidVerbs,
    QuotingPrefixes,
    MessageStems,
    ForwardStems,
    MessageNouns,
    ForwardedBy,
    ForwardWords,
    ForwardSubjectPrefixes,
    SentPrefixes,
    SentSuffixes,
    SentMy,
    DeviceWords,
    Closings,
    ReplyAbove,
}

impl Section {
    fn from_name(name: &str) -> Option<Section> {
        Some(match name {
            "header-from" => Section::HeaderLabel(H_FROM),
            "header-date" => Section::HeaderLabel(H_DATE),
            "header-to" => Section::HeaderLabel(H_TO),
            "header-cc" => Section::HeaderLabel(H_CC),
            "header-subject" => Section::HeaderLabel(H_SUBJECT),
            "attribution-start-words" => Section::AttributionStartWords,
            "attribution-end-verbs" => Section::AttributionEndVerbs,
            "attribution-mid-verbs" => Section::AttributionMidVerbs,
            "quoting-prefixes" => Section::QuotingPrefixes,
            "message-stems" => Section::MessageStems,
            "forward-stems" => Section::ForwardStems,
            "message-nouns" => Section::MessageNouns,
            "forwarded-by" => Section::ForwardedBy,
            "forward-words" => Section::ForwardWords,
            "forward-subject-prefixes" => Section::ForwardSubjectPrefixes,
            "sent-prefixes" => Section::SentPrefixes,
            "sent-suffixes" => Section::SentSuffixes,
            "sent-my" => Section::SentMy,
            "device-words" => Section::DeviceWords,
            "closings" => Section::Closings,
            "reply-above" => Section::ReplyAbove,
            _ => return None,
        })
    }
}

/// The entries of one lexicon file, each with its section, in file order.
fn parse_file(text: &'static str) -> Result<Vec<(Section, &'static str)>, String> {
    let mut entries: Vec<(Section, &'static str)> = Vec::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let Some(s) = Section::from_name(name.trim()) else {
                return Err(format!("line {}: unknown section [{name}]", n + 1));
            };
            section = Some(s);
            continue;
        }
        let Some(s) = section else {
            return Err(format!(
                "line {}: entry {line:?} before any [section]",
                n + 1
            ));
        };
        if entries.contains(&(s, line)) {
            return Err(format!(
                "line {}: {line:?} listed twice in its section",
                n + 1
            ));
        }
        entries.push((s, line));
    }
    Ok(entries)
}

/// The tables the classifier reads, built once from the lexicon files.
#[derive(Debug)]
pub(super) struct Lexicon {
    /// Header field names with the field kind they name, sorted by name.
    header_labels: Vec<(&'static str, u8)>,
    /// Sorted.
    attribution_start_words: Vec<&'static str>,
    pub(super) attribution_end_verbs: Vec<&'static str>,
    pub(super) attribution_mid_verbs: Vec<&'static str>,
    pub(super) quoting_prefixes: Vec<&'static str>,
    pub(super) message_stems: Vec<&'static str>,
    pub(super) forward_stems: Vec<&'static str>,
    pub(super) message_nouns: Vec<&'static str>,
    pub(super) forwarded_by: Vec<&'static str>,
    pub(super) forward_words: Vec<&'static str>,
    pub(super) forward_subject_prefixes: Vec<&'static str>,
    /// In load order: the first match wins.
    pub(super) sent_prefixes: Vec<&'static str>,
    /// The first bytes of [`Lexicon::sent_prefixes`]: most lines start with a byte no
    /// prefix starts with, and skip the comparisons.
    pub(super) sent_prefix_first_bytes: [bool; 256],
    pub(super) sent_suffixes: Vec<&'static str>,
    /// The last bytes of [`Lexicon::sent_suffixes`], for the same reason.
    pub(super) sent_suffix_last_bytes: [bool; 256],
    pub(super) sent_my: Vec<&'static str>,
    pub(super) device_words: Vec<&'static str>,
    pub(super) closings: Vec<&'static str>,
    pub(super) reply_above: Vec<&'static str>,
}

impl Lexicon {
    fn parse(files: &[(&str, &'static str)]) -> Result<Lexicon, String> {
        let mut lex = Lexicon {
            header_labels: Vec::new(),
            attribution_start_words: Vec::new(),
            attribution_end_verbs: Vec::new(),
            attribution_mid_verbs: Vec::new(),
            quoting_prefixes: Vec::new(),
            message_stems: Vec::new(),
            forward_stems: Vec::new(),
            message_nouns: Vec::new(),
            forwarded_by: Vec::new(),
            forward_words: Vec::new(),
            forward_subject_prefixes: Vec::new(),
            sent_prefixes: Vec::new(),
            sent_prefix_first_bytes: [false; 256],
            sent_suffixes: Vec::new(),
            sent_suffix_last_bytes: [false; 256],
            sent_my: Vec::new(),
            device_words: Vec::new(),
            closings: Vec::new(),
            reply_above: Vec::new(),
        };
        for (code, text) in files {
            let entries = parse_file(text).map_err(|e| format!("lexicon/{code}.txt: {e}"))?;
            for (section, entry) in entries {
                if let Section::HeaderLabel(kind) = section {
                    match lex.header_labels.iter().find(|(l, _)| *l == entry) {
                        Some((_, k)) if *k != kind => {
                            return Err(format!(
                                "lexicon/{code}.txt: header name {entry:?} listed for two fields"
                            ))
                        }
                        Some(_) => {}
                        None => lex.header_labels.push((entry, kind)),
                    }
                    continue;
                }
                let table = match section {
                    Section::HeaderLabel(_) => continue,
                    Section::AttributionStartWords => &mut lex.attribution_start_words,
                    Section::AttributionEndVerbs => &mut lex.attribution_end_verbs,
                    Section::AttributionMidVerbs => &mut lex.attribution_mid_verbs,
                    Section::QuotingPrefixes => &mut lex.quoting_prefixes,
                    Section::MessageStems => &mut lex.message_stems,
                    Section::ForwardStems => &mut lex.forward_stems,
                    Section::MessageNouns => &mut lex.message_nouns,
                    Section::ForwardedBy => &mut lex.forwarded_by,
                    Section::ForwardWords => &mut lex.forward_words,
                    Section::ForwardSubjectPrefixes => &mut lex.forward_subject_prefixes,
                    Section::SentPrefixes => &mut lex.sent_prefixes,
                    Section::SentSuffixes => &mut lex.sent_suffixes,
                    Section::SentMy => &mut lex.sent_my,
                    Section::DeviceWords => &mut lex.device_words,
                    Section::Closings => &mut lex.closings,
                    Section::ReplyAbove => &mut lex.reply_above,
                };
                if !table.contains(&entry) {
                    table.push(entry);
                }
            }
        }
        lex.header_labels.sort_unstable();
        lex.attribution_start_words.sort_unstable();
        for p in &lex.sent_prefixes {
            // Never empty (blank lines are skipped), so every prefix has a first byte.
            if let Some(&b) = p.as_bytes().first() {
                lex.sent_prefix_first_bytes[usize::from(b)] = true;
            }
        }
        for s in &lex.sent_suffixes {
            if let Some(&b) = s.as_bytes().last() {
                lex.sent_suffix_last_bytes[usize::from(b)] = true;
            }
        }
        Ok(lex)
    }

    /// The header field kind (`H_FROM` …) a name such as `from` or `发件人` stands for.
    pub(super) fn header_kind(&self, label: &str) -> Option<u8> {
        self.header_labels
            .binary_search_by(|(l, _)| (*l).cmp(label))
            .ok()
            .map(|i| self.header_labels[i].1)
    }

    /// Whether an attribution line may start with `word` ("on", "am", "mon" …).
    pub(super) fn is_attribution_start_word(&self, word: &str) -> bool {
        self.attribution_start_words.binary_search(&word).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines::make_key;
    use super::*;

    #[test]
    fn every_lexicon_file_parses() {
        for (code, text) in FILES {
            let entries = parse_file(text).unwrap_or_else(|e| panic!("lexicon/{code}.txt: {e}"));
            assert!(!entries.is_empty(), "lexicon/{code}.txt is empty");
            for (section, entry) in entries {
                assert!(
                    !entry.is_empty(),
                    "lexicon/{code}.txt: empty entry in {section:?}"
                );
                // Entries are matched against line keys: written as keys, or never found.
                assert_eq!(
                    make_key(entry),
                    (entry.to_string(), false),
                    "lexicon/{code}.txt: {entry:?} in {section:?} is not written as a line key"
                );
            }
        }
        if let Err(e) = Lexicon::parse(FILES) {
            panic!("{e}");
        }
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(parse_file("entry before a section\n").is_err());
        assert!(parse_file("[no-such-section]\nx\n").is_err());
        assert!(parse_file("[sent-my]\nsent from my\n# comment\n\nsent from my\n").is_err());
        let ok =
            parse_file("# comment\n\n[sent-my]\n  sent from my  \n[device-words]\nsent from my\n");
        assert_eq!(
            ok,
            Ok(vec![
                (Section::SentMy, "sent from my"),
                (Section::DeviceWords, "sent from my")
            ])
        );
        let two_fields: &[(&str, &'static str)] =
            &[("a", "[header-from]\nde\n"), ("b", "[header-to]\nde\n")];
        assert!(Lexicon::parse(two_fields).is_err());
    }

    #[test]
    fn lookups() {
        let lex = lexicon();
        assert_eq!(lex.header_kind("from"), Some(H_FROM));
        assert_eq!(lex.header_kind("发件人"), Some(H_FROM));
        assert_eq!(lex.header_kind("betreff"), Some(H_SUBJECT));
        assert_eq!(lex.header_kind("hello"), None);
        assert!(lex.is_attribution_start_word("on"));
        assert!(!lex.is_attribution_start_word("hello"));
        assert!(lex.sent_prefix_first_bytes[usize::from(b's')]);
        assert!(!lex.sent_prefix_first_bytes[usize::from(b'x')]);
    }
}
