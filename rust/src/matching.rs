//! Min-cost person matching with a dual certificate of optimality.
//!
//! The solver is a shortest-augmenting-path method of the Jonker-Volgenant
//! family in the form Crouse (2016) gives for rectangular matrices (the one
//! `scipy.optimize.linear_sum_assignment` uses): rows are added one at a time
//! and each is joined to the matching along a shortest path in reduced costs
//! `c_ij - u_i - v_j`, found with Dijkstra, after which the potentials are
//! shifted so the matching stays tight.
//!
//! `+inf` marks a forbidden pair. When the allowed pairs cannot match every
//! row of the smaller side, the result is the maximum-cardinality matching of
//! least total cost among all maximum-cardinality matchings. That case uses
//! successive shortest paths from *all* free rows at once (a min-cost flow from
//! a super-source), so that a row added early can still give way to a cheaper
//! one added later.
//!
//! Both paths leave potentials `u` (rows) and `v` (columns) that certify
//! optimality by LP duality:
//! - `c_ij - u_i - v_j >= 0` for every allowed pair,
//! - `c_ij - u_i - v_j == 0` for every matched pair,
//! - every unmatched row carries the largest row potential and every unmatched
//!   column the largest column potential.
//!
//! For any other matching `M'` of the same size `k`, summing the first line over
//! `M'` and using the last gives `cost(M') >= cost(M)`.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

const FREE: usize = usize::MAX;

/// Entries from which a working matrix is worth backing with huge pages.
const HUGE_MATRIX: usize = 1 << 20;

/// An optimal matching of one cost matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Matched row indices, ascending.
    pub rows: Vec<usize>,
    /// The column matched to each of `rows`.
    pub cols: Vec<usize>,
    /// Sum of the costs of the matched pairs.
    pub total: f64,
    /// Row potentials (`n`).
    pub u: Vec<f64>,
    /// Column potentials (`m`).
    pub v: Vec<f64>,
}

/// A cost value that can be read as `f64`.
pub trait Cost: Copy + Send + Sync {
    fn to_f64(self) -> f64;
}

impl Cost for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Cost for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Fills `w` with the working matrix (`+inf` = forbidden), transposed when
/// `n > m` so that it has no more rows than columns. Returns whether it was
/// transposed and whether every pair is allowed.
fn working_matrix<T: Cost>(
    cost: &[T],
    n: usize,
    m: usize,
    max_cost: Option<f64>,
    w: &mut Vec<f64>,
) -> CoreResult<(bool, bool)> {
    let gate = max_cost.unwrap_or(f64::INFINITY);
    let transpose = n > m;
    let mut bad = false;
    let mut all_finite = true;
    let mut convert = |c: T| {
        let c = c.to_f64();
        bad |= c.is_nan() || c == f64::NEG_INFINITY;
        let c = if c > gate { f64::INFINITY } else { c };
        all_finite &= c < f64::INFINITY;
        c
    };
    w.clear();
    w.reserve(n * m);
    if n * m >= HUGE_MATRIX {
        crate::memory::advise_huge_pages(&mut w.spare_capacity_mut()[..n * m]);
    }
    if transpose {
        for j in 0..m {
            w.extend((0..n).map(|i| convert(cost[i * m + j])));
        }
    } else {
        w.extend(cost.iter().map(|&c| convert(c)));
    }
    if bad {
        let k = cost
            .iter()
            .position(|c| c.to_f64().is_nan() || c.to_f64() == f64::NEG_INFINITY)
            .unwrap_or(0);
        let (i, j) = (k / m.max(1), k % m.max(1));
        let what = if cost[k].to_f64().is_nan() {
            "NaN"
        } else {
            "-inf"
        };
        return Err(CoreError::non_finite(
            "cost",
            format!("found {what} at index ({i}, {j}); costs must be finite or +inf (forbidden)"),
        ));
    }
    Ok((transpose, all_finite))
}

/// Scratch space of one shortest-path search.
///
/// The unscanned columns are kept packed in `remaining` with their tentative
/// distances alongside in `distance` (same positions), so the hot loop reads
/// both sequentially and only gathers the cost row and `v`.
struct Search {
    remaining: Vec<usize>,
    distance: Vec<f64>,
    /// Row from which each column was last reached.
    path: Vec<usize>,
    /// Scanned columns with their final distances.
    scanned_cols: Vec<(usize, f64)>,
    /// Rows reached, with their distances.
    visited_rows: Vec<(usize, f64)>,
}

impl Search {
    fn new() -> Self {
        Search {
            remaining: Vec::new(),
            distance: Vec::new(),
            path: Vec::new(),
            scanned_cols: Vec::new(),
            visited_rows: Vec::new(),
        }
    }

    fn reset(&mut self, m: usize) {
        self.path.resize(m, FREE);
        self.remaining.clear();
        self.remaining.extend((0..m).rev());
        self.distance.clear();
        self.distance.resize(m, f64::INFINITY);
        self.scanned_cols.clear();
        self.visited_rows.clear();
    }

