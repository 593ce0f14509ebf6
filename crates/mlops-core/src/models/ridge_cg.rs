//! Ridge by conjugate gradients on `(AᵀA + αI) w = Aᵀy`, A the centred design matrix.
//!
//! This is the path scikit-learn's `Ridge` takes for sparse input with an intercept
//! (`solver="sparse_cg"`), with SciPy's `cg` stopping rule ‖r‖ < tol·‖b‖. Following the
//! same iteration from the same start gives the same approximate solution, which is what
//! lets us match its RMSE to 1e-4 rather than only "roughly".

use super::sparse_ops::{dot, norm, CenteredOperator};

pub struct CgResult {
    pub w: Vec<f64>,
    pub iterations: usize,
}

pub fn ridge_cg(
    operator: &CenteredOperator<'_>,
    y: &[f64],
    alpha: f64,
    tol: f64,
    max_iter: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> CgResult {
    let n = operator.n_cols();
    let mut b = vec![0.0; n];
    operator.rmatvec(y, &mut b);
    let mut w = vec![0.0; n];
    let bnorm = norm(&b);
    if bnorm == 0.0 {
        return CgResult { w, iterations: 0 };
    }
    let threshold = tol * bnorm;
    let mut r = b;
    let mut p = vec![0.0; n];
    let mut q = vec![0.0; n];
    let mut scratch = vec![0.0; operator.n_rows()];
    let mut rho_prev = 0.0;
    let mut iterations = 0;
    for iteration in 0..max_iter {
        if norm(&r) < threshold {
            break;
        }
        let rho = dot(&r, &r);
        if iteration > 0 {
            let beta = rho / rho_prev;
            for (pi, ri) in p.iter_mut().zip(&r) {
                *pi = ri + beta * *pi;
            }
        } else {
            p.copy_from_slice(&r);
        }
        operator.matvec(&p, &mut scratch);
        operator.rmatvec(&scratch, &mut q);
        for (qi, pi) in q.iter_mut().zip(&p) {
            *qi += alpha * pi;
        }
        let step = rho / dot(&p, &q);
        for ((wi, ri), (pi, qi)) in w.iter_mut().zip(r.iter_mut()).zip(p.iter().zip(&q)) {
            *wi += step * pi;
            *ri -= step * qi;
        }
        rho_prev = rho;
        iterations = iteration + 1;
        if iterations % 8 == 0 {
            progress(iterations, max_iter);
        }
    }
    CgResult { w, iterations }
}
