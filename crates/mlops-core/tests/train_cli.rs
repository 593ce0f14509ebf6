//! The `train` example as instructors use it: JSON out on success, the app's message and
//! exit code 2 on a bad file. `cargo test` builds examples next to the test binaries.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn train_binary() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let binary = deps.parent()?.join("examples").join(format!("train{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Some(binary)
    } else {
        eprintln!("SKIPPED: {} is not built (run the whole `cargo test`)", binary.display());
        None
    }
}

#[test]
fn a_csv_renamed_to_parquet_exits_with_code_2_and_the_apps_message() {
    let Some(binary) = train_binary() else { return };
    let fake = std::env::temp_dir().join(format!("mlops-lab-fake-{}.parquet", std::process::id()));
    std::fs::write(&fake, "VendorID,trip_distance\n1,2.5\n").expect("write");
    let output = Command::new(binary)
        .args([
            "--train",
            &fake.display().to_string(),
            "--val",
            &fake.display().to_string(),
            "--model",
            "linear",
        ])
        .output()
        .expect("run");
    let _ = std::fs::remove_file(&fake);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("this is not a parquet file"), "{stderr}");
}

#[test]
fn unknown_model_is_a_usage_error() {
    let Some(binary) = train_binary() else { return };
    let output = Command::new(binary)
        .args(["--train", "a", "--val", "b", "--model", "xgboost"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown model `xgboost`"));
}

#[test]
fn real_months_give_json_with_the_course_numbers() {
    let Some(binary) = train_binary() else { return };
    if common::real_file("green_tripdata_2021-01.parquet").is_none() {
        return;
    }
    let data = common::shared_data_dir();
    let output = Command::new(binary)
        .arg("--train")
        .arg(data.join("green_tripdata_2021-01.parquet"))
        .arg("--val")
        .arg(data.join("green_tripdata_2021-02.parquet"))
        .args(["--model", "ridge", "--alpha", "1"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["n_train"], 73_908);
    assert_eq!(json["n_val"], 61_921);
    assert_eq!(json["n_features"], 13_221);
    assert!((json["val_rmse"].as_f64().expect("number") - 7.703735).abs() < 1e-4);
    assert!(json["fit_seconds"].as_f64().is_some());
}