    /// Relaxes the edges of row `i`, reached at distance `base`.
    #[inline]
    fn scan_row(&mut self, row: &[f64], i: usize, base: f64, ui: f64, v: &[f64]) {
        for (&j, d) in self.remaining.iter().zip(self.distance.iter_mut()) {
            let r = base + row[j] - ui - v[j];
            if r < *d {
                self.path[j] = i;
                *d = r;
            }
        }
    }

    /// `scan_row` and `pop_nearest` in one pass over the unscanned columns.
    #[inline]
    fn scan_and_pop(
        &mut self,
        row: &[f64],
        i: usize,
        base: f64,
        ui: f64,
        v: &[f64],
        row4col: &[usize],
    ) -> Option<(usize, f64)> {
        let m = row.len();
        assert!(v.len() == m && self.path.len() == m && row4col.len() == m);
        let mut lowest = f64::INFINITY;
        let mut index = FREE;
        for (it, (&j, d)) in self
            .remaining
            .iter()
            .zip(self.distance.iter_mut())
            .enumerate()
        {
            debug_assert!(j < m);
            // SAFETY: `remaining` only ever holds column indices below `m`, the
            // length of `row`, `v`, `path` and `row4col` (asserted above).
            let (cost, vj) = unsafe { (*row.get_unchecked(j), *v.get_unchecked(j)) };
            let r = base + cost - ui - vj;
            // selects rather than branches: on tiny frames the outcomes are coin flips
            let better = r < *d;
            let path_j = unsafe { self.path.get_unchecked_mut(j) };
            *path_j = if better { i } else { *path_j };
            let dj = if better { r } else { *d };
            *d = dj;
            let free = unsafe { *row4col.get_unchecked(j) } == FREE;
            let take = dj < lowest || (dj == lowest && index != FREE && free);
            lowest = if take { dj } else { lowest };
            index = if take { it } else { index };
        }
        self.take(index, lowest)
    }

    /// Removes and returns the unscanned column nearest the sources, preferring
    /// a free one on ties; `None` when none is reachable.
    #[inline]
    fn pop_nearest(&mut self, row4col: &[usize]) -> Option<(usize, f64)> {
        let mut lowest = f64::INFINITY;
        let mut index = FREE;
        for (it, (&j, &d)) in self.remaining.iter().zip(&self.distance).enumerate() {
            if d < lowest || (d == lowest && index != FREE && row4col[j] == FREE) {
                lowest = d;
                index = it;
            }
        }
        self.take(index, lowest)
    }

    #[inline]
    fn take(&mut self, index: usize, lowest: f64) -> Option<(usize, f64)> {
        if index == FREE {
            return None;
        }
        let j = self.remaining.swap_remove(index);
        self.distance.swap_remove(index);
        self.scanned_cols.push((j, lowest));
        Some((j, lowest))
    }

    /// Flips the matching along the path ending at free column `sink`.
    fn augment(&self, sink: usize, col4row: &mut [usize], row4col: &mut [usize]) {
        let mut j = sink;
        loop {
            let i = self.path[j];
            row4col[j] = i;
            let previous = std::mem::replace(&mut col4row[i], j);
            if previous == FREE {
                break;
            }
            j = previous;
        }
    }

    /// Potential update after a search that reached a free column at `dist`.
    fn update_potentials(&self, dist: f64, u: &mut [f64], v: &mut [f64]) {
        for &(i, d) in &self.visited_rows {
            u[i] += dist - d;
        }
        for &(j, d) in &self.scanned_cols {
            v[j] -= dist - d;
        }
    }
}

/// Jonker-Volgenant's initialisation of a square, fully allowed matrix:
/// column reduction, reduction transfer and two rounds of augmenting row
/// reduction. Leaves most rows matched, each at a least reduced cost of its
/// row, so that `u_i = c_ij - v_j` on matched pairs keeps every reduced cost
/// `>= 0`; the shortest-path phase then only has the remaining free rows to add.
fn jv_init(
    w: &[f64],
    n: usize,
    u: &mut [f64],
    v: &mut [f64],
    col4row: &mut [usize],
    row4col: &mut [usize],
) {
    // Column reduction: v_j = column minimum; columns (last first) go to their
    // minimum row when that row has nothing yet.
    v.fill(f64::INFINITY);
    for i in 0..n {
        let row = &w[i * n..(i + 1) * n];
        for j in 0..n {
            if row[j] < v[j] {
                v[j] = row[j];
                row4col[j] = i;
            }
        }
    }
    let mut unique = vec![true; n];
    for j in (0..n).rev() {
        let i = row4col[j];
        if col4row[i] == FREE {
            col4row[i] = j;
        } else {
            unique[i] = false;
            row4col[j] = FREE;
        }
    }
    // Reduction transfer: a row matched once hands its slack to its column.
    let mut free = Vec::new();
    for i in 0..n {
        let j = col4row[i];
        if j == FREE {
            free.push(i);
        } else if unique[i] {
            let row = &w[i * n..(i + 1) * n];
            let slack = (0..n)
                .filter(|&k| k != j)
                .map(|k| row[k] - v[k])
                .fold(f64::INFINITY, f64::min);
            v[j] -= slack;
        }
    }
    for _ in 0..2 {
        free = augmenting_row_reduction(w, n, &free, v, col4row, row4col);
    }
    for i in 0..n {
        let j = col4row[i];
        u[i] = if j == FREE { 0.0 } else { w[i * n + j] - v[j] };
    }
}

