"""The documentation cannot rot: every Python snippet runs, and every code reference exists.

For each Markdown file under ``docs/`` (and the top-level ``README.md``), the ```` ```python ````
blocks are executed in order, in one fresh namespace per file, with a temporary directory as
the working directory: one test case per file. A failure names the file, the snippet number
and its line, and the traceback points at the Markdown line that failed.

The pages under ``docs/`` are also checked for references to the code (see
``docs/README.md``, "Conventions"):

- every path ``tinygrad_edu/.../x.py`` (or ``tests/...``, ``examples/...``) exists;
- every ``path.py: name`` pair, written in one backtick span (``name`` may be
  ``Class.member``, several names may be separated by commas), names a function, class or
  assignment in that file, found with ``ast`` (nothing is imported);
- every backticked ``tinygrad_edu.x.y`` (or ``te.x.y``, the guide's import alias) resolves
  by import and attribute lookup, and every backticked ``Class.member`` whose ``Class`` is a
  class defined in the package names a member of that class or of a base class;
- every relative Markdown link resolves to a file;
- every primitive in ``tinygrad_edu.ops`` has its rule documented in chapter 3.
"""
from __future__ import annotations

import ast
import functools
import importlib
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinygrad_edu.autograd.anomaly import ANOMALY_MODE
from tinygrad_edu.autograd.grad_mode import GRAD_MODE

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "tinygrad_edu"
RULES_CHAPTER = DOCS / "internals" / "03-backward-rules.md"


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ----------------------------------------------------------------------------------------
# Markdown parsing
# ----------------------------------------------------------------------------------------

