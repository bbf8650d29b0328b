"""The committed reports and the README's tables say the same thing."""
import json

from mats_lib.analysis.transfer_table import readme_block
from mats_lib.paths import REPO_ROOT


def test_readme_transfer_table_is_generated_from_the_committed_json():
    table = json.loads((REPO_ROOT / "reports" / "mini" / "transfer_table.json").read_text())
    assert readme_block(table) in (REPO_ROOT / "README.md").read_text()
    for encoder in table["encoders"].values():  # every cell carries the keys of the parts that made it
        for condition, seeds in encoder["keys"].items():
            assert all(len(key) == 16 for parts in seeds.values() for keys in parts.values() for key in keys)
