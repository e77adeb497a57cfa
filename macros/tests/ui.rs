//! The compile errors of `#[async_ffi]`, checked with trybuild against `tests/ui/*.stderr`
//! (regenerate them with `TRYBUILD=overwrite cargo test -p rawtask-macros --test ui`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
