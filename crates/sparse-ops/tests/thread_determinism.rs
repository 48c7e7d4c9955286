//! Every parallel kernel and the generator, in a 1-thread and a 2-thread rayon pool: the
//! results must be bitwise identical.

mod common;
use common::bits;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
use sparse_ops::{ChunkPolicy, CsrMatrix};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn all_kernels(a: &CsrMatrix) -> Vec<Vec<u64>> {
    let (n, d) = a.shape();
    let k = 5;
    let x: Vec<f64> = (0..d).map(|j| (j as f64 * 0.37).sin()).collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
    let g: Vec<f64> = (0..d * k).map(|j| (j as f64 * 0.7).sin()).collect();
    let z: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.3).cos()).collect();
    let mut out = Vec::new();
    let mut v = vec![0.0; n];
    a.mul_vec(&x, &mut v);
    out.push(bits(&v));
    let mut v = vec![0.0; d];
    a.tr_mul_vec(&y, &mut v);
    out.push(bits(&v));
    let mut v = vec![0.0; n * k];
    a.mul_dense(&g, k, &mut v);
    out.push(bits(&v));
    let mut v = vec![0.0; d * k];
    a.tr_mul_dense(&z, k, &mut v);
    out.push(bits(&v));
    let gram = a.weighted_gram(&y);
    out.push((0..d * d).map(|q| gram[(q / d, q % d)].to_bits()).collect());
    let rows: Vec<usize> = (0..n).step_by(3).collect();
    let w: Vec<f64> = rows.iter().map(|&i| 1.0 + y[i]).collect();
    let sg = a.sampled_gram(&rows, &w);
    out.push((0..d * d).map(|q| sg[(q / d, q % d)].to_bits()).collect());
    out.push(bits(&a.row_sq_norms()));
    let mut rec = vec![0.0; n];
    let s = a.mul_vec_fold(
        &x,
        1,
        &mut rec,
        || 0.0,
        |acc, _, z, r| {
            r[0] = z.exp();
            *acc += r[0];
        },
        |p, q| p + q,
    );
    out.push(bits(&rec));
    out.push(vec![s.to_bits()]);
    let mut v = vec![0.0; d];
    a.tr_mul_vec_map(|i| y[i].sin(), &mut v);
    out.push(bits(&v));
    let mut z = vec![0.0; n];
    let mut e = vec![0.0; n];
    let sums = a.mul_vec_then(&x, &mut z, [(&mut e[..], 1)], |_, zb, [eb]| {
        sparse_ops::runtime::vmath::exp_into(zb, eb);
        sparse_ops::runtime::reduce::sum_range(0..eb.len(), |k| eb[k])
    });
    out.push(bits(&z));
    out.push(bits(&e));
    out.push(bits(&sums));
    let mut v = vec![0.0; 4 * d];
    a.tr_mul_then::<4, 0>(
        [],
        |rows, yb, []| {
            for (r, i) in yb.iter_mut().zip(rows) {
                *r = [y[i], y[i].sin(), 1.0, -y[i]];
            }
            true
        },
        &mut v,
    );
    out.push(bits(&v));
    out.push(bits(&a.column_sq_norms()));
    let mut scaled = a.clone();
    scaled.scale_columns(&x).unwrap();
    out.push(bits(scaled.data()));
    out
}

#[test]
fn one_thread_equals_two_threads() {
    let spec = GenSpec { nrows: 30_000, ncols: 40, sparsity: Sparsity::RowNnz(7), variant: Variant::Plain, seed: 11 };
    let a1 = in_pool(1, || random_sparse(&spec).unwrap());
    let a2 = in_pool(2, || random_sparse(&spec).unwrap());
    assert_eq!(a1, a2, "generator");
    // Many partials, so the reductions really combine in a fixed order.
    let policy = ChunkPolicy {
        task_nnz: 2_000,
        part_nnz: 8_000,
        max_parts: 64,
        reduce_bytes: 64 << 20,
        work_per_partial_entry: 0,
        min_parts: 0,
    };
    let a = a1.with_chunk_policy(policy);
    let r1 = in_pool(1, || all_kernels(&a));
    let r2 = in_pool(2, || all_kernels(&a));
    assert_eq!(r1.len(), r2.len());
    for (k, (x, y)) in r1.iter().zip(&r2).enumerate() {
        assert!(x == y, "kernel {k} differs between 1 and 2 threads");
    }
    // Same with the cached transpose.
    a.cache_transpose().unwrap();
    assert_eq!(in_pool(1, || all_kernels(&a)), in_pool(2, || all_kernels(&a)));
}

#[test]
fn generator_variants_are_seeded() {
    for variant in [Variant::Plain, Variant::IllConditioned { orders: 4.0 }, Variant::Coherent { spikes: 3 }] {
        let spec = GenSpec { nrows: 9_000, ncols: 30, sparsity: Sparsity::Density(0.1), variant, seed: 5 };
        let a = in_pool(1, || random_sparse(&spec).unwrap());
        assert_eq!(a, in_pool(2, || random_sparse(&spec).unwrap()), "{variant:?}");
        let other = random_sparse(&GenSpec { seed: 6, ..spec }).unwrap();
        assert_ne!(a, other, "a different seed gives a different matrix");
    }
}
