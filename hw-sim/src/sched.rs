//! A list scheduler for dataflow graphs on identical pipelined units, simulated cycle by cycle.
//!
//! Phases whose work is a graph of dependent operations — bucket reduction, window
//! combination, twiddle generation, inversions, scaling passes — are built as a [`Dag`] and run
//! here: each cycle, up to `units` ready operations issue (lowest node number first, which is
//! the order the builder wants them done); an operation's result is ready `latency` cycles
//! after it issued, and only then may its successors issue. Values are computed when an
//! operation issues, from operands that the schedule has already completed, so a wrong
//! schedule gives a wrong result, not just a wrong cycle count.

use std::{cmp::Reverse, collections::BinaryHeap, collections::VecDeque};

/// A node's operands.
#[derive(Clone, Copy, Debug)]
enum Node<K> {
    /// A value present at cycle 0 (memory contents, constants).
    Input,
    /// An operation of kind `K` on one or two earlier nodes.
    Op { kind: K, a: u32, b: Option<u32> },
}

/// Handle to a node of a [`Dag`].
pub type NodeId = u32;

/// A graph under construction: inputs and operations, in priority order.
pub struct Dag<T, K> {
    nodes: Vec<Node<K>>,
    values: Vec<T>,
}

/// What running a [`Dag`] cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DagReport {
    /// Operations issued.
    pub ops: u64,
    /// Cycles from the first issue to the last result (0 for no operations).
    pub cycles: u64,
    /// Longest chain of dependent operations.
    pub depth: u64,
    /// No schedule can beat this: `max(⌈ops/units⌉ − 1 + latency, depth·latency)`.
    pub bound: u64,
}

