//! CLEAR-MOT and ID measures of a multi-object tracker, as py-motmetrics
//! (`MOTAccumulator.update` + `metrics.compute`) defines them.
//!
//! Each frame holds ground-truth ids, hypothesis (prediction) ids and a
//! `G x H` distance matrix in which a non-finite entry (NaN, `+inf`, `-inf`)
//! means "may not be paired". Frames are read in order:
//!
//! 1. Every ground truth whose last matched hypothesis is present (and not
//!    yet taken this frame, ground truths in the given order) keeps it when
//!    their distance is finite: a MATCH.
//! 2. The remaining ground truths and hypotheses get a least-cost assignment
//!    over their finite distances, with the most pairs first (what
//!    py-motmetrics' expensive-edge trick on `linear_sum_assignment` computes).
//!    A pair whose ground truth was matched before to another hypothesis is a
//!    SWITCH, any other a MATCH.
//! 3. Unpaired ground truths are MISSes, unpaired hypotheses FPs.
//!
//! A fragmentation is a run of misses of one ground truth between two frames
//! in which it was tracked (its frames without it are skipped). The ID
//! measures count, per (ground truth, hypothesis) pair, the frames in which
//! both are present at a finite distance; IDTP is the largest total of those
//! counts over one-to-one pairings of whole trajectories (py-motmetrics'
//! `id_global_assignment` reduces to that maximum-weight matching).
//!
//! Ties in step 2 (two assignments of equal cost) may be broken differently
//! from py-motmetrics' solver; with continuous distances they do not occur.

use std::collections::HashMap;

use crate::error::{CoreError, CoreResult};
use crate::matching;

/// The flat frames: ids of frame `f` are `gt_ids[gt_offsets[f]..gt_offsets[f + 1]]`
/// (likewise predictions); its `G x H` distances follow those of frame `f - 1`
/// in `distances`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    pub gt_ids: &'a [i64],
    pub gt_offsets: &'a [usize],
    pub pred_ids: &'a [i64],
    pub pred_offsets: &'a [usize],
    pub distances: &'a [f64],
}

/// Counts from which every reported MOT measure follows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MotCounts {
    pub num_frames: u64,
    /// Ground-truth appearances (one per ground truth per frame).
    pub num_objects: u64,
    /// Hypothesis appearances.
    pub num_predictions: u64,
    /// MATCH events (switches excluded, as in py-motmetrics).
    pub num_matches: u64,
    pub num_switches: u64,
    pub num_false_positives: u64,
    pub num_misses: u64,
    pub num_fragmentations: u64,
    pub num_unique_objects: u64,
    /// Ground truths tracked (matched or switched) in >= 80 % of their frames.
    pub mostly_tracked: u64,
    /// ... in [20 %, 80 %).
    pub partially_tracked: u64,
    /// ... in < 20 %.
    pub mostly_lost: u64,
    /// Identity true positives of the best global trajectory pairing.
    pub idtp: u64,
    /// Sum of the distances of MATCH and SWITCH events.
    pub total_distance: f64,
}

/// Per ground-truth id state.
#[derive(Debug, Clone, Default)]
struct Object {
    /// Hypothesis (dense index) it was last paired with.
    last: Option<u32>,
    frames: u64,
    tracked: u64,
    tracked_before: bool,
    pending_miss: bool,
    fragmentations: u64,
}

/// Dense indices of arbitrary `i64` ids.
#[derive(Default)]
struct Ids {
    index: HashMap<i64, u32>,
    seen: Vec<usize>,
}

impl Ids {
    /// Dense index of `id`; an error when it already appeared in `frame`.
    fn get(&mut self, id: i64, frame: usize, arg: &str) -> CoreResult<u32> {
        let next = self.index.len() as u32;
        let k = *self.index.entry(id).or_insert(next);
        if k == next {
            self.seen.push(usize::MAX);
        }
        let seen = &mut self.seen[k as usize];
        if *seen == frame {
            return Err(CoreError::argument(
                arg,
                format!("frame {frame}: id {id} appears more than once"),
            ));
        }
        *seen = frame;
        Ok(k)
    }
}

/// Sum with Neumaier compensation.
#[derive(Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

fn check_offsets(offsets: &[usize], len: usize, arg: &str) -> CoreResult<()> {
    let ok = offsets.first() == Some(&0)
        && offsets.last() == Some(&len)
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if !ok {
        return Err(CoreError::argument(
            arg,
            format!("expected non-decreasing offsets from 0 to {len}"),
        ));
    }
    Ok(())
}

