"""The contract type of tests/import_contracts.py finds each way of reaching a private name."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_contracts import private_uses


def test_private_uses_finds_private_modules_names_and_attributes(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        "import core.cli._train\n"
        "from core.jobs import (\n    Job,\n    _registry,\n)\n"
        "from core import scoring as sc\n"
        "sc._setting(1)\n"
        "from core.x._hidden import thing\n",
        encoding="utf-8",
    )
    assert private_uses(page, "core") == [
        (1, "import core.cli._train"),
        (2, "from core.jobs import _registry"),
        (7, "sc._setting"),
        (8, "from core.x._hidden import ..."),
    ]


def test_public_names_dunders_and_other_packages_pass(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        "import core\nfrom core import scoring, __version__\nscoring.score(core.__doc__)\n"
        "from ui._private import x\nimport pandas as pd\npd._libs\n"
        "from .sibling import _local\n",
        encoding="utf-8",
    )
    assert private_uses(page, "core") == []


# Each contract of .importlinter, shown to catch the import it forbids: the project's packages are
# copied, one module that breaks the contract is added, and lint-imports must report that contract
# broken (and exit non-zero). A contract that never fails here would guard nothing.
_ROOT = Path(__file__).resolve().parents[1]
_VIOLATIONS = [
    ("pipeline", {"core/clustering/_breach.py": "import core.models\n"}),
    ("pipeline", {"core/metrics.py": "import core.latents\n"}),
    ("pipeline", {"core/training/_breach.py": "import core.corpus\n"}),
    ("dashboard", {"ui/_breach.py": "import views.explore_page\n"}),
    ("no-ui-in-core", {"core/progress.py": "import streamlit\n"}),
    ("public-core", {"views/_breach.py": "from core.scoring import _private_helper\n"}),
    ("views-compute-nothing", {"views/_breach.py": "import torch\n"}),
    ("no-cycles", {"core/corpus/_breach_a.py": "import core.corpus._breach_b\n",
                   "core/corpus/_breach_b.py": "import core.corpus._breach_a\n"}),
]


def _project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for package in ("core", "ui", "views"):
        shutil.copytree(_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests").mkdir()
    for name in ("__init__.py", "import_contracts.py"):
        shutil.copy(_ROOT / "tests" / name, root / "tests" / name)
    shutil.copy(_ROOT / ".importlinter", root / ".importlinter")
    return root


def _lint(root: Path, contract: str | None = None) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    if contract:
        command += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_every_contract_is_checked_by_this_test():
    config = (_ROOT / ".importlinter").read_text(encoding="utf-8")
    declared = set(re.findall(r"^\[importlinter:contract:([\w-]+)\]", config, flags=re.M))
    assert declared == {contract for contract, _ in _VIOLATIONS}


def test_the_unchanged_copy_keeps_every_contract(tmp_path):
    result = _lint(_project_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("contract", "breach"), _VIOLATIONS,
                         ids=[f"{c}:{next(iter(b))}" for c, b in _VIOLATIONS])
def test_each_contract_catches_a_deliberate_violation(tmp_path, contract, breach):
    root = _project_copy(tmp_path)
    for relative, text in breach.items():
        path = root / relative
        path.write_text(path.read_text(encoding="utf-8") + text if path.exists() else text, encoding="utf-8")
    result = _lint(root, contract)
    assert result.returncode != 0, f"{contract} kept despite the violation:\n{result.stdout}"
    assert "BROKEN" in result.stdout
