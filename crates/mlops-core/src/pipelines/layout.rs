//! Where each block sits when a pipeline is drawn.
//!
//! The layout comes from `rust-sugiyama`, a layered-graph layout (ranks, then an order in
//! each rank that reduces crossings, then coordinates). Its ranks run top to bottom; a
//! pipeline reads better left to right, as Mage's tree does, so the picture is turned on
//! its side: the library's "width" of a vertex is a block's height here, and its ranks
//! become columns. Blocks that read nothing and feed nothing (notes, a loader nobody
//! uses yet) form their own small graphs; those are stacked below the main one.
//!
//! The page only draws what this returns, so the placement is tested natively: every
//! block placed once, no two boxes overlapping, data flowing rightwards.

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
}

impl PlacedEdge {
    /// An SVG path: a cubic curve that leaves and enters horizontally.
    pub fn svg_path(&self) -> String {
        let ((sx, sy), (ex, ey)) = (self.start, self.end);
        let mid = (sx + ex) / 2.0;
        format!("M{sx:.1},{sy:.1} C{mid:.1},{sy:.1} {mid:.1},{ey:.1} {ex:.1},{ey:.1}")
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
    // The library pads each vertex by the spacing on both axes; the larger gap (between
    // columns) is added below by spreading the ranks.
    let vertices: Vec<(u32, (f64, f64))> =
        (0..ids.len() as u32).map(|v| (v, (boxes.height, boxes.width))).collect();
    let config = Config { vertex_spacing: boxes.row_gap, ..Config::default() };
    let mut graphs = if vertices.is_empty() {
        Vec::new()
    } else {
        rust_sugiyama::from_vertices_and_edges(&vertices, &edges, &config)
    };
    // The biggest graph (the pipeline itself) first, then the rest in definition order.
    graphs.sort_by_key(|(placed, _, _)| {
        (std::cmp::Reverse(placed.len()), placed.iter().map(|(v, _)| *v).min().unwrap_or(usize::MAX))
    });

    let mut blocks = Vec::with_capacity(ids.len());
    let mut top = boxes.margin;
    for (placed, _, _) in &graphs {
        // Library coordinates are box centres: x along a rank, y down the ranks.
        let rank_step = boxes.width + boxes.row_gap;
        let min_across = placed.iter().map(|(_, (x, _))| *x).fold(f64::INFINITY, f64::min);
        let min_down = placed.iter().map(|(_, (_, y))| *y).fold(f64::INFINITY, f64::min);
        let mut bottom = top;
        for (v, (across, down)) in placed {
            let Some(id) = ids.get(*v) else { continue };
            let column = ((down - min_down) / rank_step).round();
            let x = boxes.margin + column * (boxes.width + boxes.column_gap);
            let y = top + (across - min_across);
            bottom = bottom.max(y + boxes.height);
            blocks.push(PlacedBlock { id: id.to_string(), x, y });
        }
        top = bottom + boxes.row_gap;
    }
    blocks.sort_by_key(|b| index(&b.id));

    let position = |v: u32| blocks.iter().find(|b| Some(v as usize) == index(&b.id));
    let edges = edges
        .iter()
        .filter_map(|&(from, to)| {
            let (a, b) = (position(from)?, position(to)?);
            Some(PlacedEdge {
                from: a.id.clone(),
                to: b.id.clone(),
                start: (a.x + boxes.width, a.y + boxes.height / 2.0),
                end: (b.x, b.y + boxes.height / 2.0),
            })
        })
        .collect();
    let width = blocks.iter().map(|b| b.x + boxes.width + boxes.margin).fold(2.0 * boxes.margin, f64::max);
    let height = blocks.iter().map(|b| b.y + boxes.height + boxes.margin).fold(2.0 * boxes.margin, f64::max);
    DagLayout { blocks, edges, width, height }
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
