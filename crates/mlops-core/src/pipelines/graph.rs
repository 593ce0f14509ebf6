//! The pipeline as a graph: checks that say exactly what is wrong, the order blocks run
//! in, and the "waves" of blocks that can run at the same time.
//!
//! Every block's inputs name another block's output. [`plan`] checks each connection
//! (the block exists, has that output, of the type the input takes; every required input
//! is connected, none too often), then looks for a cycle and reports it as a path
//! (`a → b → c → a`), then orders the blocks. A block's wave is one more than the latest
//! wave among its inputs, so all blocks of a wave are independent: the host can give each
//! one a worker.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::definition::{BlockKind, DataType, PipelineDefinition};

/// What is wrong with a pipeline's graph, in words that name both ends of an edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GraphError {
    #[error("two blocks are called `{id}`; ids must be unique")]
    DuplicateBlock { id: String },
    #[error("block `{block}` has no input `{port}`; its inputs: {expected}")]
    UnknownPort { block: String, port: String, expected: String },
    #[error("block `{block}` input `{port}` reads `{from}.{output}`, but there is no block `{from}`")]
    UnknownBlock { block: String, port: String, from: String, output: String },
    #[error("block `{block}` input `{port}` reads `{from}.{output}`, but `{from}` has no output `{output}`; its outputs: {available}")]
    UnknownOutput { block: String, port: String, from: String, output: String, available: String },
    #[error("block `{block}` input `{port}` takes {expected}, but `{from}.{output}` gives {found}")]
    TypeMismatch {
        block: String,
        port: String,
        expected: DataType,
        from: String,
        output: String,
        found: DataType,
    },
    #[error("block `{block}` needs input `{port}` ({data_type}), but nothing is connected to it")]
    MissingInput { block: String, port: String, data_type: DataType },
    #[error("block `{block}` input `{port}` takes at most {max} connection{}, but has {count}", if *max == 1 { "" } else { "s" })]
    TooManyConnections { block: String, port: String, max: usize, count: usize },
    #[error("the pipeline has a cycle: {}; a block cannot depend on its own output", path.join(" → "))]
    Cycle { path: Vec<String> },
}

