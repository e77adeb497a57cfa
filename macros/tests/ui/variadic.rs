extern "C" {
    #[rawtask::ffi::async_ffi]
    async fn work(x: i32, ...);
}

fn main() {}
