//! Native timing of Chapter 4's batch scoring (decode a month, filter, predict every
//! trip, write parquet), after fitting the course's baseline on another month; prints
//! JSON with every run and the median (used by `bench/run.sh`).
//!
//! `cargo run --release -p mlops-core --example bench_score -- TRAIN MONTH [REPEAT]`

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::protocol::run_score_bench;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(train_path), Some(month_path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench_score TRAIN MONTH [REPEAT]");
        return ExitCode::from(2);
    };
    let repeat: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(7);
    let (Ok(train), Ok(month)) = (std::fs::read(train_path), std::fs::read(month_path)) else {
        eprintln!("error: cannot read {train_path} or {month_path}");
        return ExitCode::from(2);
    };
    let clock = Instant::now();
    match run_score_bench(&train, &month, repeat, &|| clock.elapsed().as_secs_f64()) {
        Ok(report) => {
            let json = serde_json::json!({
                "runner": "native (release)",
                "seconds": report.seconds,
                "median_seconds": report.median_seconds,
                "rows": report.rows,
                "rows_per_second": report.rows_per_second,
            });
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
