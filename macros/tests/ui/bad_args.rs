#[rawtask::ffi::async_ffi(Send)]
async fn work() {}

#[rawtask::ffi::async_ffi(?Sync)]
async fn other() {}

fn main() {}