/// One round of JV's augmenting row reduction; returns the rows left free.
fn augmenting_row_reduction(
    w: &[f64],
    n: usize,
    free: &[usize],
    v: &mut [f64],
    col4row: &mut [usize],
    row4col: &mut [usize],
) -> Vec<usize> {
    let mut queue = free.to_vec();
    let mut still_free = Vec::new();
    let mut current = 0;
    let mut steps = 0usize;
    while current < queue.len() {
        steps += 1;
        let i = queue[current];
        current += 1;
        let row = &w[i * n..(i + 1) * n];
        // Least and second least reduced cost of row i.
        let (mut j1, mut v1) = (0, row[0] - v[0]);
        let (mut j2, mut v2) = (FREE, f64::INFINITY);
        for j in 1..n {
            let h = row[j] - v[j];
            if h < v2 {
                if h >= v1 {
                    v2 = h;
                    j2 = j;
                } else {
                    v2 = v1;
                    v1 = h;
                    j2 = j1;
                    j1 = j;
                }
            }
        }
        let mut i0 = row4col[j1];
        let lowered = v[j1] - (v2 - v1);
        let lowers = lowered < v[j1];
        if steps < current * n {
            if lowers {
                v[j1] = lowered;
            } else if i0 != FREE && j2 != FREE {
                j1 = j2;
                i0 = row4col[j2];
            }
            if i0 != FREE {
                col4row[i0] = FREE;
                if lowers {
                    // Re-examine the displaced row at once.
                    current -= 1;
                    queue[current] = i0;
                } else {
                    still_free.push(i0);
                }
            }
        } else if i0 != FREE {
            col4row[i0] = FREE;
            still_free.push(i0);
        }
        col4row[i] = j1;
        row4col[j1] = i;
    }
    still_free
}

#[allow(clippy::too_many_arguments)]
/// Crouse's row-by-row shortest augmenting paths on `w` (`n <= m`).
/// Returns false as soon as a row cannot be matched.
fn match_all_rows(
    w: &[f64],
    n: usize,
    m: usize,
    u: &mut [f64],
    v: &mut [f64],
    col4row: &mut [usize],
    row4col: &mut [usize],
    s: &mut Search,
) -> bool {
    for current in 0..n {
        if crate::parallel::interrupted() {
            return false; // the caller's result is dropped
        }
        if col4row[current] != FREE {
            continue;
        }
        s.reset(m);
        let mut i = current;
        let mut dist = 0.0;
        let sink = loop {
            s.visited_rows.push((i, dist));
            let Some((j, d)) = s.scan_and_pop(&w[i * m..(i + 1) * m], i, dist, u[i], v, row4col)
            else {
                return false;
            };
            dist = d;
            if row4col[j] == FREE {
                break j;
            }
            i = row4col[j];
        };
        s.update_potentials(dist, u, v);
        s.augment(sink, col4row, row4col);
    }
    true
}

#[allow(clippy::too_many_arguments)]
/// Successive shortest paths from all free rows at once on `w` (`n <= m`,
/// every allowed cost >= 0, `u = v = 0` on entry): the maximum-cardinality
/// matching of least cost.
fn match_max_cardinality(
    w: &[f64],
    n: usize,
    m: usize,
    u: &mut [f64],
    v: &mut [f64],
    col4row: &mut [usize],
    row4col: &mut [usize],
    s: &mut Search,
) {
    loop {
        if crate::parallel::interrupted() {
            return; // the caller's result is dropped
        }
        s.reset(m);
        for i in (0..n).filter(|&i| col4row[i] == FREE) {
            s.visited_rows.push((i, 0.0));
            s.scan_row(&w[i * m..(i + 1) * m], i, 0.0, u[i], v);
        }
        if s.visited_rows.is_empty() {
            return;
        }
        let (sink, dist) = loop {
            let Some((j, d)) = s.pop_nearest(row4col) else {
                return;
            };
            if row4col[j] == FREE {
                break (j, d);
            }
            let i = row4col[j];
            s.visited_rows.push((i, d));
            s.scan_row(&w[i * m..(i + 1) * m], i, d, u[i], v);
        };
        s.update_potentials(dist, u, v);
        s.augment(sink, col4row, row4col);
    }
}

