//! Procedural macros for [rawtask](https://docs.rs/rawtask).
//!
//! Use them through rawtask's `macros` feature (`rawtask::ffi::async_ffi`) rather than
//! depending on this crate directly: the expansion names `::rawtask`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, FnArg, ForeignItemFn, GenericParam, ItemFn, Lifetime, LifetimeParam, Pat,
    Path, ReturnType, Signature, Token,
};

/// Turns an `async fn` into a plain `fn` that returns an FFI-safe future
/// (`rawtask::ffi::FfiFuture` and its variants), with the same arguments.
///
/// ```
/// use rawtask::ffi::async_ffi;
///
/// #[async_ffi]
/// #[no_mangle]
/// pub async extern "C" fn add(a: u32, b: u32) -> u32 {
///     a + b
/// }
/// // becomes, roughly:
/// // pub extern "C" fn add(a: u32, b: u32) -> ::rawtask::ffi::FfiFuture<u32> {
/// //     ::rawtask::ffi::BorrowingFfiFuture::new(async move { let a = a; let b = b; a + b })
/// // }
/// assert_eq!(futures_lite::future::block_on(add(2, 3)), 5);
/// ```
///
/// # Arguments
///
/// Any of these, separated by commas:
///
/// - `?Send`: return a `LocalFfiFuture` (or `LocalBorrowingFfiFuture`): the body need not be
///   `Send`.
/// - a lifetime such as `'fut`: return a `BorrowingFfiFuture<'fut, T>`, so that the future may
///   borrow from the arguments. The lifetime is added to the function's generic parameters
///   (unless it is declared already); every borrowed argument must outlive it, which may need
///   explicit bounds such as `'a: 'fut`.
/// - `crate = path`: where rawtask is, if not at `::rawtask`.
///
/// ```
/// use rawtask::ffi::async_ffi;
/// use std::rc::Rc;
///
/// #[async_ffi(?Send)]
/// async fn local(x: Rc<u32>) -> u32 { *x }
///
/// #[async_ffi('fut)]
/// async fn borrow(x: &'fut u32, y: &'fut u32) -> u32 { *x + *y }
///
/// #[async_ffi('fut, ?Send)]
/// async fn both<'a: 'fut>(x: &'a Rc<u32>) -> u32 { **x }
///
/// let (x, y) = (1, 2);
/// assert_eq!(futures_lite::future::block_on(borrow(&x, &y)), 3);
/// assert_eq!(futures_lite::future::block_on(local(Rc::new(4))), 4);
/// assert_eq!(futures_lite::future::block_on(both(&Rc::new(5))), 5);
/// ```
///
/// # Arguments are moved into the future
///
/// As with an `async fn`, every argument is moved into the returned future, even one the body
/// never uses or binds to `_`, and the arguments are dropped when the future is dropped (or
/// finishes), after the body's locals, in the order an `async fn` drops them. Patterns work as
/// in an `async fn` (`(a, b): (u8, u8)`, `mut x: T`, `ref mut y: T`).
///
/// # Declarations
///
/// On a function in an `extern` block, only the signature changes:
///
/// ```
/// # use rawtask::ffi::async_ffi;
/// extern "C" {
///     #[async_ffi]
///     async fn plugin_work(arg: u32) -> u32;
///     // => fn plugin_work(arg: u32) -> ::rawtask::ffi::FfiFuture<u32>;
/// }
/// ```
///
/// # Errors
///
/// A method with a `self` receiver, a function that is not `async`, a variadic function and
/// unknown arguments are rejected with a compile error.
///
/// ```compile_fail
/// struct S;
/// impl S {
///     #[rawtask::ffi::async_ffi]
///     async fn method(&self) {} // error: a `self` receiver
/// }
/// ```
#[proc_macro_attribute]
pub fn async_ffi(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(args.into(), input.into()).into()
}

/// The parsed arguments of `#[async_ffi(...)]`.
struct Args {
    lifetime: Option<Lifetime>,
    local: bool,
    krate: Option<Path>,
}

