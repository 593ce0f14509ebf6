//! The Web Worker that decodes parquet and trains, so the page never freezes.
//!
//! It keeps the decoded months in its own memory: the page sends a file's bytes once and
//! can then train any number of models on it.

use std::collections::HashMap;

use gloo_worker::{HandlerId, Worker, WorkerScope};
use mlops_core::data::TripTable;
use mlops_core::monitoring::jobs::{run_drift, run_drift_bench, run_replay};
use mlops_core::protocol::{
    dataset_view, load_slot, prepare_search, run_bench, run_pipeline_block, run_score_bench, run_trees_bench,
    run_trial, stage_label, Request, Response, Slot,
};
use mlops_core::serving::batch::score_trips;
use mlops_core::serving::service::LoadedModel;
use mlops_core::training::{train_and_evaluate, PreparedData};
use wasm_bindgen::JsCast;

pub struct TrainerWorker {
    tables: HashMap<Slot, TripTable>,
    /// A search pool worker's months, vectorized once for all its trials.
    prepared: Option<PreparedData>,
}

fn now_seconds() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// The query parameter of the worker's URL naming its page's crash channel.
pub const CRASH_CHANNEL_PARAM: &str = "crash-channel";

/// A panic aborts the worker's wasm and its bridge would wait forever. Before that, the
/// hook tells the page through a `BroadcastChannel` (named per page, in the worker URL),
/// so the page can say what happened and start a new worker.
pub fn install_crash_report() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let search = js_sys::global()
            .dyn_into::<web_sys::WorkerGlobalScope>()
            .map(|scope| scope.location().search())
            .unwrap_or_default();
        let channel = search
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| pair.strip_prefix(CRASH_CHANNEL_PARAM).and_then(|v| v.strip_prefix('=')));
        if let Some(Ok(channel)) = channel.map(web_sys::BroadcastChannel::new) {
            let _ = channel.post_message(&wasm_bindgen::JsValue::from_str(&info.to_string()));
        }
    }));
}

/// The worker's wasm linear memory, as the benchmark reports it.
fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().map(|b| b.byte_length() as u64).unwrap_or(0))
        .unwrap_or(0)
}

