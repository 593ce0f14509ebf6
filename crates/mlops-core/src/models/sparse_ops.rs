//! The few sparse linear-algebra products the solvers need, on a column-centred view.
//!
//! scikit-learn never centres a sparse matrix (that would make it dense); it wraps it in
//! an operator that subtracts the column means on the fly. We do the same, so solutions
//! match scikit-learn's including the intercept handling.

use sprs::CsMat;

/// `X - 1·meansᵀ` without materialising it.
pub struct CenteredOperator<'a> {
    pub matrix: &'a CsMat<f64>,
    pub means: Vec<f64>,
}

impl<'a> CenteredOperator<'a> {
    /// Column means of a CSR matrix.
    pub fn new(matrix: &'a CsMat<f64>) -> Self {
        let (n_rows, n_cols) = matrix.shape();
        let mut means = vec![0.0; n_cols];
        for (&value, &col) in matrix.data().iter().zip(matrix.indices()) {
            means[col] += value;
        }
        let n = n_rows.max(1) as f64;
        means.iter_mut().for_each(|m| *m /= n);
        Self { matrix, means }
    }

    pub fn n_rows(&self) -> usize {
        self.matrix.rows()
    }

    pub fn n_cols(&self) -> usize {
        self.matrix.cols()
    }

    /// out = (X - 1·meansᵀ) v
    pub fn matvec(&self, v: &[f64], out: &mut [f64]) {
        let shift = dot(&self.means, v);
        let indptr = self.matrix.indptr();
        let indptr = indptr.raw_storage();
        let indices = self.matrix.indices();
        let data = self.matrix.data();
        for (row, slot) in out.iter_mut().enumerate() {
            let mut sum = 0.0;
            for k in indptr[row]..indptr[row + 1] {
                sum += data[k] * v[indices[k]];
            }
            *slot = sum - shift;
        }
    }

    /// out = (X - 1·meansᵀ)ᵀ u
    pub fn rmatvec(&self, u: &[f64], out: &mut [f64]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        let indptr = self.matrix.indptr();
        let indptr = indptr.raw_storage();
        let indices = self.matrix.indices();
        let data = self.matrix.data();
        for (row, &weight) in u.iter().enumerate() {
            if weight == 0.0 {
                continue;
            }
            for k in indptr[row]..indptr[row + 1] {
                out[indices[k]] += data[k] * weight;
            }
        }
        let total: f64 = u.iter().sum();
        for (slot, mean) in out.iter_mut().zip(&self.means) {
            *slot -= mean * total;
        }
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Predictions `X w + b` for a CSR matrix.
pub fn predict_csr(matrix: &CsMat<f64>, coefficients: &[f64], intercept: f64) -> Vec<f64> {
    let indptr = matrix.indptr();
    let indptr = indptr.raw_storage();
    let indices = matrix.indices();
    let data = matrix.data();
    (0..matrix.rows())
        .map(|row| {
            let mut sum = intercept;
            for k in indptr[row]..indptr[row + 1] {
                sum += data[k] * coefficients[indices[k]];
            }
            sum
        })
        .collect()
}
