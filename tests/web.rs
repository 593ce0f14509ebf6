//! Browser-only behaviour of the app crate, in headless Chromium:
//! the IndexedDB store keeps the same contract as the memory store.
//!
//! `cargo test --target wasm32-unknown-unknown -p mlops-lab --test web`
#![cfg(target_arch = "wasm32")]

use mlops_core::tracking::contract::check_store;
use mlops_core::tracking::{NewRun, TrackingStore};
use mlops_lab::storage::IdbStore;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn indexeddb_store_keeps_the_contract() {
    let name = "mlops-lab-contract-test";
    IdbStore::delete_database(name).await.expect("delete");
    let store = IdbStore::open(name).await.expect("open");
    check_store(&store).await;
}

#[wasm_bindgen_test]
async fn runs_survive_reopening_the_database() {
    let name = "mlops-lab-reopen-test";
    IdbStore::delete_database(name).await.expect("delete");
    {
        let store = IdbStore::open(name).await.expect("open");
        let run = NewRun {
            run_id: "r1".into(),
            experiment: "Default".into(),
            run_name: "first".into(),
            start_time: 1,
        };
        store.create_run(run).await.expect("create");
        store.log_artifact("r1", "model.json", "{\"intercept\": 1.5}").await.expect("artifact");
    }
    let reopened = IdbStore::open(name).await.expect("reopen");
    assert_eq!(reopened.get_run("r1").await.expect("get").run_name, "first");
    assert_eq!(
        reopened.get_artifact("r1", "model.json").await.expect("artifact"),
        Some("{\"intercept\": 1.5}".to_string())
    );
}
