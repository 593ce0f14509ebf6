//! LSQR (Paige & Saunders, 1982) for `min ‖A x − b‖₂` on a centred sparse operator.
//!
//! Why LSQR and not the normal equations: started from x = 0, LSQR's iterates stay in
//! the row space of A, so on a rank-deficient one-hot matrix it converges to the
//! minimum-norm solution — the one scikit-learn's `LinearRegression` returns. That
//! matters for validation rows whose zone pair was never seen in training. The stopping
//! rules and defaults (atol = btol = 1e-6, conlim = 1e8, at most 2·n iterations) follow
//! SciPy's `lsqr`, which scikit-learn calls.

use super::sparse_ops::{norm, CenteredOperator};

pub struct LsqrOptions {
    pub atol: f64,
    pub btol: f64,
    pub conlim: f64,
    pub iter_lim: usize,
}

pub struct LsqrResult {
    pub x: Vec<f64>,
    pub iterations: usize,
}

pub fn lsqr(
    operator: &CenteredOperator<'_>,
    b: &[f64],
    options: &LsqrOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> LsqrResult {
    let n = operator.n_cols();
    let m = operator.n_rows();
    let eps = f64::EPSILON;
    let ctol = if options.conlim > 0.0 { 1.0 / options.conlim } else { 0.0 };
    let mut x = vec![0.0; n];

    let mut u = b.to_vec();
    let bnorm = norm(&u);
    let mut beta = bnorm;
    let mut v = vec![0.0; n];
    let mut alpha = 0.0;
    if beta > 0.0 {
        u.iter_mut().for_each(|e| *e /= beta);
        operator.rmatvec(&u, &mut v);
        alpha = norm(&v);
    }
    if alpha > 0.0 {
        v.iter_mut().for_each(|e| *e /= alpha);
    }
    let mut w = v.clone();
    if alpha * beta == 0.0 {
        return LsqrResult { x, iterations: 0 };
    }

    let mut rhobar = alpha;
    let mut phibar = beta;
    let mut anorm: f64 = 0.0;
    let mut ddnorm = 0.0;
    let mut xxnorm = 0.0;
    let mut z = 0.0;
    let mut cs2 = -1.0;
    let mut sn2 = 0.0;
    let mut av = vec![0.0; m];
    let mut atu = vec![0.0; n];
    let mut iterations = 0;
    let mut stop_reason = 0;

    while stop_reason == 0 {
        iterations += 1;
        operator.matvec(&v, &mut av);
        for (ui, avi) in u.iter_mut().zip(&av) {
            *ui = avi - alpha * *ui;
        }
        beta = norm(&u);
        if beta > 0.0 {
            u.iter_mut().for_each(|e| *e /= beta);
            anorm = (anorm * anorm + alpha * alpha + beta * beta).sqrt();
            operator.rmatvec(&u, &mut atu);
            for (vi, ai) in v.iter_mut().zip(&atu) {
                *vi = ai - beta * *vi;
            }
            alpha = norm(&v);
            if alpha > 0.0 {
                v.iter_mut().for_each(|e| *e /= alpha);
            }
        }

        // Plane rotation eliminating the subdiagonal of the bidiagonal matrix (no damping).
        let rhobar1 = rhobar;
        let phibar1 = phibar;
        let rho = (rhobar1 * rhobar1 + beta * beta).sqrt();
        let cs = rhobar1 / rho;
        let sn = beta / rho;
        let theta = sn * alpha;
        rhobar = -cs * alpha;
        let phi = cs * phibar1;
        phibar = sn * phibar1;
        let tau = sn * phi;

        let t1 = phi / rho;
        let t2 = -theta / rho;
        let mut dk_norm2 = 0.0;
        for ((xi, wi), vi) in x.iter_mut().zip(w.iter_mut()).zip(&v) {
            let dk = *wi / rho;
            dk_norm2 += dk * dk;
            *xi += t1 * *wi;
            *wi = vi + t2 * *wi;
        }
        ddnorm += dk_norm2;

        // Estimate of ‖x‖ from the lower-bidiagonal system.
        let delta = sn2 * rho;
        let gambar = -cs2 * rho;
        let rhs = phi - delta * z;
        let zbar = rhs / gambar;
        let xnorm = (xxnorm + zbar * zbar).sqrt();
        let gamma = (gambar * gambar + theta * theta).sqrt();
        cs2 = gambar / gamma;
        sn2 = theta / gamma;
        z = rhs / gamma;
        xxnorm += z * z;

        let acond = anorm * ddnorm.sqrt();
        let rnorm = phibar;
        let arnorm = alpha * tau.abs();

        let test1 = rnorm / bnorm;
        let test2 = arnorm / (anorm * rnorm + eps);
        let test3 = 1.0 / (acond + eps);
        let t1 = test1 / (1.0 + anorm * xnorm / bnorm);
        let rtol = options.btol + options.atol * anorm * xnorm / bnorm;

        if iterations >= options.iter_lim {
            stop_reason = 7;
        }
        if 1.0 + test3 <= 1.0 {
            stop_reason = 6;
        }
        if 1.0 + test2 <= 1.0 {
            stop_reason = 5;
        }
        if 1.0 + t1 <= 1.0 {
            stop_reason = 4;
        }
        if test3 <= ctol {
            stop_reason = 3;
        }
        if test2 <= options.atol {
            stop_reason = 2;
        }
        if test1 <= rtol {
            stop_reason = 1;
        }
        if iterations % 16 == 0 {
            progress(iterations, options.iter_lim);
        }
    }
    LsqrResult { x, iterations }
}