/// A checked pipeline: who feeds whom, the run order and the waves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Block ids in an order where every block comes after its inputs (markdown notes,
    /// which never run, are left out). Ties keep the definition's order.
    pub order: Vec<String>,
    /// Blocks grouped by wave: wave 0 has no inputs, wave n reads from waves before n.
    pub waves: Vec<Vec<String>>,
    /// For each block (by position in the definition), the positions it reads from.
    pub upstream: Vec<Vec<usize>>,
    /// For each block, the positions that read from it.
    pub downstream: Vec<Vec<usize>>,
    /// Things that are allowed but probably not meant, such as a block whose outputs
    /// nothing reads.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Every block that reads, directly or not, from block `index` (not itself), in
    /// definition order.
    pub fn descendants(&self, index: usize) -> Vec<usize> {
        let mut seen = vec![false; self.downstream.len()];
        let mut stack = vec![index];
        while let Some(node) = stack.pop() {
            for &next in self.downstream.get(node).into_iter().flatten() {
                if !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        (0..seen.len()).filter(|&i| seen[i] && i != index).collect()
    }
}

/// Checks the graph; the first problem found, in definition order.
pub fn check(definition: &PipelineDefinition) -> Result<(), GraphError> {
    plan(definition).map(|_| ())
}

/// Every connection problem (for the editor to mark each block), then a cycle if the
/// connections are sound.
pub fn problems(definition: &PipelineDefinition) -> Vec<GraphError> {
    let mut found = port_problems(definition);
    if found.is_empty() {
        let (upstream, _) = edges(definition);
        if let Some(path) = find_cycle(definition, &upstream) {
            found.push(GraphError::Cycle { path });
        }
    }
    found
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn port_problems(definition: &PipelineDefinition) -> Vec<GraphError> {
    let mut found = Vec::new();
    for (i, block) in definition.blocks.iter().enumerate() {
        if definition.blocks[..i].iter().any(|b| b.id == block.id) {
            found.push(GraphError::DuplicateBlock { id: block.id.clone() });
        }
    }
    for block in &definition.blocks {
        let ports = block.params.inputs();
        for binding in &block.inputs {
            let Some(port) = ports.iter().find(|p| p.name == binding.port) else {
                found.push(GraphError::UnknownPort {
                    block: block.id.clone(),
                    port: binding.port.clone(),
                    expected: list(ports.iter().map(|p| p.name)),
                });
                continue;
            };
            let Some(from) = definition.blocks.iter().find(|b| b.id == binding.block) else {
                found.push(GraphError::UnknownBlock {
                    block: block.id.clone(),
                    port: binding.port.clone(),
                    from: binding.block.clone(),
                    output: binding.output.clone(),
                });
                continue;
            };
            let outputs = from.params.outputs();
            let Some(output) = outputs.iter().find(|o| o.name == binding.output) else {
                found.push(GraphError::UnknownOutput {
                    block: block.id.clone(),
                    port: binding.port.clone(),
                    from: from.id.clone(),
                    output: binding.output.clone(),
                    available: list(outputs.iter().map(|o| o.name)),
                });
                continue;
            };
            if output.data_type != port.data_type {
                found.push(GraphError::TypeMismatch {
                    block: block.id.clone(),
                    port: binding.port.clone(),
                    expected: port.data_type,
                    from: from.id.clone(),
                    output: binding.output.clone(),
                    found: output.data_type,
                });
            }
        }
        for port in &ports {
            let count = block.inputs.iter().filter(|b| b.port == port.name).count();
            if count < port.min {
                found.push(GraphError::MissingInput {
                    block: block.id.clone(),
                    port: port.name.to_string(),
                    data_type: port.data_type,
                });
            } else if count > port.max {
                found.push(GraphError::TooManyConnections {
                    block: block.id.clone(),
                    port: port.name.to_string(),
                    max: port.max,
                    count,
                });
            }
        }
    }
    found
}

/// Upstream and downstream positions of each block, each neighbour once.
fn edges(definition: &PipelineDefinition) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let n = definition.blocks.len();
    let mut upstream = vec![Vec::new(); n];
    let mut downstream = vec![Vec::new(); n];
    for (i, block) in definition.blocks.iter().enumerate() {
        for from in block.upstream() {
            if let Some(j) = definition.blocks.iter().position(|b| b.id == from) {
                if !upstream[i].contains(&j) {
                    upstream[i].push(j);
                    downstream[j].push(i);
                }
            }
        }
    }
    for list in downstream.iter_mut() {
        list.sort_unstable();
    }
    (upstream, downstream)
}

/// A cycle as block ids in data-flow order, first block repeated at the end.
fn find_cycle(definition: &PipelineDefinition, upstream: &[Vec<usize>]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = upstream.len();
    let mut marks = vec![Mark::New; n];
    // Walk against the data flow (from a block to what it reads), iteratively so a long
    // chain cannot overflow the stack.
    for start in 0..n {
        if marks[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&up) = upstream[node].get(*next) {
                *next += 1;
                match marks[up] {
                    Mark::New => {
                        marks[up] = Mark::Open;
                        stack.push((up, 0));
                    }
                    Mark::Open => {
                        // The stack from `up` to `node` reads against the data: `up`
                        // feeds `node`, which feeds the block below it, … back to `up`.
                        let from = stack.iter().position(|&(b, _)| b == up).unwrap_or(0);
                        let id = |b: usize| definition.blocks[b].id.clone();
                        let mut path = vec![id(up)];
                        path.extend(stack[from + 1..].iter().rev().map(|&(b, _)| id(b)));
                        path.push(id(up));
                        return Some(path);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// Checks the graph and orders it (see the module docs).
pub fn plan(definition: &PipelineDefinition) -> Result<Plan, GraphError> {
    if let Some(problem) = port_problems(definition).into_iter().next() {
        return Err(problem);
    }
    let (upstream, downstream) = edges(definition);
    if let Some(path) = find_cycle(definition, &upstream) {
        return Err(GraphError::Cycle { path });
    }
    let n = definition.blocks.len();
    let runs = |i: usize| definition.blocks[i].kind != BlockKind::Markdown;
    // Kahn's algorithm, always taking the earliest ready block in definition order.
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut wave_of = vec![0usize; n];
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while let Some(next) = (0..n).find(|&i| !done[i] && waiting[i] == 0) {
        done[next] = true;
        if runs(next) {
            order.push(definition.blocks[next].id.clone());
        }
        for &child in &downstream[next] {
            waiting[child] -= 1;
            wave_of[child] = wave_of[child].max(wave_of[next] + 1);
        }
    }
    let wave_count = (0..n).filter(|&i| runs(i)).map(|i| wave_of[i] + 1).max().unwrap_or(0);
    let mut waves = vec![Vec::new(); wave_count];
    for i in (0..n).filter(|&i| runs(i)) {
        waves[wave_of[i]].push(definition.blocks[i].id.clone());
    }
    let warnings = definition
        .blocks
        .iter()
        .enumerate()
        .filter(|(i, block)| {
            downstream[*i].is_empty()
                && !block.params.outputs().is_empty()
                && !matches!(block.kind, BlockKind::Exporter | BlockKind::Evaluator | BlockKind::Trainer)
        })
        .map(|(_, block)| {
            format!("block `{}` ({}) produces data that no block reads", block.id, block.kind.name())
        })
        .collect();
    Ok(Plan { order, waves, upstream, downstream, warnings })
}

impl fmt::Display for Plan {
    /// The waves, one per line: `1: load_jan, load_feb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, wave) in self.waves.iter().enumerate() {
            writeln!(f, "{}: {}", i + 1, wave.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::{
        BlockDef, BlockParams, DurationFilterParams, FeaturesParams, MarkdownParams, MonthRef,
        SimulatedSource,
    };

    fn loader(id: &str) -> BlockDef {
        BlockDef::new(id, BlockParams::Simulated(SimulatedSource::new(MonthRef::Latest, 100)))
    }

    fn filter(id: &str, from: &str) -> BlockDef {
        BlockDef::new(id, BlockParams::DurationFilter(DurationFilterParams::default()))
            .input("trips", from, "trips")
    }

    fn pipeline(blocks: Vec<BlockDef>) -> PipelineDefinition {
        let mut definition = PipelineDefinition::new("test", "");
        definition.blocks = blocks;
        definition
    }

    #[test]
    fn a_diamond_orders_and_groups_into_waves() {
        let features = BlockDef::new(
            "features",
            BlockParams::Features(FeaturesParams { feature_set: crate::features::FeatureSet::PuDo }),
        )
        .input("train", "filter_a", "trips")
        .input("val", "filter_b", "trips");
        let note = BlockDef::new("note", BlockParams::Markdown(MarkdownParams { text: "hi".into() }));
        let definition = pipeline(vec![
            features,
            note,
            filter("filter_b", "b"),
            loader("a"),
            filter("filter_a", "a"),
            loader("b"),
        ]);
        let plan = plan(&definition).expect("valid");
        assert_eq!(plan.order, ["a", "filter_a", "b", "filter_b", "features"]);
        assert_eq!(plan.waves, vec![vec!["a", "b"], vec!["filter_b", "filter_a"], vec!["features"]]);
        assert_eq!(plan.to_string(), "1: a, b\n2: filter_b, filter_a\n3: features\n");
        assert_eq!(plan.descendants(3), vec![0, 4], "a feeds filter_a and, through it, features");
        assert_eq!(plan.warnings, ["block `features` (transformer) produces data that no block reads"]);
    }

    #[test]
    fn a_cycle_is_reported_as_its_path() {
        let definition = pipeline(vec![
            loader("load"),
            filter("first", "third"),
            filter("second", "first"),
            filter("third", "second"),
        ]);
        let error = plan(&definition).expect_err("cycle");
        assert_eq!(
            error.to_string(),
            "the pipeline has a cycle: first → second → third → first; a block cannot depend on its own output"
        );
        let self_loop = pipeline(vec![filter("me", "me")]);
        assert_eq!(plan(&self_loop), Err(GraphError::Cycle { path: vec!["me".into(), "me".into()] }));
    }

    #[test]
    fn dead_ends_are_warnings_not_errors() {
        let plan = plan(&pipeline(vec![loader("load")])).expect("valid");
        assert_eq!(plan.warnings, ["block `load` (data_loader) produces data that no block reads"]);
    }
}