/// Largest side a matrix may have to be solved on the stack by [`solve_tiny`].
const TINY: usize = 5;

/// A working matrix of at most [`TINY`] x [`TINY`], padded with `+inf`
/// (forbidden pairs) to the full width so that every loop has a fixed length.
type TinyMatrix = [[f64; TINY]; TINY];

/// Crouse's row-by-row shortest augmenting paths (as [`match_all_rows`]) on
/// a matrix of at most [`TINY`] rows and columns, in fixed-size arrays on the
/// stack: on the 1-5 people of a typical frame, clearing and resizing vectors
/// and mispredicted branches of variable-length loops would cost more than
/// the search itself. Each step of Dijkstra's search relaxes and scans all
/// `TINY` columns without branching, scanned ones masked out, and takes the
/// nearest unscanned column (a free one on ties) from bit masks.
///
/// `w` holds the working matrix (`r <= c` rows and columns used, the rest
/// `+inf`). Fills `u`, `v`, `col4row` and `row4col` and returns true when
/// every row is matched; false when one cannot be (the caller then starts
/// again on the general path).
fn solve_tiny(
    w: &TinyMatrix,
    r: usize,
    u: &mut [f64; TINY],
    v: &mut [f64; TINY],
    col4row: &mut [usize; TINY],
    row4col: &mut [usize; TINY],
) -> bool {
    *u = [0.0; TINY];
    *v = [0.0; TINY];
    *col4row = [FREE; TINY];
    *row4col = [FREE; TINY];
    if r == 0 {
        return true;
    }
    // The first row, with every column free: its cheapest allowed column, the
    // first of equals, with u = that cost and v = 0 -- what the search below
    // would find in one step.
    let (mut best, mut lowest) = (FREE, f64::INFINITY);
    for (j, &x) in w[0].iter().enumerate() {
        if x < lowest {
            (best, lowest) = (j, x);
        }
    }
    if best == FREE {
        return r == 1; // a lone row with nothing allowed stays unmatched
    }
    u[0] = lowest;
    col4row[0] = best;
    row4col[best] = 0;
    let mut path = [0usize; TINY];
    for current in 1..r {
        let mut distance = [f64::INFINITY; TINY];
        // Distance at which each row was reached / each column scanned, and
        // bit masks of those rows and columns.
        let mut row_dist = [0.0f64; TINY];
        let mut col_dist = [0.0f64; TINY];
        let (mut visited, mut scanned) = (0u32, 0u32);
        let mut i = current;
        let mut dist = 0.0;
        let sink = loop {
            visited |= 1 << i;
            row_dist[i] = dist;
            let (row, ui) = (&w[i], u[i]);
            let mut key = [f64::INFINITY; TINY];
            let mut lowest = f64::INFINITY;
            for j in 0..TINY {
                let open = scanned & (1 << j) == 0;
                let reduced = dist + row[j] - ui - v[j];
                let better = open & (reduced < distance[j]);
                path[j] = if better { i } else { path[j] };
                distance[j] = if better { reduced } else { distance[j] };
                key[j] = if open { distance[j] } else { f64::INFINITY };
                lowest = lowest.min(key[j]);
            }
            if lowest == f64::INFINITY {
                return false; // no unscanned column is reachable
            }
            let (mut ties, mut free_ties) = (0u32, 0u32);
            for j in 0..TINY {
                let tie = (key[j] == lowest) as u32;
                ties |= tie << j;
                free_ties |= (tie & (row4col[j] == FREE) as u32) << j;
            }
            let j = (if free_ties != 0 { free_ties } else { ties }).trailing_zeros() as usize;
            scanned |= 1 << j;
            col_dist[j] = lowest;
            dist = lowest;
            if row4col[j] == FREE {
                break j;
            }
            i = row4col[j];
        };
        // Potentials: as `Search::update_potentials`, then augment.
        for k in 0..TINY {
            u[k] += if visited & (1 << k) != 0 {
                dist - row_dist[k]
            } else {
                0.0
            };
            v[k] -= if scanned & (1 << k) != 0 {
                dist - col_dist[k]
            } else {
                0.0
            };
        }
        let mut j = sink;
        loop {
            let i = path[j];
            row4col[j] = i;
            let previous = std::mem::replace(&mut col4row[i], j);
            if previous == FREE {
                break;
            }
            j = previous;
        }
    }
    true
}

