trait Plugin {
    #[rawtask::ffi::async_ffi]
    async fn work(&mut self);
}

fn main() {}
