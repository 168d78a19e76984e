//! Shared by both importers: the zkedge op list a translation produced, with the ops whose
//! results nothing reads removed and the tensors renumbered.

use zkedge_kernel::model::Op;

/// Keeps the ops that `output` (a zkedge tensor number) depends on, renumbered in order (the
/// input stays tensor 0), with the source operator of each. `None` when `output` is the input.
pub(crate) fn prune(
    ops: Vec<Op>,
    origin: Vec<usize>,
    output: u16,
) -> Option<(Vec<Op>, Vec<usize>)> {
    prune_numbered(ops, origin, output).map(|(ops, origin, _)| (ops, origin))
}

/// [`prune`], also returning each old tensor's new number (meaningful for kept tensors).
pub(crate) fn prune_numbered(
    ops: Vec<Op>,
    origin: Vec<usize>,
    output: u16,
) -> Option<(Vec<Op>, Vec<usize>, Vec<u16>)> {
    let mut live = vec![false; ops.len() + 1];
    live[usize::from(output)] = true;
    for (i, op) in ops.iter().enumerate().rev() {
        if live[i + 1] {
            for t in op.inputs() {
                live[t] = true;
            }
        }
    }
    let mut renumber = vec![0u16; ops.len() + 1];
    let (mut kept, mut kept_origin) = (Vec::new(), Vec::new());
    for (i, mut op) in ops.into_iter().enumerate() {
        if !live[i + 1] {
            continue;
        }
        remap_inputs(&mut op, &renumber);
        kept.push(op);
        kept_origin.push(origin[i]);
        renumber[i + 1] = kept.len() as u16;
    }
    (!kept.is_empty()).then_some((kept, kept_origin, renumber))
}

fn remap_inputs(op: &mut Op, renumber: &[u16]) {
    let r = |t: &mut u16| *t = renumber[usize::from(*t)];
    match op {
        Op::Conv2d(c) => r(&mut c.input),
        Op::DepthwiseConv2d(c) => r(&mut c.input),
        Op::Dense(d) => r(&mut d.input),
        Op::AvgPool2d(p) | Op::MaxPool2d(p) => r(&mut p.input),
        Op::Add(a) => a.inputs.iter_mut().for_each(r),
        Op::Reshape(x) => r(&mut x.input),
    }
}
