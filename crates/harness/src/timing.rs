//! Interleaved timing: every case runs once per round, rounds repeat, medians are reported.

use std::ops::Index;
use std::time::Instant;

/// Named closures to time together.
#[derive(Default)]
pub struct Cases<'a> {
    cases: Vec<(String, Box<dyn FnMut() + 'a>)>,
}

impl<'a> Cases<'a> {
    /// An empty set of cases.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a case. Names must be unique: they are how [`Timings`] are read.
    #[track_caller]
    pub fn add(&mut self, name: impl Into<String>, f: impl FnMut() + 'a) -> &mut Self {
        let name = name.into();
        assert!(self.cases.iter().all(|(n, _)| *n != name), "case {name:?} added twice");
        self.cases.push((name, Box::new(f)));
        self
    }

    /// Run every case `warmup + reps` times, round-robin; the median seconds of the last
    /// `reps` runs of each.
    pub fn run(&mut self, warmup: usize, reps: usize) -> Timings {
        let mut samples = vec![Vec::with_capacity(reps); self.cases.len()];
        for round in 0..warmup + reps {
            for (k, (_, f)) in self.cases.iter_mut().enumerate() {
                let t = Instant::now();
                f();
                let dt = t.elapsed().as_secs_f64();
                if round >= warmup {
                    samples[k].push(dt);
                }
            }
        }
        Timings {
            names: self.cases.iter().map(|(n, _)| n.clone()).collect(),
            medians: samples.into_iter().map(median).collect(),
        }
    }
}

/// Median seconds of each case, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    names: Vec<String>,
    medians: Vec<f64>,
}

impl Timings {
    /// The median of `name`, if it was timed.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names.iter().position(|n| n == name).map(|k| self.medians[k])
    }
    /// The case names, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
    /// `(name, median)` in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.names().zip(self.medians.iter().copied())
    }
}

impl Index<&str> for Timings {
    type Output = f64;
    #[track_caller]
    fn index(&self, name: &str) -> &f64 {
        match self.names.iter().position(|n| n == name) {
            Some(k) => &self.medians[k],
            None => panic!("no case named {name:?} was timed (cases: {:?})", self.names),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn cases_run_round_robin_and_are_read_by_name() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut cases = Cases::new();
        cases.add("a", || order.borrow_mut().push('a'));
        cases.add("b", || order.borrow_mut().push('b'));
        let t = cases.run(1, 2);
        drop(cases);
        assert_eq!(order.into_inner(), ['a', 'b', 'a', 'b', 'a', 'b']);
        assert_eq!(t.names().collect::<Vec<_>>(), ["a", "b"]);
        assert!(t.get("c").is_none() && t["a"] >= 0.0);
    }

    #[test]
    #[should_panic(expected = "added twice")]
    fn duplicate_names_are_refused() {
        let mut cases = Cases::new();
        cases.add("a", || {});
        cases.add("a", || {});
    }
}
