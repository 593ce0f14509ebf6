//! Where each block sits when a pipeline is drawn.
//!
//! The layout comes from `rust-sugiyama`, a layered-graph layout (ranks, then an order in
//! each rank that reduces crossings, then coordinates). Its ranks run top to bottom; a
//! pipeline reads better left to right, as Mage's tree does, so the picture is turned on
//! its side: the library's "width" of a vertex is a block's height here, and its ranks
//! become columns. Blocks that read nothing and feed nothing (notes, a loader nobody
//! uses yet) form their own small graphs; those are stacked below the main one.
//!
//! An edge that skips columns is routed the way layered layouts route them: it is cut
//! into a chain through a small invisible vertex in each column it crosses, so the
//! library keeps a lane free for it there and the drawing passes between the boxes
//! instead of through them. (The library makes such vertices itself but does not return
//! where it put them, so the chain is made here, after a first pass gives the columns.)
//!
//! The page only draws what this returns, so the placement is tested natively: every
//! block placed once, no two boxes overlapping, data flowing rightwards, no edge through
//! a box.

use rust_sugiyama::configure::Config;

use super::definition::PipelineDefinition;

/// A block's box, in pixels from the drawing's top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedBlock {
    pub id: String,
    pub x: f64,
    pub y: f64,
}

/// An edge from the right middle of `from`'s box to the left middle of `to`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    pub from: String,
    pub to: String,
    pub start: (f64, f64),
    pub end: (f64, f64),
    /// For each column the edge crosses, the lane it runs along there: (left x, right
    /// x, y). Empty for an edge between neighbouring columns.
    pub lanes: Vec<(f64, f64, f64)>,
}

