//! Procedural macros for rawtask (placeholder while being written).
use proc_macro::TokenStream;

/// See `rawtask::ffi::async_ffi`.
#[proc_macro_attribute]
pub fn async_ffi(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}
