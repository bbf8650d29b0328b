"""The committed reports and the README's tables say the same thing."""
import json

from mats_lib.analysis.transfer_table import to_markdown
from mats_lib.paths import REPO_ROOT


def test_readme_links_the_transfer_report_whose_cells_carry_their_part_keys():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "](reports/mini/transfer_table.md)" in readme and "transfer-table:begin" not in readme
    table = json.loads((REPO_ROOT / "reports" / "mini" / "transfer_table.json").read_text())
    for encoder in table["encoders"].values():  # every cell carries the keys of the parts that made it
        for condition, seeds in encoder["keys"].items():
            assert all(len(key) == 16 for parts in seeds.values() for keys in parts.values() for key in keys)


def test_committed_transfer_reports_are_rendered_from_their_json():
    folder = REPO_ROOT / "reports" / "mini"
    for name in ("transfer_table", "benchmark_tables"):
        table = json.loads((folder / f"{name}.json").read_text())
        assert to_markdown(table) == (folder / f"{name}.md").read_text(), name


def test_readme_verdicts_are_generated_from_the_committed_summary():
    from mats_lib.analysis.summary import README_BEGIN, README_END, readme_block

    readme = (REPO_ROOT / "README.md").read_text()
    path = REPO_ROOT / "reports" / "mini" / "summary.json"
    if path.exists():
        assert readme_block(json.loads(path.read_text())) in readme
    else:  # before the mini study's first end-to-end run the block says so, and nothing else
        block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
        assert block.strip() == "Not generated yet: the mini study has not yet run end to end on the final code."
