//! Where tracking data is kept in the browser: IndexedDB, or memory where the browser
//! refuses it; and how other tabs hear about changes.

pub mod indexeddb;
pub mod prefs;

use std::cell::RefCell;
use std::rc::Rc;

use mlops_core::tracking::kv::{KvBackend, Read, Record, StoreChange, Table, Write};
use mlops_core::tracking::memory::MemoryKv;
use mlops_core::tracking::{format_run_id, Env, TrackingClient, TrackingError};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;

pub use indexeddb::IdbKv;

/// The channel every tab of the app listens on for store changes.
const CHANGES_CHANNEL: &str = "mlops-lab-store-changes";

pub type ChangeListener = Rc<dyn Fn(StoreChange)>;

enum Inner {
    IndexedDb(IdbKv),
    /// Private windows and some embedded browsers have no IndexedDB: data lasts until reload.
    Memory(MemoryKv),
}

/// The app's backend: IndexedDB or memory, announcing each committed change to this tab
/// (through `listener`) and to other tabs (through a BroadcastChannel).
pub struct AppKv {
    inner: Inner,
    listener: RefCell<Option<ChangeListener>>,
    channel: Option<web_sys::BroadcastChannel>,
}

impl AppKv {
    /// Opens IndexedDB, falling back to memory (with the reason, shown to the learner).
    pub async fn open() -> (Self, Option<String>) {
        Self::open_named(indexeddb::DATABASE_NAME).await
    }

    pub async fn open_named(name: &str) -> (Self, Option<String>) {
        let (inner, warning) = match IdbKv::open(name).await {
            Ok(store) => (Inner::IndexedDb(store), None),
            Err(e) => (
                Inner::Memory(MemoryKv::new()),
                Some(format!("Runs are kept in memory only and will be lost on reload: {e}")),
            ),
        };
        let channel = web_sys::BroadcastChannel::new(CHANGES_CHANNEL).ok();
        (Self { inner, listener: RefCell::new(None), channel }, warning)
    }

    pub fn is_persistent(&self) -> bool {
        matches!(self.inner, Inner::IndexedDb(_))
    }

    /// Calls `listener` for every change, made here or in another tab.
    pub fn listen(&self, listener: ChangeListener) {
        *self.listener.borrow_mut() = Some(listener.clone());
        let Some(channel) = &self.channel else { return };
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let text = event.data().as_string().unwrap_or_default();
                if let Ok(change) = serde_json::from_str::<StoreChange>(&text) {
                    listener(change);
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The listener lives as long as the page.
        on_message.forget();
    }

    fn announce(&self, change: StoreChange) {
        if change.is_empty() {
            return;
        }
        if let (Some(channel), Ok(text)) = (&self.channel, serde_json::to_string(&change)) {
            let _ = channel.post_message(&wasm_bindgen::JsValue::from_str(&text));
        }
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener {
            listener(change);
        }
    }
}

impl KvBackend for AppKv {
    async fn read(&self, reads: &[Read]) -> Result<Vec<Vec<Record>>, TrackingError> {
        match &self.inner {
            Inner::IndexedDb(store) => store.read(reads).await,
            Inner::Memory(store) => store.read(reads).await,
        }
    }

    async fn transact<T>(
        &self,
        tables: &[Table],
        reads: &[Read],
        decide: impl FnOnce(Vec<Vec<Record>>) -> Result<(Vec<Write>, T), TrackingError>,
    ) -> Result<T, TrackingError> {
        let mut change = StoreChange::default();
        let decide = |found| {
            let (writes, out) = decide(found)?;
            change = StoreChange::of(&writes);
            Ok((writes, out))
        };
        let out = match &self.inner {
            Inner::IndexedDb(store) => store.transact(tables, reads, decide).await?,
            Inner::Memory(store) => store.transact(tables, reads, decide).await?,
        };
        self.announce(change);
        Ok(out)
    }
}

/// The browser's clock and randomness, and the learner's chosen name.
pub struct BrowserEnv;

pub const USER_NAME_KEY: &str = "mlops-lab-user";

impl Env for BrowserEnv {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    fn random_bits(&self) -> u128 {
        random_bits()
    }

    fn user(&self) -> String {
        prefs::get(USER_NAME_KEY)
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "learner".to_string())
    }
}

/// 128 random bits. Ids only need to be unique, so `Math.random` is enough.
pub fn random_bits() -> u128 {
    let part = || (js_sys::Math::random() * 4_294_967_296.0) as u128;
    (part() << 96) | (part() << 64) | (part() << 32) | part()
}

pub fn random_id() -> String {
    format_run_id(random_bits())
}

/// The tracking client every page uses.
pub type Client = TrackingClient<AppKv, BrowserEnv>;

/// Opens the store and the client; the warning says why data is only in memory.
pub async fn open_client() -> Result<(Rc<Client>, Option<String>), TrackingError> {
    let (kv, warning) = AppKv::open().await;
    let client = TrackingClient::open(kv, BrowserEnv).await?;
    Ok((Rc::new(client), warning))
}
