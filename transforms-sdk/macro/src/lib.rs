//! `#[transform]`: turns one plain function into the export of the
//! `hookyard:transform/transformation` world (the wit-bindgen glue is generated
//! here so users never see it).

use proc_macro::TokenStream;
use quote::quote;

/// Marks the function `fn(Request, &Env) -> Result<Request, E>` (with `E:
/// Display`) as the component's transformation. Use it once per crate.
#[proc_macro_attribute]
pub fn transform(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[transform] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let func = syn::parse_macro_input!(item as syn::ItemFn);
    let name = &func.sig.ident;
    quote! {
        #func

        // The export lives in its own module so its names cannot clash with the
        // user's.
        #[doc(hidden)]
        mod __hookyard_transform_export {
            struct Transform;

            impl ::hookyard_transforms_sdk::__private::Guest for Transform {
                fn transform(
                    req: ::hookyard_transforms_sdk::__private::WitRequest,
                    env: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<
                    ::hookyard_transforms_sdk::__private::WitRequest,
                    ::std::string::String,
                > {
                    ::hookyard_transforms_sdk::__private::run(super::#name, req, env)
                }
            }

            ::hookyard_transforms_sdk::__private::export!(
                Transform with_types_in ::hookyard_transforms_sdk::__private::bindings
            );
        }
    }
    .into()
}
