//! Saving what the app made (a model, an export, an artifact) as a file, without any server.

use wasm_bindgen::JsCast;

/// Starts a download of `contents` as `file_name`.
pub fn download_text(file_name: &str, mime: &str, contents: &str) -> Result<(), String> {
    download_bytes(file_name, mime, contents.as_bytes())
}

/// A `blob:` URL holding `bytes` (revoke it with `Url::revoke_object_url` when done).
pub fn blob_url(bytes: &[u8], mime: &str) -> Result<String, String> {
    let describe = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(describe)?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(describe)
}

/// Starts a download of `bytes` as `file_name`, through a Blob URL.
pub fn download_bytes(file_name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let describe = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let url = blob_url(bytes, mime)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "not an anchor".to_string())?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    web_sys::Url::revoke_object_url(&url).map_err(describe)?;
    Ok(())
}
