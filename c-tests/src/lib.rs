//! probe
#[no_mangle]
pub extern "C" fn fixture_probe() -> u32 { 1 }
