//! Lets the browser tests embed the real TLC files when `../shared/data` is present
//! (a wasm test cannot read the disk). Without them, `cfg(shared_data)` is off and those
//! tests say they were skipped.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let data = manifest.join("../../../shared/data");
    println!("cargo::rerun-if-changed={}", data.display());
    let needed = [
        "green_tripdata_2021-01.parquet",
        "green_tripdata_2021-02.parquet",
        "green_tripdata_2023-02.parquet",
    ];
    if needed.iter().all(|f| data.join(f).is_file()) {
        if let Ok(path) = data.canonicalize() {
            println!("cargo::rustc-cfg=shared_data");
            println!("cargo::rustc-env=MLOPS_SHARED_DATA={}", path.display());
        }
    }
}
