//! README's table of ranges is the core's table ([`diffusion::limits::ALL`]), row for row.

#[test]
fn readme_states_every_range() {
    let readme = include_str!("../../../README.md");
    let table = diffusion::limits::markdown_table();
    assert!(readme.contains(&table), "README.md's table of ranges is stale; it should read:\n{table}");
}