/// Runs the accumulator over every frame and reduces the counts.
pub fn evaluate(frames: &Frames<'_>) -> CoreResult<MotCounts> {
    check_offsets(frames.gt_offsets, frames.gt_ids.len(), "gt_offsets")?;
    check_offsets(frames.pred_offsets, frames.pred_ids.len(), "pred_offsets")?;
    if frames.gt_offsets.len() != frames.pred_offsets.len() {
        return Err(CoreError::shape(
            "pred_offsets",
            format!("({},)", frames.gt_offsets.len()),
            format!("({},)", frames.pred_offsets.len()),
        ));
    }
    let n_frames = frames.gt_offsets.len() - 1;
    let expected: usize = (0..n_frames)
        .map(|f| {
            (frames.gt_offsets[f + 1] - frames.gt_offsets[f])
                * (frames.pred_offsets[f + 1] - frames.pred_offsets[f])
        })
        .sum();
    if frames.distances.len() != expected {
        return Err(CoreError::shape(
            "distances",
            format!("({expected},) (the sum of G x H over frames)"),
            format!("({},)", frames.distances.len()),
        ));
    }

    let mut out = MotCounts {
        num_frames: n_frames as u64,
        ..MotCounts::default()
    };
    let mut gt_index = Ids::default();
    let mut hyp_index = Ids::default();
    let mut objects: Vec<Object> = Vec::new();
    let mut pairs: HashMap<(u32, u32), u64> = HashMap::new();
    let mut total = Sum::default();

    let (mut oi, mut hi) = (Vec::new(), Vec::new());
    let (mut gt_done, mut hyp_done) = (Vec::new(), Vec::new());
    let (mut rows, mut cols, mut sub) = (Vec::new(), Vec::new(), Vec::new());
    let mut d_at = 0;
    for f in 0..n_frames {
        if f % 1024 == 1023 && crate::parallel::interrupted() {
            return Err(CoreError::argument("frames", "interrupted"));
        }
        let gts = &frames.gt_ids[frames.gt_offsets[f]..frames.gt_offsets[f + 1]];
        let hyps = &frames.pred_ids[frames.pred_offsets[f]..frames.pred_offsets[f + 1]];
        let (g, h) = (gts.len(), hyps.len());
        let d = &frames.distances[d_at..d_at + g * h];
        d_at += g * h;

        oi.clear();
        for &id in gts {
            let k = gt_index.get(id, f, "gt_ids")?;
            if k as usize == objects.len() {
                objects.push(Object::default());
            }
            oi.push(k);
        }
        hi.clear();
        for &id in hyps {
            hi.push(hyp_index.get(id, f, "pred_ids")?);
        }
        out.num_objects += g as u64;
        out.num_predictions += h as u64;
        for (i, row) in d.chunks_exact(h.max(1)).enumerate().take(g) {
            for (j, &x) in row.iter().enumerate() {
                if x.is_finite() {
                    *pairs.entry((oi[i], hi[j])).or_insert(0) += 1;
                }
            }
        }

        gt_done.clear();
        gt_done.resize(g, false);
        hyp_done.clear();
        hyp_done.resize(h, false);
        if g > 0 && h > 0 {
            // 1. Keep the previous correspondences that are still allowed.
            for i in 0..g {
                let Some(prev) = objects[oi[i] as usize].last else {
                    continue;
                };
                let Some(j) = (0..h).find(|&j| !hyp_done[j] && hi[j] == prev) else {
                    continue;
                };
                let x = d[i * h + j];
                if x.is_finite() {
                    gt_done[i] = true;
                    hyp_done[j] = true;
                    out.num_matches += 1;
                    total.add(x);
                }
            }
            // 2. Least-cost assignment of the rest.
            rows.clear();
            rows.extend((0..g).filter(|&i| !gt_done[i]));
            cols.clear();
            cols.extend((0..h).filter(|&j| !hyp_done[j]));
            sub.clear();
            let mut any = false;
            for &i in &rows {
                for &j in &cols {
                    let x = d[i * h + j];
                    any |= x.is_finite();
                    sub.push(if x.is_finite() { x } else { f64::INFINITY });
                }
            }
            if any {
                let a = matching::solve(&sub, rows.len(), cols.len(), None)?;
                for (&r, &c) in a.rows.iter().zip(&a.cols) {
                    let (i, j) = (rows[r], cols[c]);
                    let x = d[i * h + j];
                    if !x.is_finite() {
                        continue;
                    }
                    let object = &mut objects[oi[i] as usize];
                    match object.last {
                        Some(prev) if prev != hi[j] => out.num_switches += 1,
                        _ => out.num_matches += 1,
                    }
                    object.last = Some(hi[j]);
                    gt_done[i] = true;
                    hyp_done[j] = true;
                    total.add(x);
                }
            }
        }
        // 3. and 4. Misses and false positives; per-object track state.
        for (i, &k) in oi.iter().enumerate() {
            let object = &mut objects[k as usize];
            object.frames += 1;
            if gt_done[i] {
                object.tracked += 1;
                if object.pending_miss {
                    object.fragmentations += 1;
                    object.pending_miss = false;
                }
                object.tracked_before = true;
            } else {
                out.num_misses += 1;
                if object.tracked_before {
                    object.pending_miss = true;
                }
            }
        }
        out.num_false_positives += hyp_done.iter().filter(|&&done| !done).count() as u64;
    }

    out.num_unique_objects = objects.len() as u64;
    for object in &objects {
        out.num_fragmentations += object.fragmentations;
        let ratio = object.tracked as f64 / object.frames as f64;
        if ratio >= 0.8 {
            out.mostly_tracked += 1;
        } else if ratio >= 0.2 {
            out.partially_tracked += 1;
        } else {
            out.mostly_lost += 1;
        }
    }
    out.total_distance = total.value();
    out.idtp = id_true_positives(&pairs, objects.len(), hyp_index.index.len())?;
    Ok(out)
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// The largest total co-occurrence count over one-to-one pairings of ground
/// truths (`n_obj`) with hypotheses (`n_hyp`), solved per connected component.
fn id_true_positives(
    pairs: &HashMap<(u32, u32), u64>,
    n_obj: usize,
    n_hyp: usize,
) -> CoreResult<u64> {
    // Nodes: objects 0..n_obj, hypotheses n_obj..n_obj + n_hyp.
    let mut parent: Vec<usize> = (0..n_obj + n_hyp).collect();
    for &(o, h) in pairs.keys() {
        let (a, b) = (
            find(&mut parent, o as usize),
            find(&mut parent, n_obj + h as usize),
        );
        if a != b {
            parent[a] = b;
        }
    }
    // Component of each node that has an edge -> its objects and hypotheses.
    let mut members: HashMap<usize, (Vec<u32>, Vec<u32>)> = HashMap::new();
    let mut local = vec![usize::MAX; n_obj + n_hyp];
    let mut sorted: Vec<(&(u32, u32), &u64)> = pairs.iter().collect();
    sorted.sort_unstable();
    for (&(o, h), _) in &sorted {
        let root = find(&mut parent, o as usize);
        let entry = members.entry(root).or_default();
        if local[o as usize] == usize::MAX {
            local[o as usize] = entry.0.len();
            entry.0.push(o);
        }
        let hn = n_obj + h as usize;
        if local[hn] == usize::MAX {
            local[hn] = entry.1.len();
            entry.1.push(h);
        }
    }
    let mut costs: HashMap<usize, Vec<f64>> = members
        .iter()
        .map(|(&root, (os, hs))| (root, vec![0.0; os.len() * hs.len()]))
        .collect();
    for (&(o, h), &count) in &sorted {
        let root = find(&mut parent, o as usize);
        let m = members[&root].1.len();
        let c = costs
            .get_mut(&root)
            .expect("every edge's component has a matrix");
        c[local[o as usize] * m + local[n_obj + h as usize]] = -(count as f64);
    }
    let mut idtp = 0u64;
    for (root, (os, hs)) in &members {
        let a = matching::solve(&costs[root], os.len(), hs.len(), None)?;
        idtp += (-a.total).round() as u64;
    }
    Ok(idtp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(frames: &[(Vec<i64>, Vec<i64>, Vec<f64>)]) -> MotCounts {
        let (mut gt, mut go, mut pr, mut po, mut d) = (vec![], vec![0], vec![], vec![0], vec![]);
        for (g, p, x) in frames {
            gt.extend(g);
            go.push(gt.len());
            pr.extend(p);
            po.push(pr.len());
            d.extend(x);
        }
        evaluate(&Frames {
            gt_ids: &gt,
            gt_offsets: &go,
            pred_ids: &pr,
            pred_offsets: &po,
            distances: &d,
        })
        .unwrap()
    }

    #[test]
    fn switch_and_fragmentation() {
        let nan = f64::NAN;
        let c = run(&[
            (vec![1, 2], vec![10, 20], vec![0.1, nan, nan, 0.2]),
            (vec![1, 2], vec![10, 20], vec![nan, 0.3, 0.4, nan]),
            (vec![1, 2], vec![20], vec![nan, nan]),
            (vec![1, 2], vec![20], vec![0.5, nan]),
        ]);
        assert_eq!(c.num_frames, 4);
        assert_eq!(c.num_objects, 8);
        assert_eq!(c.num_switches, 2);
        assert_eq!(c.num_matches, 3);
        // Object 1: tracked, tracked, missed, tracked -> 1 fragmentation.
        assert_eq!(c.num_fragmentations, 1);
        assert_eq!(c.num_misses, 3);
        assert_eq!(c.num_false_positives, 1);
        assert!((c.total_distance - 1.5).abs() < 1e-12);
        // Pairs: (1,10) 1, (2,20) 1, (1,20) 2, (2,10) 1 -> best 3.
        assert_eq!(c.idtp, 3);
    }

    #[test]
    fn empty_and_duplicates() {
        let c = run(&[]);
        assert_eq!(c, MotCounts::default());
        let c = run(&[(vec![], vec![], vec![]), (vec![3], vec![], vec![])]);
        assert_eq!((c.num_frames, c.num_misses, c.mostly_lost), (2, 1, 1));
        let err = evaluate(&Frames {
            gt_ids: &[1, 1],
            gt_offsets: &[0, 2],
            pred_ids: &[],
            pred_offsets: &[0, 0],
            distances: &[],
        })
        .unwrap_err();
        assert!(err.to_string().contains("frame 0"), "{err}");
    }
}