/// Solves a matrix of at most [`TINY`] rows and columns with [`solve_tiny`]
/// and writes the result to `out`, as [`Solver::solve_into`] would, returning
/// the number of pairs and their total cost. Returns `None` for a NaN or `-inf` cost (the general path
/// reports it) or when not every row of the smaller side can be matched (the
/// general path finds the maximum-cardinality matching).
fn tiny_into<T: Cost>(
    cost: &[T],
    n: usize,
    m: usize,
    max_cost: Option<f64>,
    out: &mut FrameOut<'_>,
) -> Option<(usize, f64)> {
    debug_assert!(n <= TINY && m <= TINY && cost.len() == n * m);
    let gate = max_cost.unwrap_or(f64::INFINITY);
    let transpose = n > m;
    let mut w = [[f64::INFINITY; TINY]; TINY];
    let mut bad = false;
    for i in 0..n {
        for j in 0..m {
            let x = cost[i * m + j].to_f64();
            bad |= x.is_nan() || x == f64::NEG_INFINITY;
            let x = if x > gate { f64::INFINITY } else { x };
            if transpose {
                w[j][i] = x;
            } else {
                w[i][j] = x;
            }
        }
    }
    if bad {
        return None;
    }
    let mut u = [0.0; TINY];
    let mut v = [0.0; TINY];
    let mut col4row = [FREE; TINY];
    let mut row4col = [FREE; TINY];
    if !solve_tiny(&w, n.min(m), &mut u, &mut v, &mut col4row, &mut row4col) {
        return None;
    }
    // Pairs in ascending order of the caller's rows.
    let (row_side, row_pots, col_pots) = if transpose {
        (&row4col[..n], &v[..n], &u[..m])
    } else {
        (&col4row[..n], &u[..n], &v[..m])
    };
    out.u.copy_from_slice(row_pots);
    out.v.copy_from_slice(col_pots);
    Some(out.emit(cost, m, row_side))
}

/// Where the result of one `n x m` frame goes.
pub struct FrameOut<'a> {
    /// Room for `min(n, m)` pairs; the first ones are used.
    pub rows: &'a mut [usize],
    pub cols: &'a mut [usize],
    /// Row potentials (`n`).
    pub u: &'a mut [f64],
    /// Column potentials (`m`).
    pub v: &'a mut [f64],
}

impl FrameOut<'_> {
    /// Writes the pairs of `col_of_row` (`FREE` = unmatched) in ascending row
    /// order; returns their number and total cost in the caller's `cost`.
    fn emit<T: Cost>(&mut self, cost: &[T], m: usize, col_of_row: &[usize]) -> (usize, f64) {
        let mut count = 0;
        let mut total = 0.0;
        for (i, &j) in col_of_row.iter().enumerate() {
            if j != FREE {
                self.rows[count] = i;
                self.cols[count] = j;
                count += 1;
                total += cost[i * m + j].to_f64();
            }
        }
        (count, total)
    }
}

/// Matchings of many frames, stored flat, frame after frame.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FlatMatchings {
    pub rows: Vec<usize>,
    pub cols: Vec<usize>,
    /// Matched pairs per frame.
    pub pair_counts: Vec<usize>,
    pub totals: Vec<f64>,
    /// Row potentials, `n_k` per frame.
    pub u: Vec<f64>,
    /// Column potentials, `m_k` per frame.
    pub v: Vec<f64>,
}

/// Smallest square matrix that gets the Jonker-Volgenant initialisation.
const JV_INIT_MIN_SIZE: usize = 16;

/// Buffers reused from one matrix to the next.
struct Solver {
    w: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    col4row: Vec<usize>,
    row4col: Vec<usize>,
    search: Search,
}

impl Solver {
    fn new() -> Self {
        Solver {
            w: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
            col4row: Vec::new(),
            row4col: Vec::new(),
            search: Search::new(),
        }
    }

