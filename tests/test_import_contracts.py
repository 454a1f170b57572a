"""The contract type of tests/import_contracts.py finds each way of reaching a private name."""

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
