//! `spnewton bench io`: reading speed of the Matrix Market reader against a byte-streaming
//! pass over the same file (the page-cache floor), on 1 and 2 threads, and optionally against
//! another build's `spnewton info` (e.g. the previous reader) run as a child process.
//! Interleaved rounds, medians.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use sparse_ops::ReadOptions;
use sparse_ops::io::read_csr;

use harness::Cases;

#[derive(Args)]
pub struct IoBenchArgs {
    /// The Matrix Market file to read (.mtx or .mtx.gz).
    #[arg(long)]
    a: PathBuf,
    /// Another `spnewton` binary: `OLD info --a FILE` and `THIS info --a FILE` are timed too
    /// (whole processes, so start-up and the statistics pass are included in both).
    #[arg(long)]
    old: Option<PathBuf>,
    /// Timed rounds (after one warm-up round).
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

/// Read the whole file in 1 MiB pieces, touching every byte (the floor of any reader).
fn stream(path: &Path, gz: bool) -> u64 {
    let file = std::fs::File::open(path).expect("the file was readable a moment ago");
    let mut r: Box<dyn Read> = if gz { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut buf = vec![0u8; 1 << 20];
    let mut sum = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return sum;
        }
        sum = buf[..n].iter().fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
    }
}

fn info(bin: &Path, file: &Path, threads: usize) {
    let status = Command::new(bin)
        .args(["--threads", &threads.to_string(), "info", "--a"])
        .arg(file)
        .stdout(Stdio::null())
        .status();
    assert!(status.is_ok_and(|s| s.success()), "{} info failed", bin.display());
}

pub fn run(args: IoBenchArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(args.reps >= 1, "--reps must be at least 1");
    let path = args.a.as_path();
    let bytes = std::fs::metadata(path)?.len();
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path)?.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    // One read up front: errors surface before timing, and the sizes for the table.
    let a = read_csr(path, ReadOptions::default())?;
    let (nnz, csr_bytes) = (a.nnz(), a.csr_bytes());
    drop(a);
    let pools: Vec<rayon::ThreadPool> =
        [1, 2].iter().map(|&t| rayon::ThreadPoolBuilder::new().num_threads(t).build()).collect::<Result<_, _>>()?;
    let this = std::env::current_exe()?;
    const FLOOR: &str = "byte stream (floor)";
    const OLD: &str = "old: info --a, 2 threads";
    const THIS: &str = "this: info --a, 2 threads";
    let mut cases = Cases::new();
    cases
        .add(FLOOR, || assert!(std::hint::black_box(stream(path, false)) > 0))
        .add("reader, 1 thread", || drop(pools[0].install(|| read_csr(path, ReadOptions::default()))))
        .add("reader, 2 threads", || drop(pools[1].install(|| read_csr(path, ReadOptions::default()))));
    if gz {
        cases.add("gunzip stream", || assert!(std::hint::black_box(stream(path, true)) > 0));
    }
    if let Some(old) = &args.old {
        cases.add(OLD, move || info(old, path, 2));
        cases.add(THIS, || info(&this, path, 2));
    }
    let med = cases.run(1, args.reps);
    outln!(
        "{}: {:.1} MB, {nnz} nonzeros, CSR {:.1} MB; median of {} interleaved rounds",
        args.a.display(),
        bytes as f64 / 1e6,
        csr_bytes as f64 / 1e6,
        args.reps
    )?;
    outln!("{:<28} {:>9} {:>10} {:>12} {:>9}", "case", "seconds", "MB/s", "Mnnz/s", "x floor")?;
    for (name, t) in med.iter() {
        outln!(
            "{:<28} {:>9.3} {:>10.1} {:>12.2} {:>9.2}",
            name,
            t,
            bytes as f64 / 1e6 / t,
            nnz as f64 / 1e6 / t,
            t / med[FLOOR]
        )?;
    }
    if args.old.is_some() {
        outln!("this build's info is {:.2}x faster than the old one's", med[OLD] / med[THIS])?;
    }
    Ok(0)
}