    /// Solves the row-major `n x m` matrix `cost`, writes the result to `out`
    /// and returns the number of pairs and their total cost.
    fn solve_into<T: Cost>(
        &mut self,
        cost: &[T],
        n: usize,
        m: usize,
        max_cost: Option<f64>,
        out: &mut FrameOut<'_>,
    ) -> CoreResult<(usize, f64)> {
        debug_assert_eq!(cost.len(), n * m);
        if n.max(m) <= TINY {
            if let Some(result) = tiny_into(cost, n, m, max_cost, out) {
                return Ok(result);
            }
        }
        let (transpose, all_finite) = working_matrix(cost, n, m, max_cost, &mut self.w)?;
        let (r, c) = if transpose { (m, n) } else { (n, m) };
        let reset = |x: &mut Vec<f64>, len: usize| {
            x.clear();
            x.resize(len, 0.0);
        };
        let reset_index = |x: &mut Vec<usize>, len: usize| {
            x.clear();
            x.resize(len, FREE);
        };
        reset(&mut self.u, r);
        reset(&mut self.v, c);
        reset_index(&mut self.col4row, r);
        reset_index(&mut self.row4col, c);
        let (w, u, v) = (&mut self.w, &mut self.u, &mut self.v);
        let (col4row, row4col) = (&mut self.col4row, &mut self.row4col);
        let search = &mut self.search;
        let matched_all = if r == 1 {
            // One row (a frame with one person on a side, a third of typical
            // frames): its cheapest allowed column, the first of equals, with
            // u = that cost and v = 0 -- what the search below would find.
            let (mut best, mut lowest) = (FREE, f64::INFINITY);
            for (j, &x) in w.iter().enumerate() {
                if x < lowest {
                    (best, lowest) = (j, x);
                }
            }
            if best != FREE {
                u[0] = lowest;
                col4row[0] = best;
                row4col[best] = 0;
            }
            true
        } else {
            // The initialisation pays off on large matrices only; small frames go
            // straight to shortest paths.
            if r == c && r >= JV_INIT_MIN_SIZE && all_finite {
                jv_init(w, r, u, v, col4row, row4col);
            }
            match_all_rows(w, r, c, u, v, col4row, row4col, search)
        };
        if !matched_all {
            // Start again on costs shifted to be >= 0, where zero potentials are feasible.
            let shift = w
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::INFINITY, f64::min);
            let shift = if shift.is_finite() { shift } else { 0.0 };
            w.iter_mut().for_each(|x| *x -= shift);
            u.fill(0.0);
            v.fill(0.0);
            col4row.fill(FREE);
            row4col.fill(FREE);
            match_max_cardinality(w, r, c, u, v, col4row, row4col, search);
            u.iter_mut().for_each(|x| *x += shift);
        }
        // Pairs in ascending order of the caller's rows.
        let (row_side, row_pots, col_pots) = if transpose {
            (&*row4col, &*v, &*u)
        } else {
            (&*col4row, &*u, &*v)
        };
        out.u.copy_from_slice(row_pots);
        out.v.copy_from_slice(col_pots);
        Ok(out.emit(cost, m, row_side))
    }
}

/// Optimal matching of the row-major `n x m` matrix `cost`.
///
/// `+inf` forbids a pair; `max_cost` forbids every pair that costs more.
/// NaN or `-inf` is an error naming `cost`.
pub fn solve<T: Cost>(
    cost: &[T],
    n: usize,
    m: usize,
    max_cost: Option<f64>,
) -> CoreResult<Assignment> {
    let k = n.min(m);
    let (mut rows, mut cols) = (vec![0; k], vec![0; k]);
    let (mut u, mut v) = (vec![0.0; n], vec![0.0; m]);
    let mut out = FrameOut {
        rows: &mut rows,
        cols: &mut cols,
        u: &mut u,
        v: &mut v,
    };
    let (count, total) = Solver::new().solve_into(cost, n, m, max_cost, &mut out)?;
    rows.truncate(count);
    cols.truncate(count);
    Ok(Assignment {
        rows,
        cols,
        total,
        u,
        v,
    })
}

/// One frame of a batch: where its `n x m` matrix starts in the flat buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub offset: usize,
    pub n: usize,
    pub m: usize,
}

/// Frames per parallel task: enough to amortise scheduling on tiny frames.
const FRAMES_PER_TASK: usize = 256;

/// The output buffers of a batch, written by many tasks at once, each frame
/// to its own regions.
struct Shared {
    rows: *mut usize,
    cols: *mut usize,
    pair_counts: *mut usize,
    totals: *mut f64,
    u: *mut f64,
    v: *mut f64,
}

// SAFETY: the pointers are only used through `Shared::frame`, whose callers
// never touch the regions of one frame from two tasks.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// The output regions of frame `k` (`n x m`): pair slots `slots.0..slots.1`,
    /// row potentials from `ui`, column potentials from `vi`, its pair count
    /// and its total.
    ///
    /// # Safety
    /// The regions must lie within the buffers, and nothing else may access
    /// them while the returned references live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn frame(
        &self,
        k: usize,
        slots: (usize, usize),
        ui: usize,
        vi: usize,
        n: usize,
        m: usize,
    ) -> (FrameOut<'_>, &mut usize, &mut f64) {
        let len = slots.1 - slots.0;
        unsafe {
            let out = FrameOut {
                rows: std::slice::from_raw_parts_mut(self.rows.add(slots.0), len),
                cols: std::slice::from_raw_parts_mut(self.cols.add(slots.0), len),
                u: std::slice::from_raw_parts_mut(self.u.add(ui), n),
                v: std::slice::from_raw_parts_mut(self.v.add(vi), m),
            };
            (out, &mut *self.pair_counts.add(k), &mut *self.totals.add(k))
        }
    }
}

/// Exclusive prefix sums of `size(frame)`, with the total at the end.
fn offsets(frames: &[Frame], size: impl Fn(&Frame) -> usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(frames.len() + 1);
    let mut acc = 0;
    out.push(0);
    for f in frames {
        acc += size(f);
        out.push(acc);
    }
    out
}

