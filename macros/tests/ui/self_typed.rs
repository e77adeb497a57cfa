struct Plugin;

impl Plugin {
    #[rawtask::ffi::async_ffi]
    async fn work(self: Box<Self>) {}
}

fn main() {}
