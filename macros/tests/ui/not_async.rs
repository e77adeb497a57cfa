#[rawtask::ffi::async_ffi]
fn work(x: u32) -> u32 {
    x
}

fn main() {}