/// Solves every frame (in parallel, in chunks that reuse their buffers, each
/// frame writing its results in place); an error names `costs[k]` of the first bad frame.
pub fn solve_batch<T: Cost>(
    data: &[T],
    frames: &[Frame],
    max_cost: Option<f64>,
) -> CoreResult<FlatMatchings> {
    let f = frames.len();
    // Each frame has room for min(n, m) pairs at slot_at[k], its u at u_at[k]
    // and its v at v_at[k].
    let slot_at = offsets(frames, |f| f.n.min(f.m));
    let u_at = offsets(frames, |f| f.n);
    let v_at = offsets(frames, |f| f.m);
    let mut all = FlatMatchings {
        rows: vec![0; slot_at[f]],
        cols: vec![0; slot_at[f]],
        pair_counts: vec![0; f],
        totals: vec![0.0; f],
        u: vec![0.0; u_at[f]],
        v: vec![0.0; v_at[f]],
    };
    let shared = Shared {
        rows: all.rows.as_mut_ptr(),
        cols: all.cols.as_mut_ptr(),
        pair_counts: all.pair_counts.as_mut_ptr(),
        totals: all.totals.as_mut_ptr(),
        u: all.u.as_mut_ptr(),
        v: all.v.as_mut_ptr(),
    };
    let errors: Vec<Option<(usize, CoreError)>> = (0..f.div_ceil(FRAMES_PER_TASK))
        .into_par_iter()
        .map(|chunk| {
            let mut solver = Solver::new();
            if crate::parallel::interrupted() {
                return None; // the caller's result is dropped
            }
            for k in chunk * FRAMES_PER_TASK..((chunk + 1) * FRAMES_PER_TASK).min(f) {
                let Frame { offset, n, m } = frames[k];
                let cost = &data[offset..offset + n * m];
                // SAFETY: each frame's regions lie within the buffers sized
                // from the same offsets, and each frame is solved once.
                let (mut out, count, total) = unsafe {
                    shared.frame(k, (slot_at[k], slot_at[k + 1]), u_at[k], v_at[k], n, m)
                };
                match solver.solve_into(cost, n, m, max_cost, &mut out) {
                    Ok(result) => (*count, *total) = result,
                    Err(e) => return Some((k, e)),
                }
            }
            None
        })
        .collect();
    let first_error = errors.into_iter().flatten().min_by_key(|(k, _)| *k);
    if let Some((k, e)) = first_error {
        return Err(match e {
            CoreError::NonFinite { message, .. } => {
                CoreError::non_finite(&format!("costs[{k}]"), message)
            }
            other => other,
        });
    }
    // Frames whose allowed pairs could not match every row of the smaller
    // side leave gaps in their pair slots: close them up.
    if all.pair_counts.iter().sum::<usize>() < slot_at[f] {
        let mut to = 0;
        for (k, &count) in all.pair_counts.iter().enumerate() {
            let from = slot_at[k];
            all.rows.copy_within(from..from + count, to);
            all.cols.copy_within(from..from + count, to);
            to += count;
        }
        all.rows.truncate(to);
        all.cols.truncate(to);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn brute_force(c: &[f64], n: usize, m: usize) -> (usize, f64) {
        // Best (largest size, then least cost) over all partial injections rows -> cols.
        fn rec(c: &[f64], n: usize, m: usize, i: usize, used: &mut Vec<bool>) -> (usize, f64) {
            if i == n {
                return (0, 0.0);
            }
            let mut best = rec(c, n, m, i + 1, used);
            for j in 0..m {
                if !used[j] && c[i * m + j].is_finite() {
                    used[j] = true;
                    let (k, t) = rec(c, n, m, i + 1, used);
                    used[j] = false;
                    let cand = (k + 1, t + c[i * m + j]);
                    if cand.0 > best.0 || (cand.0 == best.0 && cand.1 < best.1 - 1e-12) {
                        best = cand;
                    }
                }
            }
            best
        }
        rec(c, n, m, 0, &mut vec![false; m])
    }

    fn check_certificate(c: &[f64], n: usize, m: usize, a: &Assignment) {
        let mut row_matched = vec![false; n];
        let mut col_matched = vec![false; m];
        for (&i, &j) in a.rows.iter().zip(&a.cols) {
            assert!((c[i * m + j] - a.u[i] - a.v[j]).abs() < 1e-9);
            row_matched[i] = true;
            col_matched[j] = true;
        }
        for i in 0..n {
            for j in 0..m {
                if c[i * m + j].is_finite() {
                    assert!(c[i * m + j] - a.u[i] - a.v[j] >= -1e-9);
                }
            }
        }
        let umax = a.u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let vmax = a.v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for i in (0..n).filter(|&i| !row_matched[i]) {
            assert!((a.u[i] - umax).abs() < 1e-9);
        }
        for j in (0..m).filter(|&j| !col_matched[j]) {
            assert!((a.v[j] - vmax).abs() < 1e-9);
        }
    }

    /// A 31-bit linear congruential stream from `seed` (Knuth's MMIX constants).
    fn lcg(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        }
    }

    #[test]
    fn matches_brute_force_on_small_matrices() {
        let mut bits = lcg(12345);
        let mut next = || bits() as f64 / (1u64 << 31) as f64;
        for n in 0..5 {
            for m in 0..5 {
                for _ in 0..30 {
                    let c: Vec<f64> = (0..n * m)
                        .map(|_| {
                            let x = next();
                            if x < 0.3 {
                                INF
                            } else {
                                (next() * 10.0).round() - 3.0
                            }
                        })
                        .collect();
                    let a = solve(&c, n, m, None).unwrap();
                    let (k, t) = brute_force(&c, n, m);
                    assert_eq!(a.rows.len(), k, "{c:?}");
                    assert!((a.total - t).abs() < 1e-9, "{c:?}: {} vs {t}", a.total);
                    check_certificate(&c, n, m, &a);
                }
            }
        }
    }

    #[test]
    fn certificate_on_large_matrices_with_ties() {
        // Square and fully allowed (the JV initialisation path), with many ties,
        // and rectangular; the certificate alone proves optimality.
        let mut bits = lcg(99);
        let mut next = |k: u64| (bits() % k) as f64;
        for &(n, m, levels) in &[(40, 40, 3), (60, 60, 100), (30, 45, 4), (50, 20, 7)] {
            let c: Vec<f64> = (0..n * m).map(|_| next(levels)).collect();
            let a = solve(&c, n, m, None).unwrap();
            assert_eq!(a.rows.len(), n.min(m));
            check_certificate(&c, n, m, &a);
        }
    }

    #[test]
    fn later_cheaper_row_displaces_earlier() {
        // Rows 0 and 1 compete for column 0 only; row 2 is free to take column 1.
        let c = [10.0, INF, INF, 1.0, INF, INF, INF, 5.0, 6.0];
        let a = solve(&c, 3, 3, None).unwrap();
        assert_eq!(a.rows, vec![1, 2]);
        assert_eq!(a.cols, vec![0, 1]);
        assert_eq!(a.total, 6.0);
        check_certificate(&c, 3, 3, &a);
    }

    #[test]
    fn batch_equals_single_frames_with_gaps_and_ties() {
        // Tiny and larger frames, forbidden pairs (frames that cannot match
        // every row leave gaps to close up) and many ties.
        let mut bits = lcg(7);
        let mut next = |k: u64| bits() % k;
        let mut data = Vec::new();
        let mut frames = Vec::new();
        for _ in 0..600 {
            let (n, m) = (next(11) as usize, next(11) as usize);
            frames.push(Frame {
                offset: data.len(),
                n,
                m,
            });
            for _ in 0..n * m {
                data.push(if next(4) == 0 { INF } else { next(5) as f64 });
            }
        }
        let batch = solve_batch(&data, &frames, Some(3.5)).unwrap();
        let mut pair = 0;
        let (mut ui, mut vi) = (0, 0);
        for (k, f) in frames.iter().enumerate() {
            let c = &data[f.offset..f.offset + f.n * f.m];
            let a = solve(c, f.n, f.m, Some(3.5)).unwrap();
            let count = batch.pair_counts[k];
            assert_eq!(&batch.rows[pair..pair + count], &a.rows[..]);
            assert_eq!(&batch.cols[pair..pair + count], &a.cols[..]);
            assert_eq!(batch.totals[k], a.total);
            assert_eq!(&batch.u[ui..ui + f.n], &a.u[..]);
            assert_eq!(&batch.v[vi..vi + f.m], &a.v[..]);
            let gated: Vec<f64> = c.iter().map(|&x| if x > 3.5 { INF } else { x }).collect();
            let (best, t) = brute_force_if_small(&gated, f.n, f.m);
            if let Some(best) = best {
                assert_eq!(count, best, "{gated:?}");
                assert!((a.total - t).abs() < 1e-9);
            }
            check_certificate(&gated, f.n, f.m, &a);
            pair += count;
            ui += f.n;
            vi += f.m;
        }
        assert_eq!(pair, batch.rows.len());
    }

    fn brute_force_if_small(c: &[f64], n: usize, m: usize) -> (Option<usize>, f64) {
        if n.min(m) <= 6 && n.max(m) <= 7 {
            let (k, t) = brute_force(c, n, m);
            (Some(k), t)
        } else {
            (None, 0.0)
        }
    }

    #[test]
    fn gate_and_errors() {
        let c = [1.0f32, 5.0, 5.0, 1.0];
        let a = solve(&c, 2, 2, Some(0.5)).unwrap();
        assert!(a.rows.is_empty());
        let err = solve(&[f64::NAN], 1, 1, None).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cost: found NaN at index (0, 0)"));
        let batch = solve_batch(
            &[1.0, 2.0, f64::NAN],
            &[
                Frame {
                    offset: 0,
                    n: 1,
                    m: 2,
                },
                Frame {
                    offset: 2,
                    n: 1,
                    m: 1,
                },
            ],
            None,
        );
        assert!(batch.unwrap_err().to_string().starts_with("costs[1]"));
    }
}
