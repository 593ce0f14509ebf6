//! The training worker's entry point: Trunk builds this binary as a Web Worker.
use gloo_worker::Registrable;

fn main() {
    console_error_panic_hook::set_once();
    mlops_lab::worker::TrainerWorker::registrar().register();
}
