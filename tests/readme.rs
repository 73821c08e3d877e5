//! The README's examples are real: each block marked `<!-- README example: ARGS -->` must equal the
//! output of `tally ARGS`, byte for byte.

use assert_cmd::Command;

#[test]
fn every_readme_example_is_the_real_output() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = "<!-- README example: ";
    let mut checked = 0;
    for (i, _) in readme.match_indices(marker) {
        let rest = &readme[i + marker.len()..];
        let args_end = rest.find(" -->").expect("marker closes");
        let args: Vec<&str> = rest[..args_end].split_whitespace().collect();
        let fence = rest.find("```text\n").expect("a text block follows the marker") + "```text\n".len();
        let body_end = rest[fence..].find("```").expect("the block closes");
        let shown = &rest[fence..fence + body_end];
        let out = Command::cargo_bin("tally").unwrap().args(&args).output().unwrap();
        assert!(out.status.success(), "tally {args:?}");
        assert_eq!(shown, String::from_utf8(out.stdout).unwrap(), "README example `tally {}`", args.join(" "));
        checked += 1;
    }
    assert!(checked >= 2, "the README shows at least two examples");
}