mod kw {
    syn::custom_keyword!(Send);
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            lifetime: None,
            local: false,
            krate: None,
        };
        while !input.is_empty() {
            if input.peek(Lifetime) {
                let lifetime: Lifetime = input.parse()?;
                if args.lifetime.is_some() {
                    return Err(Error::new(
                        lifetime.span(),
                        "#[async_ffi] takes at most one lifetime",
                    ));
                }
                args.lifetime = Some(lifetime);
            } else if input.peek(Token![?]) {
                let question: Token![?] = input.parse()?;
                input
                    .parse::<kw::Send>()
                    .map_err(|_| Error::new(question.span, "#[async_ffi]: expected `?Send`"))?;
                args.local = true;
            } else if input.peek(Token![crate]) {
                input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                args.krate = Some(input.parse()?);
            } else {
                return Err(input.error(
                    "#[async_ffi] expects a lifetime (`'fut`), `?Send` or `crate = path`, \
                     separated by commas",
                ));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn expand(args: TokenStream2, input: TokenStream2) -> TokenStream2 {
    let args = match syn::parse2::<Args>(args) {
        Ok(args) => args,
        Err(error) => {
            let mut output = input;
            output.extend(error.into_compile_error());
            return output;
        }
    };
    // A declaration (in an `extern` block or a trait) ends with `;`; anything else must be a
    // function with a body.
    let is_declaration = matches!(
        input.clone().into_iter().last(),
        Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ';'
    );
    let result = if is_declaration {
        syn::parse2::<ForeignItemFn>(input.clone()).map(|mut item| {
            let original = item.clone();
            match transform(&mut item.attrs, &mut item.sig, None, &args) {
                Ok(_) => item.into_token_stream(),
                Err(error) => {
                    // `async` is not valid in an `extern` block: drop it, so that the only
                    // error is ours.
                    let mut item = original;
                    item.sig.asyncness = None;
                    let mut output = item.into_token_stream();
                    output.extend(error.into_compile_error());
                    output
                }
            }
        })
    } else {
        syn::parse2::<ItemFn>(input.clone()).and_then(|mut item| {
            let body = transform(&mut item.attrs, &mut item.sig, Some(&item.block), &args)?;
            let vis = &item.vis;
            let attrs = &item.attrs;
            let sig = &item.sig;
            Ok(quote! { #(#attrs)* #vis #sig { #body } })
        })
    };
    match result {
        Ok(output) => output,
        Err(error) => {
            // Keep the item as written, so that the only error is ours.
            let mut output = input;
            output.extend(error.into_compile_error());
            output
        }
    }
}

/// Rewrites the signature in place and, for a definition, returns the new body.
fn transform(
    attrs: &mut Vec<Attribute>,
    sig: &mut Signature,
    body: Option<&syn::Block>,
    args: &Args,
) -> syn::Result<TokenStream2> {
    // Check everything before changing anything.
    for input in &sig.inputs {
        let receiver_span = match input {
            FnArg::Receiver(receiver) => Some(receiver.self_token.span),
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(ident) if ident.ident == "self" => Some(ident.span()),
                _ => None,
            },
        };
        if let Some(span) = receiver_span {
            return Err(Error::new(
                span,
                "#[async_ffi] does not support `self` receivers: an FFI function cannot be a \
                 method; write a free function that takes the value as an ordinary argument",
            ));
        }
    }
    if let Some(variadic) = &sig.variadic {
        return Err(Error::new(
            variadic.span(),
            "#[async_ffi] does not support variadic arguments",
        ));
    }
    let async_span = match sig.asyncness.take() {
        Some(token) => token.span,
        None if body.is_some() => {
            return Err(Error::new(
                sig.fn_token.span,
                "#[async_ffi] expects an `async fn`",
            ))
        }
        None => Span::call_site(),
    };

    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::rawtask),
    };
    let lifetime = match &args.lifetime {
        None => Lifetime::new("'static", Span::call_site()),
        Some(lifetime) => {
            let declared = sig.generics.lifetimes().any(|p| p.lifetime == *lifetime);
            if !declared {
                // After the other lifetimes, as lifetimes must come first.
                let position = sig.generics.lifetimes().count();
                sig.generics.params.insert(
                    position,
                    GenericParam::Lifetime(LifetimeParam::new(lifetime.clone())),
                );
                sig.generics.lt_token.get_or_insert(Token![<](async_span));
                sig.generics.gt_token.get_or_insert(Token![>](async_span));
            }
            lifetime.clone()
        }
    };
    let future = if args.local {
        quote_spanned!(async_span=> #krate::ffi::LocalBorrowingFfiFuture)
    } else {
        quote_spanned!(async_span=> #krate::ffi::BorrowingFfiFuture)
    };
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    sig.output = syn::parse2(quote_spanned!(async_span=> -> #future<#lifetime, #output>))?;
    attrs.push(syn::parse_quote!(#[allow(clippy::needless_lifetimes)]));
    attrs.push(syn::parse_quote!(#[must_use = "FFI futures do nothing unless polled"]));

    let Some(block) = body else {
        return Ok(TokenStream2::new());
    };

    // Move every argument into the future as an `async fn` does (rustc's lowering): a plain
    // `name` or `mut name` binding is rebound once (`let mut? name = name;`); any other pattern
    // is first moved into a fresh binding, which keeps the parts the pattern does not bind
    // alive (and drops them with the arguments), then destructured from it.
    let mut bindings = TokenStream2::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(typed) = input else {
            unreachable!("receivers were rejected above");
        };
        let param_attrs = &typed.attrs;
        match &*typed.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                let name = &ident.ident;
                let mutability = &ident.mutability;
                bindings.extend(quote! {
                    #(#param_attrs)*
                    let #mutability #name = #name;
                });
                // The parameter itself needs no `mut`: the rebinding has it.
                if let Pat::Ident(ident) = &mut *typed.pat {
                    ident.mutability = None;
                }
            }
            pattern => {
                let name = format_ident!("__rawtask_arg{}", index, span = pattern.span());
                let pattern = pattern.clone();
                bindings.extend(quote! {
                    #(#param_attrs)*
                    #[allow(unused_mut)]
                    let mut #name = #name;
                    #(#param_attrs)*
                    #[allow(clippy::toplevel_ref_arg)]
                    let #pattern = #name;
                });
                *typed.pat = syn::parse_quote!(#name);
            }
        }
    }

    Ok(quote_spanned! {async_span=>
        #future::new(async move {
            #bindings
            // The body's temporaries are dropped before the arguments, as in an `async fn`.
            #[allow(clippy::let_and_return, clippy::let_unit_value)]
            let __rawtask_output = #block;
            __rawtask_output
        })
    })
}

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
