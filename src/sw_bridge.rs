//! The page's half of the service worker (`public/sw.js`): registers it, and answers
//! the `api/` requests it forwards with the served model.
//!
//! The worker cannot run the model; it posts `{kind: "mlops-lab-request", id, method,
//! path, body}` with a `MessagePort` to an open app window, and this bridge answers
//! through [`Serving::handle`] on that port with `{status, contentType, body}`. So
//! `fetch("api/predict")` from this origin gets the same answer as the request console,
//! and lands in the same prediction log.
//!
//! The service-worker API is reached through `js_sys::Reflect`, not web-sys types, so no
//! extra web-sys features are needed.

use js_sys::{Function, Object, Promise, Reflect};
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::serving::log::RequestSource;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::serving_state::Serving;

/// The message kind `sw.js` sends; anything else on the channel is ignored.
pub const REQUEST_KIND: &str = "mlops-lab-request";
/// Relative, so the worker's scope is the app's folder wherever the app is hosted.
const SCRIPT_URL: &str = "./sw.js";

/// Where the service worker stands, as far as this page knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwStatus {
    /// No `navigator.serviceWorker`: not a secure context (https, localhost, 127.0.0.1),
    /// or a browser or mode without service workers.
    Unsupported,
    Registering,
    /// Registered, but this page is not controlled yet (it soon is: the worker claims).
    Waiting,
    /// This page is controlled: `fetch("api/…")` is answered by the worker.
    Active,
    Failed(String),
}

impl SwStatus {
    /// Shown in the page; only [`SwStatus::Active`]'s text contains "active".
    pub fn describe(&self) -> String {
        match self {
            SwStatus::Unsupported => {
                "unavailable: service workers need a secure context (https, localhost or 127.0.0.1)".into()
            }
            SwStatus::Registering => "registering…".into(),
            SwStatus::Waiting => "registered, waiting to control this page".into(),
            SwStatus::Active => "active: it answers fetch(\"api/…\") for this page".into(),
            SwStatus::Failed(why) => format!("could not be registered: {why}"),
        }
    }
}

/// Provided as context by [`start`].
#[derive(Clone, Copy)]
pub struct SwBridge {
    pub status: RwSignal<SwStatus>,
    /// Requests the worker forwarded to this page.
    pub answered: RwSignal<u64>,
}

impl SwBridge {
    pub fn use_context() -> Option<Self> {
        use_context::<Self>()
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn describe(error: &JsValue) -> String {
    error.as_string().or_else(|| get(error, "message").as_string()).unwrap_or_else(|| format!("{error:?}"))
}

/// `navigator.serviceWorker`, if this context has one.
fn container() -> Option<JsValue> {
    let navigator = get(&window().into(), "navigator");
    let container = get(&navigator, "serviceWorker");
    (!container.is_undefined() && !container.is_null()).then_some(container)
}

fn is_controlled(container: &JsValue) -> bool {
    let controller = get(container, "controller");
    !controller.is_null() && !controller.is_undefined()
}

fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = get(target, method).dyn_into()?;
    match args {
        [] => function.call0(target),
        [a] => function.call1(target, a),
        [a, b] => function.call2(target, a, b),
        _ => Err(JsValue::from_str("too many arguments")),
    }
}

/// Registers the worker, listens for forwarded requests and tracks whether the worker
/// controls this page. Call once, inside `App()` after `Serving` is provided.
pub fn start(serving: Serving) {
    let bridge = SwBridge { status: RwSignal::new(SwStatus::Registering), answered: RwSignal::new(0) };
    provide_context(bridge);
    let Some(container) = container() else {
        bridge.status.set(SwStatus::Unsupported);
        return;
    };

    // Listen first: the worker may forward a request as soon as it controls the page.
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        answer(serving, bridge, &event);
    });
    let on_controller_change = {
        let container = container.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            if is_controlled(&container) {
                bridge.status.set(SwStatus::Active);
            }
        })
    };
    let listening =
        call(&container, "addEventListener", &[&"message".into(), on_message.as_ref()]).and_then(|_| {
            call(&container, "addEventListener", &[&"controllerchange".into(), on_controller_change.as_ref()])
        });
    // Both live as long as the page.
    on_message.forget();
    on_controller_change.forget();
    if let Err(e) = listening {
        bridge.status.set(SwStatus::Failed(describe(&e)));
        return;
    }

    spawn_local(async move {
        let registered = match call(&container, "register", &[&SCRIPT_URL.into()]) {
            Ok(promise) => JsFuture::from(Promise::from(promise)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = registered {
            bridge.status.set(SwStatus::Failed(describe(&e)));
            return;
        }
        if is_controlled(&container) {
            bridge.status.set(SwStatus::Active);
        } else if bridge.status.get_untracked() != SwStatus::Active {
            // `controllerchange` follows when the worker activates and claims this page.
            bridge.status.set(SwStatus::Waiting);
        }
    });
}

/// Answers one forwarded request on the port it came with.
fn answer(serving: Serving, bridge: SwBridge, event: &web_sys::MessageEvent) {
    let data = event.data();
    if get(&data, "kind").as_string().as_deref() != Some(REQUEST_KIND) {
        return;
    }
    let Some(port) = event.ports().get(0).dyn_into::<Object>().ok() else { return };
    let method = get(&data, "method").as_string().unwrap_or_else(|| "GET".into());
    let path = get(&data, "path").as_string().unwrap_or_else(|| "/".into());
    let body = get(&data, "body").as_string().unwrap_or_default();
    let (response, _latency_ms) =
        serving.handle(&method, &path, body.as_bytes(), RequestSource::ServiceWorker);
    let reply = Object::new();
    let _ = Reflect::set(&reply, &"id".into(), &get(&data, "id"));
    let _ = Reflect::set(&reply, &"status".into(), &JsValue::from(response.status));
    let _ = Reflect::set(&reply, &"contentType".into(), &response.content_type.into());
    let _ = Reflect::set(&reply, &"body".into(), &response.body.into());
    if call(&port, "postMessage", &[&reply]).is_ok() {
        bridge.answered.update(|n| *n += 1);
    }
}
