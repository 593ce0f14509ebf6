//! The training worker's entry point: Trunk builds this binary as a Web Worker.
use gloo_worker::Registrable;

fn main() {
    mlops_lab::worker::install_crash_report();
    mlops_lab::worker::TrainerWorker::registrar().register();
}
