//! Interleaved timing: every candidate is run once per round, rounds repeat, and medians are
//! reported, so slow drifts of a shared machine hit all candidates alike.

use std::time::Instant;

/// A named case to time.
pub type Case<'a> = (&'a str, Box<dyn FnMut() + 'a>);

/// Run each closure `warmup + reps` times, round-robin; return the median seconds of each.
pub fn interleaved_medians(cases: &mut [Case<'_>], warmup: usize, reps: usize) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(reps); cases.len()];
    for round in 0..warmup + reps {
        for (k, (_, f)) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            let dt = t.elapsed().as_secs_f64();
            if round >= warmup {
                samples[k].push(dt);
            }
        }
    }
    samples.into_iter().map(median).collect()
}

/// The median (mean of the middle two for an even count); `NaN` for no samples.
pub fn median(mut s: Vec<f64>) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 { s[m] } else { 0.5 * (s[m - 1] + s[m]) }
}
