struct Plugin;

impl Plugin {
    #[rawtask::ffi::async_ffi]
    async fn work(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