# An opening fence: 3+ backticks (with no backtick after them: CommonMark's rule, which
# tells a fence from a line that starts with an inline span such as ```` ``` ````) or 3+ tildes.
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,}(?=[^`]*$)|~{3,})\s*(?P<info>\S*)")


def closes(line: str, ticks: str) -> bool:
    """Is ``line`` the closing fence of a block opened with ``ticks``?"""
    stripped = line.strip()
    return len(stripped) >= len(ticks) and stripped == ticks[0] * len(stripped)


def fenced_blocks(text: str) -> Iterator[tuple[str, int, str]]:
    """(language, first code line number, code) for every fenced block, in order."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        ticks, language = match["ticks"], match["info"].lower()
        start = index + 1
        end = start
        while end < len(lines) and not closes(lines[end], ticks):
            end += 1
        if end == len(lines):
            raise AssertionError(f"unclosed code fence opened at line {index + 1}")
        if match["indent"] and language == "python":
            raise AssertionError(f"line {index + 1}: an indented ```python fence is not run by this test; "
                                 f"start the fence at the beginning of the line")
        yield language, start + 1, "\n".join(lines[start:end]) + "\n"
        index = end + 1


def python_snippets(path: Path) -> list[tuple[int, str]]:
    return [(line, code) for language, line, code in fenced_blocks(path.read_text(encoding="utf-8"))
            if language == "python"]


def prose(text: str) -> str:
    """The text outside fenced code blocks (code references are checked in prose only)."""
    kept = []
    inside: str | None = None
    for line in text.splitlines():
        match = FENCE.match(line)
        if inside is None and match:
            inside = match["ticks"]
            kept.append("")
            continue
        if inside is not None and closes(line, inside):
            inside = None
            kept.append("")
            continue
        kept.append("" if inside is not None else line)
    return "\n".join(kept)


def code_spans(text: str) -> list[str]:
    """The contents of inline code spans (`...` and ``...``), outside fenced blocks."""
    spans = re.findall(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", prose(text).replace("\n", " "))
    return [content.strip() for _, content in spans]


# ----------------------------------------------------------------------------------------
# running the snippets
# ----------------------------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A temporary working directory, and the global switches restored afterwards."""
    monkeypatch.chdir(tmp_path)
    grad_mode, anomaly_mode = GRAD_MODE.enabled, ANOMALY_MODE.enabled
    try:
        yield
    finally:
        GRAD_MODE.enabled, ANOMALY_MODE.enabled = grad_mode, anomaly_mode


def run_snippets(path: Path) -> None:
    snippets = python_snippets(path)
    namespace: dict[str, Any] = {"__name__": "docs_" + re.sub(r"\W", "_", path.stem)}
    for number, (line, code) in enumerate(snippets, start=1):
        # Padding with newlines makes the traceback's line numbers those of the Markdown file.
        source = "\n" * (line - 1) + code
        try:
            exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - running our own docs
        except Exception:  # noqa: BLE001 - report any failure with its place in the docs
            pytest.fail(
                f"{relative(path)}: python snippet {number} of {len(snippets)} (starting at line {line}) "
                f"failed:\n{traceback.format_exc()}",
                pytrace=False,
            )


@pytest.mark.parametrize("path", doc_pages(), ids=relative)
def test_doc_snippets_run(path: Path, isolated: None) -> None:
    run_snippets(path)


def test_readme_snippets_run(isolated: None) -> None:
    readme = ROOT / "README.md"
    assert python_snippets(readme), "README.md has no ```python example"
    run_snippets(readme)


def test_docs_exist_and_have_snippets() -> None:
    pages = doc_pages()
    assert DOCS / "README.md" in pages, "docs/README.md (the index of the guide) is missing"
    without_code = [relative(page) for page in pages if page.parent != DOCS and not python_snippets(page)]
    assert not without_code, f"chapters with no runnable example: {without_code}"


# ----------------------------------------------------------------------------------------
# references to the code
# ----------------------------------------------------------------------------------------

REPO_PATH = re.compile(r"(?<![\w/.-])((?:tinygrad_edu|tests|examples|docs)(?:/[\w.-]+)+\.(?:py|md))")
CALL = r"(?:\([^()]*\))?"  # an optional argument list: `name`, `name()` and `name(x, dim)` all name `name`
PAIR = re.compile(rf"^(?P<path>(?:tinygrad_edu|tests|examples)/[\w/]+\.py):\s*(?P<names>[\w.]+{CALL}"
                  rf"(?:\s*,\s*[\w.]+{CALL})*)$")
DOTTED = re.compile(rf"^(?P<name>(?:tinygrad_edu|te)(?:\.\w+)+){CALL}$")
CLASS_MEMBER = re.compile(rf"^(?P<cls>[A-Z]\w*)\.(?P<member>\w+){CALL}$")
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


class ModuleIndex:
    """The names one source file defines, found with ``ast``: top-level functions, classes
    and assignments (imports too), and for each class its methods, class attributes,
    ``__slots__`` and ``self.x = ...`` attributes, and the names of its bases."""

    def __init__(self, path: Path) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self.names: set[str] = set()
        self.classes: dict[str, tuple[set[str], list[str]]] = {}
        for statement in tree.body:
            self.names.update(_bound_names(statement))
            if isinstance(statement, ast.ClassDef):
                self.classes[statement.name] = (_class_members(statement),
                                                [ast.unparse(base).split(".")[-1] for base in statement.bases])


def _bound_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    names = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
    return names


def _class_members(definition: ast.ClassDef) -> set[str]:
    members: set[str] = set()
    for statement in definition.body:
        members.update(_bound_names(statement))
        if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__slots__" for target in statement.targets):
            members.update(node.value for node in ast.walk(statement.value)
                           if isinstance(node, ast.Constant) and isinstance(node.value, str))
    for node in ast.walk(definition):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                    members.add(target.attr)
    return members


@functools.cache
def module_index(path: Path) -> ModuleIndex:
    return ModuleIndex(path)


@functools.cache
def package_classes() -> dict[str, list[ModuleIndex]]:
    """Class name -> the indexes of the package files that define a class of that name."""
    found: dict[str, list[ModuleIndex]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        index = module_index(path)
        for name in index.classes:
            found.setdefault(name, []).append(index)
    return found


def class_has_member(class_name: str, member: str, seen: frozenset[str] = frozenset()) -> bool:
    for index in package_classes().get(class_name, []):
        members, bases = index.classes[class_name]
        if member in members:
            return True
        if any(base not in seen and class_has_member(base, member, seen | {class_name}) for base in bases):
            return True
    return False


def defines(path: Path, name: str) -> bool:
    index = module_index(path)
    head, _, member = name.partition(".")
    if not member:
        return head in index.names
    return head in index.classes and class_has_member(head, member)


def resolve_dotted(name: str) -> bool:
    parts = ["tinygrad_edu" if part == "te" and position == 0 else part for position, part in enumerate(name.split("."))]
    for split in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                value = getattr(value, attribute)
        except AttributeError:
            return False
        return True
    return False


def pair_names(names: str) -> list[str]:
    """``"a, B.c(x, y), d()"`` -> ``["a", "B.c", "d"]``."""
    return re.findall(r"([\w.]+)" + CALL + r"\s*(?:,|$)", names)


def reference_problems(page: Path, text: str | None = None) -> list[str]:
    """Everything in ``page`` (or in ``text``, as if it were at ``page``) that names missing code."""
    if text is None:
        text = page.read_text(encoding="utf-8")
    problems = []
    for path in sorted(set(REPO_PATH.findall(prose(text)))):
        if not (ROOT / path).is_file():
            problems.append(f"path {path} does not exist")
    for span in code_spans(text):
        pair = PAIR.match(span)
        if pair:
            source = ROOT / pair["path"]
            if not source.is_file():
                continue  # reported above as a missing path
            for name in pair_names(pair["names"]):
                if not defines(source, name):
                    problems.append(f"`{span}`: {pair['path']} defines no {name}")
            continue
        dotted = DOTTED.match(span)
        if dotted:
            if not resolve_dotted(dotted["name"]):
                problems.append(f"`{span}` does not resolve")
            continue
        # `Class.member` is checked only when Class is a class of the package (not `x.grad`)
        member = CLASS_MEMBER.match(span)
        if member and member["cls"] in package_classes() and not class_has_member(member["cls"], member["member"]):
            problems.append(f"`{span}`: class {member['cls']} has no member {member['member']}")
    for link in LINK.finditer(prose(text)):
        target = link["target"].split("#")[0]
        is_relative = target and "://" not in target and not target.startswith("mailto:")
        if is_relative and not (page.parent / target).exists():
            problems.append(f"link ({link['target']}) does not resolve")
    return problems


@pytest.mark.parametrize("path", doc_pages(), ids=relative)
def test_doc_references_exist(path: Path) -> None:
    problems = reference_problems(path)
    assert not problems, f"{relative(path)} refers to code that does not exist:\n  " + "\n  ".join(problems)


def test_every_primitive_has_its_rule_documented() -> None:
    from tinygrad_edu import ops

    documented = set()
    for span in code_spans(RULES_CHAPTER.read_text(encoding="utf-8")):
        pair = PAIR.match(span)
        if pair and pair["path"].startswith("tinygrad_edu/ops/"):
            documented.update(pair_names(pair["names"]))
    missing = sorted(set(ops.__all__) - documented)
    assert not missing, (
        f"primitives without an entry (`tinygrad_edu/ops/<file>.py: Name`) in {relative(RULES_CHAPTER)}: {missing}"
    )


# ----------------------------------------------------------------------------------------
# the checker checks (a checker that accepts everything would pass the tests above)
# ----------------------------------------------------------------------------------------


def test_reference_checker_catches_stale_references() -> None:
    page = DOCS / "internals" / "probe.md"  # never written: the text is checked as if it were there
    text = (
        "See `tinygrad_edu/autograd/engine.py: topological_order, no_such_function` and "
        "`tinygrad_edu/no_such_file.py`, `tinygrad_edu.autograd.no_such_name`, `Node.no_such_member`, "
        "`Node.parents`, `Tensor.backward`, `Sum.apply`, `te.no_grad` and [a link](no_such_page.md).\n"
    )
    assert reference_problems(page, text) == [
        "path tinygrad_edu/no_such_file.py does not exist",
        ("`tinygrad_edu/autograd/engine.py: topological_order, no_such_function`: "
         "tinygrad_edu/autograd/engine.py defines no no_such_function"),
        "`tinygrad_edu.autograd.no_such_name` does not resolve",
        "`Node.no_such_member`: class Node has no member no_such_member",
        "link (no_such_page.md) does not resolve",
    ]


def test_snippet_extraction_keeps_line_numbers() -> None:
    text = (
        "intro\n\n```python\na = 1\n```\n\n````text\n```\nnot run\n````\n\n"
        "```` ```python ```` is inline code, not a fence\n\n```python\nassert a == 1\n```\n"
    )
    blocks = list(fenced_blocks(text))
    assert blocks == [("python", 4, "a = 1\n"), ("text", 8, "```\nnot run\n"), ("python", 15, "assert a == 1\n")]
    assert code_spans(text) == ["```python"]
