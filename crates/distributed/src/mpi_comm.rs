//! [`Comm`] over MPI (rsmpi).

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::comm::Comm;

/// The tag of the reduction tree's point-to-point messages.
const TREE_TAG: i32 = 21;

/// `MPI_COMM_WORLD`.
pub struct MpiComm {
    world: SimpleCommunicator,
}

impl MpiComm {
    /// Communicate over `world` (the launcher passes `universe.world()`); see [`Comm`] for
    /// which rank roots which collective.
    pub fn new(world: SimpleCommunicator) -> Self {
        Self { world }
    }
    /// The underlying communicator (for collectives [`Comm`] does not cover).
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn gather_to_root(&self, send: &[f64]) -> Option<Vec<f64>> {
        let root = self.world.process_at_rank(0);
        let count = send.len() as i32;
        if self.world.rank() == 0 {
            let mut counts = vec![0i32; self.size()];
            root.gather_into_root(&count, &mut counts[..]);
            let displs: Vec<i32> = counts
                .iter()
                .scan(0i32, |acc, &c| {
                    let d = *acc;
                    *acc += c;
                    Some(d)
                })
                .collect();
            let total: i32 = counts.iter().sum();
            let mut buf = vec![0.0f64; total as usize];
            {
                let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
                root.gather_varcount_into_root(send, &mut part);
            }
            Some(buf)
        } else {
            root.gather_into(&count);
            root.gather_varcount_into(send);
            None
        }
    }
    fn broadcast_from(&self, root: usize, buf: &mut [f64]) {
        if buf.is_empty() {
            return;
        }
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }
    fn send(&self, dest: usize, buf: &[f64]) {
        self.world.process_at_rank(dest as i32).send_with_tag(buf, TREE_TAG);
    }
    fn recv(&self, src: usize, buf: &mut [f64]) {
        let status = self.world.process_at_rank(src as i32).receive_into_with_tag(buf, TREE_TAG);
        assert_eq!(
            status.count(f64::equivalent_datatype()) as usize,
            buf.len(),
            "a reduction message of the wrong length"
        );
    }
    fn all_gather_u64(&self, x: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.size()];
        self.world.all_gather_into(&x, &mut out[..]);
        out
    }
    fn broadcast_bytes(&self, root: usize, buf: &mut [u8]) {
        if buf.is_empty() {
            return;
        }
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }
}
