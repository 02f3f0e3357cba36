//! The skip-or-fail check of `common::needs` itself: a missing program is named with how to
//! install it, a test skips without `REPLYD_REQUIRE_ALL` and fails with it. (The decision
//! takes the setting as an argument, so these tests give the same answer whatever the
//! environment of the run.)

mod common;

use common::needs::{find_program, missing, skip_line};
use common::*;

#[test]
fn a_program_on_path_is_found_and_a_missing_one_is_named_with_its_install_hint() {
    assert!(missing(&[Need::Program("sh")]).is_empty());
    assert!(find_program("sh").unwrap().is_absolute());
    let reasons = missing(&[Need::Program("replyd-no-such-program"), Need::Program("sh")]);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("`replyd-no-such-program` is not installed:"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("./scripts/test installs it"),
        "{reasons:?}"
    );
    let why = find_program("replyd-no-such-program").unwrap_err();
    assert_eq!(why, reasons[0]);
}

#[test]
fn a_missing_user_is_named_and_root_is_the_effective_uid() {
    assert!(missing(&[Need::User("root")]).is_empty());
    let reasons = missing(&[Need::User("replyd-no-such-user")]);
    assert!(
        reasons[0].starts_with("user `replyd-no-such-user` does not exist"),
        "{reasons:?}"
    );
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert_eq!(missing(&[Need::Root]).is_empty(), root);
}

#[test]
fn without_require_all_a_missing_prerequisite_skips() {
    let reasons = vec!["`postfix` is not installed: apt-get install postfix".to_string()];
    assert_eq!(
        skip_line("needs::example", &reasons, false),
        "SKIPPED needs::example: `postfix` is not installed: apt-get install postfix"
    );
}

#[test]
#[should_panic(
    expected = "needs::example cannot run: `postfix` is not installed: apt-get \
                           install postfix (REPLYD_REQUIRE_ALL is set"
)]
fn with_require_all_a_missing_prerequisite_fails_with_the_reason() {
    let reasons = vec!["`postfix` is not installed: apt-get install postfix".to_string()];
    skip_line("needs::example", &reasons, true);
}
