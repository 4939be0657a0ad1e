"""module_utils stays a set of small files, one concern each (docs/architecture.md lists them)."""

from __future__ import annotations

from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
ARCHITECTURE = MODULE_UTILS.parents[1] / "docs" / "architecture.md"


@pytest.mark.parametrize("path", sorted(MODULE_UTILS.glob("*.py")), ids=lambda path: path.name)
def test_no_file_is_longer_than_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


def test_the_architecture_page_names_every_file():
    page = ARCHITECTURE.read_text()
    missing = [path.name for path in MODULE_UTILS.glob("*.py") if f"`{path.name}`" not in page]
    assert missing == [], "describe them in docs/architecture.md"
