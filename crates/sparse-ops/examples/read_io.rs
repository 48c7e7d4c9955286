//! Time the readers on one file: `cargo run --release -p spnewton-sparse-ops --example read_io
//! -- FILE [THREADS] [REPS]` (`.mtx`, `.mtx.gz` or `.npz`). Prints the median wall time.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("usage: read_io FILE [THREADS] [REPS]"));
    let threads: usize = args.next().map_or(2, |t| t.parse().expect("THREADS is a number"));
    let reps: usize = args.next().map_or(5, |t| t.parse().expect("REPS is a number"));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let a = pool
            .install(|| sparse_ops::io::read_matrix_file(&path, Default::default(), &|_| {}))
            .expect("the file reads");
        times.push(t.elapsed().as_secs_f64());
        std::hint::black_box(a);
    }
    times.sort_by(f64::total_cmp);
    println!("{}: median {:.3} s over {reps} reads on {threads} threads", path.display(), times[reps / 2]);
}