impl<T: Clone + Default, K: Copy> Dag<T, K> {
    /// An empty graph with room for `capacity` nodes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(capacity),
            values: Vec::with_capacity(capacity),
        }
    }

    /// Adds a value available at cycle 0.
    pub fn input(&mut self, value: T) -> NodeId {
        self.nodes.push(Node::Input);
        self.values.push(value);
        (self.nodes.len() - 1) as NodeId
    }

    /// Adds an operation; its operands must already be in the graph.
    pub fn op(&mut self, kind: K, a: NodeId, b: Option<NodeId>) -> NodeId {
        debug_assert!((a as usize) < self.nodes.len());
        debug_assert!(b.is_none_or(|b| (b as usize) < self.nodes.len()));
        self.nodes.push(Node::Op { kind, a, b });
        self.values.push(T::default());
        (self.nodes.len() - 1) as NodeId
    }

    /// Simulates the graph on `units` pipelined units of `latency` cycles, computing each
    /// operation with `eval(kind, a, b)` as it issues. Returns every node's value.
    pub fn run(
        mut self,
        units: u32,
        latency: u32,
        mut eval: impl FnMut(K, &T, Option<&T>) -> T,
    ) -> (Vec<T>, DagReport) {
        let n = self.nodes.len();
        let latency = u64::from(latency.max(1));
        // Successor lists in compressed form: node i's successors are succ[start[i]..start[i+1]].
        let mut start = vec![0u32; n + 1];
        let mut waiting = vec![0u8; n];
        for (i, node) in self.nodes.iter().enumerate() {
            if let Node::Op { a, b, .. } = *node {
                start[a as usize + 1] += 1;
                waiting[i] += 1;
                if let Some(b) = b {
                    start[b as usize + 1] += 1;
                    waiting[i] += 1;
                }
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut succ = vec![0u32; start[n] as usize];
        let mut depth = vec![0u64; n];
        for (i, node) in self.nodes.iter().enumerate() {
            if let Node::Op { a, b, .. } = *node {
                for src in [Some(a), b].into_iter().flatten() {
                    succ[fill[src as usize] as usize] = i as u32;
                    fill[src as usize] += 1;
                    depth[i] = depth[i].max(depth[src as usize] + 1);
                }
            }
        }

        let mut ready: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let mut in_flight: VecDeque<(u64, u32)> = VecDeque::new();
        let complete = |node: u32, ready: &mut BinaryHeap<Reverse<u32>>, waiting: &mut [u8]| {
            for &s in &succ[start[node as usize] as usize..start[node as usize + 1] as usize] {
                waiting[s as usize] -= 1;
                if waiting[s as usize] == 0 {
                    ready.push(Reverse(s));
                }
            }
        };
        let mut ops = 0u64;
        for (i, node) in self.nodes.iter().enumerate() {
            if matches!(node, Node::Input) {
                complete(i as u32, &mut ready, &mut waiting);
            }
        }
        let mut t = 0u64;
        let mut last_done = 0u64;
        loop {
            while in_flight.front().is_some_and(|&(done, _)| done <= t) {
                let (_, node) = in_flight.pop_front().unwrap_or_default();
                complete(node, &mut ready, &mut waiting);
            }
            let mut issued = 0;
            while issued < units {
                let Some(Reverse(node)) = ready.pop() else {
                    break;
                };
                let Node::Op { kind, a, b } = self.nodes[node as usize] else {
                    continue;
                };
                let value = eval(
                    kind,
                    &self.values[a as usize],
                    b.map(|b| &self.values[b as usize]),
                );
                self.values[node as usize] = value;
                in_flight.push_back((t + latency, node));
                last_done = t + latency;
                issued += 1;
                ops += 1;
            }
            if issued == 0 && ready.is_empty() {
                match in_flight.front() {
                    // Nothing can issue until the next result: skip the idle cycles.
                    Some(&(done, _)) => t = done,
                    None => break,
                }
            } else {
                t += 1;
            }
        }
        let depth = depth.iter().copied().max().unwrap_or(0);
        let bound = if ops == 0 {
            0
        } else {
            (ops.div_ceil(u64::from(units.max(1))) - 1 + latency).max(depth * latency)
        };
        let report = DagReport {
            ops,
            cycles: last_done,
            depth,
            bound,
        };
        (self.values, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_takes_its_length_times_the_latency() {
        let mut dag = Dag::<u64, ()>::with_capacity(11);
        let mut x = dag.input(1);
        for _ in 0..10 {
            x = dag.op((), x, None);
        }
        let (values, report) = dag.run(4, 7, |_, a, _| a * 2);
        assert_eq!(values[x as usize], 1024);
        assert_eq!(report.cycles, 70);
        assert_eq!(report.bound, 70);
    }

    #[test]
    fn independent_ops_fill_the_units() {
        let mut dag = Dag::<u64, ()>::with_capacity(200);
        let one = dag.input(1);
        let outs: Vec<_> = (0..100).map(|_| dag.op((), one, Some(one))).collect();
        let (values, report) = dag.run(3, 5, |_, a, b| a + b.copied().unwrap_or(0));
        assert!(outs.iter().all(|&o| values[o as usize] == 2));
        // 100 ops, 3 a cycle: the last issues in cycle 33 and completes 5 later.
        assert_eq!(report.cycles, 33 + 5);
        assert_eq!(report.cycles, report.bound);
    }

    #[test]
    fn a_tree_sum_is_exact() {
        let mut dag = Dag::<u64, ()>::with_capacity(64);
        let mut level: Vec<_> = (1..=16).map(|v| dag.input(v)).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| dag.op((), p[0], Some(p[1])))
                .collect();
        }
        let (values, report) = dag.run(2, 3, |_, a, b| a + b.copied().unwrap_or(0));
        assert_eq!(values[level[0] as usize], 136);
        assert_eq!(report.depth, 4);
        // Leaves pair off as they complete: level-1 sums issue in cycles 0–3, level 2 in 4, 4,
        // 5, 6 (each waits for its pair), level 3 in 7 and 9, the root in 12, done in 15.
        assert_eq!(report.cycles, 15);
    }
}
