//! Unit tests of the plain-text splitter, one file per concern; the helpers they share
//! are here.

use super::*;

mod attributions;
mod headers_and_markers;
mod languages;
mod probes;
mod quotes;
mod robustness;
mod signatures;

fn reply(s: &str) -> String {
    split_plain(s).reply
}