impl PlacedEdge {
    /// An SVG path: cubic curves that leave and enter horizontally across each gap
    /// between columns, and straight runs along the lanes in the columns crossed.
    pub fn svg_path(&self) -> String {
        let (sx, sy) = self.start;
        let mut path = format!("M{sx:.1},{sy:.1}");
        let mut from = self.start;
        let curve_to = |path: &mut String, (fx, fy): (f64, f64), (tx, ty): (f64, f64)| {
            let mid = (fx + tx) / 2.0;
            path.push_str(&format!(" C{mid:.1},{fy:.1} {mid:.1},{ty:.1} {tx:.1},{ty:.1}"));
        };
        for &(left, right, y) in &self.lanes {
            curve_to(&mut path, from, (left, y));
            path.push_str(&format!(" L{right:.1},{y:.1}"));
            from = (right, y);
        }
        curve_to(&mut path, from, self.end);
        path
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DagLayout {
    pub blocks: Vec<PlacedBlock>,
    pub edges: Vec<PlacedEdge>,
    pub width: f64,
    pub height: f64,
}

/// Box sizes and gaps, in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Boxes {
    pub width: f64,
    pub height: f64,
    /// Between columns (ranks).
    pub column_gap: f64,
    /// Between boxes in a column, and between stacked graphs.
    pub row_gap: f64,
    pub margin: f64,
}

impl Default for Boxes {
    fn default() -> Self {
        Self { width: 150.0, height: 44.0, column_gap: 60.0, row_gap: 18.0, margin: 10.0 }
    }
}

/// Lays `definition` out left to right. Edges to blocks that do not exist (a definition
/// being edited) are left out rather than refused: the drawing shows what there is.
pub fn layout(definition: &PipelineDefinition, boxes: Boxes) -> DagLayout {
    let ids: Vec<&str> = definition.blocks.iter().map(|b| b.id.as_str()).collect();
    let index = |id: &str| ids.iter().position(|known| *known == id);
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for (to, block) in definition.blocks.iter().enumerate() {
        for up in block.upstream() {
            if let Some(from) = index(up) {
                let edge = (from as u32, to as u32);
                if from != to && !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
    }
    if ids.is_empty() {
        return DagLayout { blocks: Vec::new(), edges: Vec::new(), width: 0.0, height: 0.0 }.sized(boxes);
    }
    // The library pads each vertex by the spacing on both axes; the larger gap (between
    // columns) is added below by spreading the ranks.
    let config = Config { vertex_spacing: boxes.row_gap, ..Config::default() };
    let block_size = (boxes.height, boxes.width);
    let mut vertices: Vec<(u32, (f64, f64))> = (0..ids.len() as u32).map(|v| (v, block_size)).collect();

    // First pass: the columns. Then every edge that skips columns becomes a chain
    // through one lane vertex per column crossed, and the second pass places those too.
    let first = place(&rust_sugiyama::from_vertices_and_edges(&vertices, &edges, &config), &vertices, boxes);
    let column = |v: u32| first.get(v as usize).and_then(|p| p.map(|p| p.column));
    let mut chained: Vec<(u32, u32)> = Vec::new();
    let mut chains: Vec<Vec<u32>> = Vec::with_capacity(edges.len());
    for &(from, to) in &edges {
        let skipped = match (column(from), column(to)) {
            (Some(a), Some(b)) if b > a + 1 => b - a - 1,
            _ => 0,
        };
        let mut chain = Vec::with_capacity(skipped);
        let mut previous = from;
        for _ in 0..skipped {
            let lane = vertices.len() as u32;
            vertices.push((lane, (LANE_WIDTH, boxes.width)));
            chained.push((previous, lane));
            chain.push(lane);
            previous = lane;
        }
        chained.push((previous, to));
        chains.push(chain);
    }
    let placed =
        place(&rust_sugiyama::from_vertices_and_edges(&vertices, &chained, &config), &vertices, boxes);

    // Vertices are numbered in definition order, so the blocks come out in that order.
    let spot = |v: u32| placed.get(v as usize).copied().flatten();
    let blocks: Vec<PlacedBlock> = ids
        .iter()
        .zip(&placed)
        .filter_map(|(id, p)| p.map(|p| PlacedBlock { id: id.to_string(), x: p.x, y: p.y }))
        .collect();
    let edges = edges
        .iter()
        .zip(&chains)
        .filter_map(|(&(from, to), chain)| {
            let (a, b) = (spot(from)?, spot(to)?);
            let (from, to) = (ids.get(from as usize)?, ids.get(to as usize)?);
            let lanes = chain
                .iter()
                .filter_map(|&lane| spot(lane))
                .map(|p| (p.x, p.x + boxes.width, p.y + LANE_WIDTH / 2.0))
                .collect();
            Some(PlacedEdge {
                from: from.to_string(),
                to: to.to_string(),
                start: (a.x + boxes.width, a.y + boxes.height / 2.0),
                end: (b.x, b.y + boxes.height / 2.0),
                lanes,
            })
        })
        .collect();
    DagLayout { blocks, edges, width: 0.0, height: 0.0 }.sized(boxes)
}

/// One connected part as the library returns it: (vertex, centre) pairs, then its width
/// and height.
type LibraryGraph = (Vec<(usize, (f64, f64))>, f64, f64);

/// How much room across a column an edge's lane takes (plus the row gap around it).
const LANE_WIDTH: f64 = 4.0;

/// A vertex's top-left corner on the page and its column.
#[derive(Debug, Clone, Copy)]
struct Spot {
    x: f64,
    y: f64,
    column: usize,
}

/// Turns the library's graphs (one per connected part) into page positions, indexed by
/// vertex: the biggest graph (the pipeline itself) first, the rest stacked below it in
/// definition order.
fn place(graphs: &[LibraryGraph], vertices: &[(u32, (f64, f64))], boxes: Boxes) -> Vec<Option<Spot>> {
    let mut order: Vec<&LibraryGraph> = graphs.iter().collect();
    order.sort_by_key(|(placed, _, _)| {
        (std::cmp::Reverse(placed.len()), placed.iter().map(|(v, _)| *v).min().unwrap_or(usize::MAX))
    });
    let across_size = |v: usize| vertices.get(v).map_or(boxes.height, |(_, (across, _))| *across);
    let mut spots = vec![None; vertices.len()];
    let mut top = boxes.margin;
    for (placed, _, _) in order {
        // Library coordinates are centres: x along a rank, y down the ranks. Ranks are
        // all as deep as a block is wide, so they step evenly.
        let rank_step = boxes.width + boxes.row_gap;
        let min_edge =
            placed.iter().map(|(v, (x, _))| x - across_size(*v) / 2.0).fold(f64::INFINITY, f64::min);
        let min_down = placed.iter().map(|(_, (_, y))| *y).fold(f64::INFINITY, f64::min);
        let mut bottom = top;
        for (v, (across, down)) in placed {
            let Some(spot) = spots.get_mut(*v) else { continue };
            let column = ((down - min_down) / rank_step).round().max(0.0);
            let x = boxes.margin + column * (boxes.width + boxes.column_gap);
            let y = top + (across - across_size(*v) / 2.0 - min_edge);
            bottom = bottom.max(y + across_size(*v));
            *spot = Some(Spot { x, y, column: column as usize });
        }
        top = bottom + boxes.row_gap;
    }
    spots
}

impl DagLayout {
    /// Sets the drawing's size to hold every box with the margin around it.
    fn sized(mut self, boxes: Boxes) -> Self {
        self.width =
            self.blocks.iter().map(|b| b.x + boxes.width + boxes.margin).fold(2.0 * boxes.margin, f64::max);
        let lanes = self.edges.iter().flat_map(|e| e.lanes.iter().map(|(_, _, y)| y + LANE_WIDTH / 2.0));
        self.height = self
            .blocks
            .iter()
            .map(|b| b.y + boxes.height)
            .chain(lanes)
            .map(|bottom| bottom + boxes.margin)
            .fold(2.0 * boxes.margin, f64::max);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::{BlockDef, BlockKind};
    use crate::pipelines::presets::{self, PresetOptions};

    fn overlaps(a: &PlacedBlock, b: &PlacedBlock, boxes: Boxes) -> bool {
        a.x < b.x + boxes.width
            && b.x < a.x + boxes.width
            && a.y < b.y + boxes.height
            && b.y < a.y + boxes.height
    }

    fn check(definition: &PipelineDefinition) -> DagLayout {
        let boxes = Boxes::default();
        let drawn = layout(definition, boxes);
        assert_eq!(
            drawn.blocks.len(),
            definition.blocks.len(),
            "{}: every block placed once",
            definition.name
        );
        for (i, a) in drawn.blocks.iter().enumerate() {
            assert_eq!(a.id, definition.blocks[i].id, "blocks in definition order");
            assert!(a.x >= boxes.margin && a.y >= boxes.margin, "{a:?} inside the margin");
            assert!(a.x + boxes.width <= drawn.width && a.y + boxes.height <= drawn.height, "{a:?} inside");
            for b in &drawn.blocks[i + 1..] {
                assert!(!overlaps(a, b, boxes), "{}: {a:?} and {b:?} overlap", definition.name);
            }
        }
        for edge in &drawn.edges {
            assert!(edge.end.0 > edge.start.0, "{}: {edge:?} flows rightwards", definition.name);
            let mut x = edge.start.0;
            for &(left, right, y) in &edge.lanes {
                assert!(
                    left > x && right > left && y < drawn.height,
                    "{}: {edge:?} runs rightwards",
                    definition.name
                );
                x = right;
                for block in &drawn.blocks {
                    let same_column = block.x < right && left < block.x + boxes.width;
                    let crosses = block.y - 1.0 < y && y < block.y + boxes.height + 1.0;
                    assert!(
                        !(same_column && crosses),
                        "{}: {} → {} runs through {} at y {y}",
                        definition.name,
                        edge.from,
                        edge.to,
                        block.id
                    );
                }
            }
            assert!(edge.end.0 > x, "{}: {edge:?} ends to the right of its lanes", definition.name);
            let columns = ((edge.end.0 - edge.start.0) / (boxes.width + boxes.column_gap)).round() as usize;
            assert_eq!(
                edge.lanes.len(),
                columns,
                "{}: a lane in every column {edge:?} crosses",
                definition.name
            );
        }
        drawn
    }

    #[test]
    fn the_course_pipelines_are_laid_out_left_to_right_without_overlaps() {
        for definition in presets::all(&PresetOptions::default()) {
            let drawn = check(&definition);
            let upstream_edges: usize = definition
                .blocks
                .iter()
                .map(|b| {
                    let mut ups = b.upstream();
                    ups.sort();
                    ups.dedup();
                    ups.len()
                })
                .sum();
            assert_eq!(drawn.edges.len(), upstream_edges, "{}: one edge per reader", definition.name);
        }
    }

    /// Evaluation reads February's prepared trips directly, two columns back: that edge
    /// runs along lanes left free between the trainers, not through them.
    #[test]
    fn an_edge_that_skips_columns_runs_in_lanes_between_the_boxes() {
        let definition = presets::training(&PresetOptions::default());
        let drawn = check(&definition);
        let edge = drawn.edges.iter().find(|e| e.from == "prepare_feb" && e.to == "evaluate");
        let lanes = edge.map(|e| e.lanes.len());
        assert_eq!(lanes, Some(2), "vectorize's and the trainers' columns are crossed: {edge:?}");
        let path = edge.map(PlacedEdge::svg_path).unwrap_or_default();
        assert_eq!(path.matches(" L").count(), 2, "a straight run along each lane: {path}");
        assert_eq!(path.matches(" C").count(), 3, "a curve across each gap: {path}");
    }

    #[test]
    fn the_training_pipeline_puts_its_loaders_first_and_register_last() {
        let definition = presets::training(&PresetOptions::default());
        let drawn = check(&definition);
        let x = |id: &str| drawn.blocks.iter().find(|b| b.id == id).map(|b| b.x).unwrap_or(f64::NAN);
        assert_eq!(x("load_jan"), x("load_feb"), "the two loaders share the first column");
        assert_eq!(x("load_jan"), Boxes::default().margin);
        let last = drawn.blocks.iter().map(|b| b.x).fold(0.0, f64::max);
        assert_eq!(x("register"), last, "registering comes last");
    }

    #[test]
    fn a_block_outside_the_graph_is_stacked_below_it() {
        let mut definition = presets::training(&PresetOptions::default());
        definition.blocks.push(BlockDef::template(BlockKind::Markdown, "readme"));
        let drawn = check(&definition);
        let note = drawn.blocks.iter().find(|b| b.id == "readme").cloned();
        let lowest_other = drawn.blocks.iter().filter(|b| b.id != "readme").map(|b| b.y).fold(0.0, f64::max);
        assert!(note.is_some_and(|n| n.y > lowest_other), "the note sits under the pipeline");
    }

    #[test]
    fn the_same_definition_is_drawn_the_same_way_every_time() {
        for definition in presets::all(&PresetOptions::default()) {
            let first = layout(&definition, Boxes::default());
            for _ in 0..10 {
                assert_eq!(layout(&definition, Boxes::default()), first, "{}", definition.name);
            }
        }
    }

    #[test]
    fn an_empty_or_dangling_definition_still_draws() {
        let mut definition = presets::training(&PresetOptions::default());
        definition.blocks.clear();
        let drawn = layout(&definition, Boxes::default());
        assert!(drawn.blocks.is_empty() && drawn.edges.is_empty());
        // A reader of a block that is gone (mid-edit) keeps its place; the edge is dropped.
        let mut definition = presets::training(&PresetOptions::default());
        definition.blocks.retain(|b| b.id != "load_jan");
        let drawn = check(&definition);
        assert!(drawn.edges.iter().all(|e| e.from != "load_jan"));
    }
}