impl Worker for TrainerWorker {
    type Message = ();
    type Input = Request;
    type Output = Response;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self { tables: HashMap::new(), prepared: None }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: Self::Message) {}

    fn received(&mut self, scope: &WorkerScope<Self>, msg: Self::Input, id: HandlerId) {
        let response = match msg {
            Request::Load { slot, sources } => {
                scope.respond(
                    id,
                    Response::Progress {
                        stage: format!("Decoding the {} data", slot.label()),
                        fraction: 0.0,
                    },
                );
                match load_slot(slot, &sources) {
                    Ok((table, files, data_files)) => {
                        let view = dataset_view(slot, &sources, &table, files, data_files);
                        self.tables.insert(slot, table);
                        Response::Loaded(Box::new(view))
                    }
                    Err(message) => Response::Failed { message },
                }
            }
            Request::Replay { reference, current, options } => {
                let mut last_sent = 0.0;
                let mut progress = |stage: &str, fraction: f64| {
                    let now = now_seconds();
                    if now - last_sent > 0.05 || fraction >= 1.0 {
                        last_sent = now;
                        scope.respond(id, Response::Progress { stage: stage.to_string(), fraction });
                    }
                };
                match run_replay(&reference, &current, &options, &now_seconds, &mut progress) {
                    Ok(result) => Response::Replayed(Box::new(result)),
                    Err(message) => Response::Failed { message },
                }
            }
            Request::Drift { reference, current, options } => {
                scope.respond(
                    id,
                    Response::Progress {
                        stage: "Decoding both files and comparing every column".into(),
                        fraction: 0.0,
                    },
                );
                match run_drift(&reference, &current, &options, &now_seconds) {
                    Ok(result) => Response::DriftReported(Box::new(result)),
                    Err(message) => Response::Failed { message },
                }
            }
            Request::BenchDrift { reference, current, replay_reference, replay_current, repeat } => {
                match run_drift_bench(
                    &reference,
                    &current,
                    &replay_reference,
                    &replay_current,
                    repeat,
                    &now_seconds,
                ) {
                    Ok(report) => Response::DriftBench(report),
                    Err(message) => Response::Failed { message },
                }
            }
            Request::BenchScore { train, month, repeat } => {
                match run_score_bench(&train, &month, repeat, &now_seconds) {
                    Ok(report) => Response::ScoreBench(report),
                    Err(message) => Response::Failed { message },
                }
            }
            Request::Bench { train, val, repeat } => match run_bench(&train, &val, repeat, &now_seconds) {
                Ok(mut report) => {
                    report.memory_bytes = wasm_memory_bytes();
                    Response::Bench(report)
                }
                Err(message) => Response::Failed { message },
            },
            Request::Score { slot, model_json, model_version, options } => match self.tables.get(&slot) {
                None => Response::Failed { message: format!("load the {} month first", slot.label()) },
                Some(table) => match LoadedModel::from_json(model_json.as_bytes(), &model_version) {
                    Err(e) => Response::Failed { message: e.to_string() },
                    Ok(model) => {
                        let started = now_seconds();
                        let mut last_sent = 0.0;
                        let mut progress = |fraction: f64| {
                            let now = now_seconds();
                            if now - last_sent > 0.05 {
                                last_sent = now;
                                let stage = "Scoring every trip".to_string();
                                scope.respond(id, Response::Progress { stage, fraction });
                            }
                        };
                        match score_trips(table, &model, &options, &mut progress) {
                            Ok(batch) => {
                                Response::Scored { batch: Box::new(batch), seconds: now_seconds() - started }
                            }
                            Err(e) => Response::Failed { message: e.to_string() },
                        }
                    }
                },
            },
            Request::PrepareSearch { train, val, feature_set, filter } => {
                self.prepared = None;
                match prepare_search(&train, &val, feature_set, filter) {
                    Ok((data, data_files)) => {
                        let response = Response::SearchPrepared {
                            n_train: data.n_train(),
                            n_val: data.n_val(),
                            n_features: data.n_features(),
                            data_files,
                        };
                        self.prepared = Some(data);
                        response
                    }
                    Err(message) => Response::Failed { message },
                }
            }
            Request::Trial { tid, estimator } => {
                let outcome = match &self.prepared {
                    None => Err("this worker has no prepared months (PrepareSearch first)".to_string()),
                    Some(data) => {
                        let mut last_sent = 0.0;
                        let mut progress = |stage, fraction: f64| {
                            let now = now_seconds();
                            if now - last_sent > 0.1 {
                                last_sent = now;
                                let stage = stage_label(stage).to_string();
                                scope.respond(id, Response::Progress { stage, fraction });
                            }
                        };
                        run_trial(&estimator, data, &now_seconds, &mut progress).map(Box::new)
                    }
                };
                Response::TrialDone { tid, outcome }
            }
            Request::BenchTrees { train, val, repeat } => {
                match run_trees_bench(&train, &val, repeat, &now_seconds) {
                    Ok(report) => Response::TreesBench(report),
                    Err(message) => Response::Failed { message },
                }
            }
            Request::RunBlock { request } => {
                let mut last_sent = 0.0;
                let stage = format!("Running block `{}`", request.context.block_id);
                let mut progress = |fraction: f64| {
                    let now = now_seconds();
                    if now - last_sent > 0.1 {
                        last_sent = now;
                        scope.respond(id, Response::Progress { stage: stage.clone(), fraction });
                    }
                };
                Response::BlockDone(Box::new(run_pipeline_block(&request, &now_seconds, &mut progress)))
            }
            Request::Train { spec } => {
                match (self.tables.get(&Slot::Train), self.tables.get(&Slot::Validation)) {
                    (Some(train), Some(val)) => {
                        // Progress messages are throttled: posting thousands would flood the page.
                        let mut last_sent = 0.0;
                        let mut progress = |stage, fraction: f64| {
                            let now = now_seconds();
                            if now - last_sent > 0.05 || fraction == 0.0 {
                                last_sent = now;
                                scope.respond(
                                    id,
                                    Response::Progress { stage: stage_label(stage).to_string(), fraction },
                                );
                            }
                        };
                        match train_and_evaluate(&spec, train, val, &now_seconds, &mut progress) {
                            Ok(report) => Response::Trained(Box::new(report)),
                            Err(e) => Response::Failed { message: e.to_string() },
                        }
                    }
                    _ => Response::Failed {
                        message: "load both a training and a validation month first".to_string(),
                    },
                }
            }
        };
        scope.respond(id, response);
    }
}
