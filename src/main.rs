fn main() {
    mlops_lab::start();
}
