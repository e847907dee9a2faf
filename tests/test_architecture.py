"""The package's layering, checked from the source: no import circle, no import from a lower layer upwards.

The rule is written once, in :data:`LAYERS`: a module may import modules of its own subpackage and of any
subpackage in a lower layer, never one in its own layer's other subpackages or above. Imports inside
functions count (they run too). The ``hf_ser`` package itself (``__init__``) is the public facade on
top and the deprecated old paths sit with it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hf_ser"

LAYERS: list[tuple[str, ...]] = [
    ("_deprecation", "version", "progress", "models", "data", "metrics"),  # foundations
    ("runtime",),  # torch-free inference (numpy + onnxruntime); the ONNX backend builds on it
    ("auto",),  # registers models with transformers' Auto classes
    ("export",),  # ONNX export and its runner (backend="auto" of the pipeline exports models itself)
    ("inference",),  # pipeline and its backends
    ("evaluation", "cards", "labelling"),  # consume the pipeline's arrays / describe runs / label corpora
    ("training",),  # recipes, trainers, LoRA, distillation
    ("hub",),  # publishing
    ("app",),  # command line and demo: the only argparse code
    ("", "__main__", "augment", "seq2seq", "distill", "pipeline"),  # facade and deprecated old paths
]
"""Bottom to top. A name is a top-level module or subpackage of ``hf_ser`` ("" is ``hf_ser`` itself)."""

RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["hf_ser", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports (``from x import y`` counts ``x.y`` when it is a module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.update([base] + [f"{base}.{alias.name}" for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def part_of(module: str) -> str:
    """The top-level part a module belongs to: ``hf_ser.training.lora`` -> ``training``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module (import circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in graph:
        if node not in index:
            visit(node)
    return circles


def test_every_part_of_the_package_has_a_layer():
    unplaced = sorted({part_of(module) for module in module_names()} - set(RANK))
    assert unplaced == [], f"add these to LAYERS in {__file__}: {unplaced}"


def test_no_import_circle():
    assert strongly_connected(import_graph()) == []


def test_imports_only_go_down_the_layers():
    upward = []
    for module, imported in import_graph().items():
        source = part_of(module)
        for target in imported:
            destination = part_of(target)
            same_part = destination == source
            if not same_part and RANK[destination] >= RANK[source]:
                upward.append(f"{module} -> {target}")
    assert sorted(upward) == []


def test_the_checks_catch_a_circle_and_an_upward_import():
    graph = {"hf_ser.a": {"hf_ser.b"}, "hf_ser.b": {"hf_ser.a"}, "hf_ser.c": set()}
    assert strongly_connected(graph) == [["hf_ser.a", "hf_ser.b"]]
    assert RANK["training"] > RANK["evaluation"]  # so evaluation -> training would be reported as upward


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("hf_ser.augment", "hf_ser.data.augment", "build_augmentation"),
        ("hf_ser.seq2seq", "hf_ser.models.seq2seq", "Seq2SeqEncoder"),
        ("hf_ser.distill", "hf_ser.training.trainer_distillation", "DistillationTrainer"),
        ("hf_ser.pipeline", "hf_ser.inference.pipeline", "SERPipeline"),
    ],
)
def test_old_import_paths_work_with_a_future_warning(old, new, name):
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(FutureWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_hf_ser_pipeline_stays_the_function_after_the_old_module_path_is_imported():
    import importlib
    import warnings

    import hf_ser
    from hf_ser.inference.pipeline import SERPipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        importlib.import_module("hf_ser.pipeline")
    from hf_ser import pipeline

    classify = pipeline()
    assert isinstance(classify, SERPipeline)
    assert isinstance(hf_ser.pipeline(), SERPipeline)


def test_no_function_is_ranked_worse_than_c_by_radon():
    """Cyclomatic complexity as ``radon cc -n D -s hf_ser`` in CI: every function, method and class of the
    package ranks A-C; one ranked D or worse is listed with its file, line, rank and complexity."""
    pytest.importorskip("radon")
    from radon.complexity import cc_rank, cc_visit

    too_complex = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):  # functions, classes and their methods
            rank = cc_rank(block.complexity)
            if rank >= "D":
                where = f"{path.relative_to(PACKAGE.parent)}:{block.lineno}"
                too_complex.append(f"{where} {block.fullname} {rank} ({block.complexity})")
    assert not too_complex, "Ranked D or worse by radon; split into helpers:\n" + "\n".join(too_complex)
