"""How much of each adapter is declaration (docs/adding-a-provider.md, "Measured").

    python tests/bench/declaration_share.py WORK luma byteplus      # the working tree
    python tests/bench/declaration_share.py d43cb6f^ luma byteplus  # a commit

Each non-blank, non-comment line is classed by the top-level statement holding it. Declaration: module-level
assignments and loops (constants, tables, ModelSpecs), functions returning a ModelSpec or PriceRule, wire model
classes (pydantic, whole), and the provider class's class-level attributes. Code: every other function and
method, and alias assignments such as `error_for = X.error_for`. Not counted: docstrings, imports, comments.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIRE_BASES = {"BaseModel", "_Wire", "Wire", "Accepted", "TaskAnswer", "ErrorAnswer", "_Strict"}
PROVIDER_BASES = {"Provider", "TaskProvider"}
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        base = base.value if isinstance(base, ast.Subscript) else base
        names.append(base.id if isinstance(base, ast.Name) else getattr(base, "attr", ""))
    return names


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def measure(source: str) -> tuple[int, int, int]:
    """(lines, declaration lines, code lines) of one module's source."""
    tree = ast.parse(source)
    counted: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in SKIPPED:
            counted.update(range(token.start[0], token.end[0] + 1))
    kind: dict[int, str] = {}

    def mark(node: ast.stmt | ast.expr, what: str) -> None:
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            kind[line] = what

    wire = set(WIRE_BASES)
    for node in tree.body:
        if _is_docstring(node) or isinstance(node, (ast.Import, ast.ImportFrom, ast.If)):  # if TYPE_CHECKING
            mark(node, "skip")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            mark(node, "code" if isinstance(node.value, ast.Attribute) else "declaration")
        elif isinstance(node, ast.For):
            mark(node, "declaration")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            returns = ast.unparse(node.returns) if node.returns else ""
            mark(node, "declaration" if returns in ("ModelSpec", "PriceRule") else "code")
        elif isinstance(node, ast.ClassDef) and set(_base_names(node)) & wire:
            wire.add(node.name)
            mark(node, "declaration")
        elif isinstance(node, ast.ClassDef) and set(_base_names(node)) & PROVIDER_BASES:
            mark(node, "code")
            for item in node.body:
                if isinstance(item, (ast.Assign, ast.AnnAssign)):
                    mark(item, "declaration")
        else:
            mark(node, "code")
        for inner in ast.walk(node):
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and inner.body:
                if _is_docstring(inner.body[0]):
                    mark(inner.body[0], "skip")
    counts = {"declaration": 0, "code": 0, "skip": 0}
    for line in counted:
        counts[kind.get(line, "skip")] += 1
    return len(source.splitlines()), counts["declaration"], counts["code"]


def source(rev: str, name: str) -> str:
    if rev == "WORK":
        return (ROOT / "providers" / f"{name}.py").read_text()
    command = ["git", "-C", str(ROOT), "show", f"{rev}:providers/{name}.py"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def main(argv: list[str]) -> None:
    rev, names = argv[0], argv[1:]
    total = [0, 0, 0]
    for name in names:
        lines, declaration, code = measure(source(rev, name))
        total = [total[0] + lines, total[1] + declaration, total[2] + code]
        share = declaration / max(1, declaration + code)
        print(f"{name:10} {lines:5} lines  declaration {declaration:5}  code {code:5}  share {share:4.0%}")
    share = total[1] / max(1, total[1] + total[2])
    print(f"{'total':10} {total[0]:5} lines  declaration {total[1]:5}  code {total[2]:5}  share {share:4.0%}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["WORK", "runblob", "kling", "luma", "byteplus", "dashscope", "google"])
