"""The README's layout table matches the tree: every top-level folder has a row, every row a folder, and the rows of
the two Python trees with sub-packages (`citywatch/`, `tools/`) name each of them."""

from __future__ import annotations

import re
import subprocess

from tools.devstack.config import REPO_ROOT

ROW = re.compile(r"^\| `(?P<folder>[^`]+)/` \| (?P<role>.+) \|$", re.M)


def layout_rows() -> dict[str, str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Layout") :]
    table = table[: table.index("\n\n", table.index("| folder |"))]
    return {m["folder"]: m["role"] for m in ROW.finditer(table)}


def tracked_folders() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return {path.split("/")[0] for path in listed.splitlines() if "/" in path and not path.startswith(".")}


def test_every_top_level_folder_has_a_row_and_every_row_a_folder() -> None:
    assert set(layout_rows()) == tracked_folders()


def test_the_python_trees_rows_name_every_sub_package() -> None:
    rows = layout_rows()
    for tree in ("citywatch", "tools"):
        packages = {p.parent.name for p in (REPO_ROOT / tree).glob("*/__init__.py")}
        assert packages, tree
        missing = sorted(p for p in packages if f"`{p}/`" not in rows[tree])
        assert missing == [], f"README layout row `{tree}/` does not name {missing}"
