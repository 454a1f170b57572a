"""An import-linter contract type the built-in ones lack: importers use only the public names of a package.

import-linter's graph knows which module imports which, not which names: ``from core.cli.train import _run``
is, to it, a plain import of ``core.cli.train``. This contract reads the importers' source to see the names,
so a page that reaches for a private helper breaks CI instead of binding itself to code that may change
without notice. ``.importlinter`` registers it under ``contract_types``; lint-imports runs from the checkout,
which puts this package on its path.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


def _private(name: str) -> bool:
    """``_run`` is private; ``__version__`` and ``__init__`` are the language's, not the package's."""
    return name.startswith("_") and not name.endswith("__")


def _source(module: str) -> Path | None:
    root, *rest = module.split(".")
    spec = importlib.util.find_spec(root)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def private_uses(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, what) for each private name of ``package`` that the file at ``path`` uses: a private
    module in an import, a private name imported from it, or a private attribute read off one of its
    modules bound by an import (``from core import cli; cli._x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inside = lambda name: name == package or name.startswith(package + ".")
    found: list[tuple[int, str]] = []
    bound: set[str] = set()  # local names bound to a module of the package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if inside(alias.name):
                    if any(map(_private, alias.name.split("."))):
                        found.append((node.lineno, f"import {alias.name}"))
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and inside(node.module):
            if any(map(_private, node.module.split("."))):
                found.append((node.lineno, f"from {node.module} import ..."))
            for alias in node.names:
                if _private(alias.name):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
                bound.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in bound):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(found)


class PublicNamesContract(Contract):
    """The modules in ``importers`` (and their descendants) use only public names of ``package``.

    Options:
        - importers: the packages whose source is read.
        - package:   the package whose private names (a leading underscore) they must leave alone.
    """

    type_name = "public_names"

    importers = fields.ListField(subfield=fields.StringField())
    package = fields.StringField()

    def check(self, graph, verbose: bool) -> ContractCheck:
        uses = []
        for importer in self.importers:  # type: ignore[attr-defined]
            for module in sorted({importer} | graph.find_descendants(importer)):
                path = _source(module)
                if path is not None:
                    uses += [(module, line, what) for line, what in private_uses(path, self.package)]
        return ContractCheck(kept=not uses, warnings=[], metadata={"uses": uses})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error(f"These use private names of {self.package}; give each a public home there:", bold=False)
        output.new_line()
        for module, line, what in check.metadata["uses"]:
            output.print_error(f"- {module} (l.{line}): {what}", bold=False)
        output.new_line()
