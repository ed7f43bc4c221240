"""Load rule files, reporting every problem with its file, line and column (`citywatch rules lint`).

A file is parsed twice from the same text: PyYAML's composed nodes keep each value's position, the constructed data
is what pydantic validates. Each rule is validated on its own, so one broken rule does not hide the problems of
the others; valid rules then go through `checks.rule_problems` and ids are compared across all files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citywatch.rule_engine.checks import Loc, family_problems, rule_problems
from citywatch.rule_engine.model import Rule
from citywatch.site_registry import Registry, RegistryError, load_registry


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str
    path: str = field(default="", compare=False)  # e.g. rules.0.condition.op

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class RuleLoadError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Loaded:
    rules: list[Rule]
    problems: list[Problem]


def rule_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def _node_at(root: yaml.Node, loc: Sequence[str | int], *, key: bool = False) -> yaml.Node:
    """The deepest node on the path (a missing key points at its parent); with `key`, a mapping key's own node."""
    node = root
    for n, part in enumerate(loc):
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == str(part):
                    child = k if key and n == len(loc) - 1 else v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            if "[" in str(part):
                continue  # pydantic names a union member inside the location, e.g. list[str]
            break
        node = child
    return node


def _problem(file: str, root: yaml.Node, loc: Loc, message: str, *, key: bool = False) -> Problem:
    mark = _node_at(root, loc, key=key).start_mark
    return Problem(file, mark.line + 1, mark.column + 1, message, _dotted(loc))


def _message(err: Any) -> str:
    text = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return f"unknown field {err['loc'][-1]!r}"
    if err["type"] == "missing":
        return f"missing field {err['loc'][-1]!r}"
    if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "op":
        return f"bad operator {err['input']!r}: expected one of >, >=, <, <="
    if err["type"] == "literal_error" and err["loc"] and isinstance(err["loc"][-1], str):
        return f"bad {err['loc'][-1]} {err['input']!r}: {text[:1].lower()}{text[1:]}"
    return text.removeprefix("Value error, ")


def load_file(file: Path, registry: Registry | None = None) -> Loaded:
    """The valid rules of one file and every problem found in it (no cross-file checks)."""
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        return Loaded([], [Problem(name, 1, 1, f"cannot read: {exc.strerror or exc}")])
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        return Loaded([], [Problem(name, line, column, f"YAML syntax: {reason}")])
    if root is None or not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        where = root if root is not None else yaml.ScalarNode("tag:yaml.org,2002:null", "")
        line = where.start_mark.line + 1 if where.start_mark else 1
        column = where.start_mark.column + 1 if where.start_mark else 1
        return Loaded([], [Problem(name, line, column, "a rule file is a mapping with a `rules:` list")])
    problems = list(_duplicate_keys(name, root))
    problems += [
        _problem(name, root, (k,), f"unknown field {k!r} (a rule file has only `rules:`)", key=True)
        for k in data
        if k != "rules"
    ]
    rules: list[Rule] = []
    for i, item in enumerate(data["rules"]):
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            seen: set[tuple[Loc, str]] = set()
            for err in exc.errors():
                loc: Loc = ("rules", i, *err["loc"])
                message = _message(err)
                if (loc, message) not in seen:
                    seen.add((loc, message))
                    problems.append(_problem(name, root, loc, message, key=err["type"] == "extra_forbidden"))
            continue
        if registry is not None:
            rule.bind(registry.all_sites())
        found = rule_problems(rule, registry)
        problems += [_problem(name, root, ("rules", i, *loc), message) for loc, message in found]
        rules.append(rule)
    return Loaded(rules, problems)


def _duplicate_keys(file: str, node: yaml.Node) -> Iterable[Problem]:
    """PyYAML keeps the last of two equal keys without a word; a rule file must not say a thing twice."""
    if isinstance(node, yaml.MappingNode):
        first: dict[object, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in first:
                    line = first[key.value].start_mark.line + 1
                    mark = key.start_mark
                    yield Problem(
                        file, mark.line + 1, mark.column + 1, f"duplicate key {key.value!r} (first at line {line})"
                    )
                first.setdefault(key.value, key)
            yield from _duplicate_keys(file, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(file, item)


def load_paths(paths: Iterable[Path], registry: Registry | None = None) -> Loaded:
    """Rules of every file (directories: their *.yaml / *.yml), with every problem, duplicate ids across files too."""
    rules: list[Rule] = []
    problems: list[Problem] = []
    first: dict[str, Problem] = {}
    for path in paths:
        for file in rule_files(path):
            loaded = load_file(file, registry)
            problems += loaded.problems
            positions = _id_positions(file)
            for rule in loaded.rules:
                line, column = positions.get(rule.id, (1, 1))
                here = Problem(str(file), line, column, "", f"id {rule.id}")
                if rule.id in first:
                    was = first[rule.id]
                    message = f"duplicate rule id {rule.id!r} (first at {was.file}:{was.line}:{was.column})"
                    problems.append(Problem(here.file, line, column, message, here.path))
                else:
                    first[rule.id] = here
                    rules.append(rule)
    for rule_id, messages in family_problems(rules).items():
        here = first[rule_id]
        problems += [Problem(here.file, here.line, here.column, message, here.path) for message in messages]
    return Loaded(rules, problems)


def _id_positions(file: Path) -> dict[str, tuple[int, int]]:
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    rules = _node_at(root, ("rules",)) if root is not None else None
    out: dict[str, tuple[int, int]] = {}
    for item in rules.value if isinstance(rules, yaml.SequenceNode) else []:
        node = _node_at(item, ("id",))
        if isinstance(node, yaml.ScalarNode) and node is not item:
            out.setdefault(str(node.value), (node.start_mark.line + 1, node.start_mark.column + 1))
    return out


def default_registry(registry_file: str | Path | None = None) -> Registry | None:
    """The site registry of the settings (CITYWATCH_REGISTRY_FILE), or None when that file does not exist."""
    if registry_file is None:
        from citywatch.settings import CommonSettings

        registry_file = CommonSettings().registry_file
    path = Path(registry_file)
    return load_registry(path) if path.exists() else None


def load_rules(path: Path, registry: Registry | None = None) -> list[Rule]:
    """Every rule in a file or a directory of files; raises RuleLoadError listing all problems.

    Label selectors are bound to `registry`, by default the settings' registry file (when it exists)."""
    if registry is None:
        try:
            registry = default_registry()
        except RegistryError as exc:
            raise RuleLoadError([f"registry: {p}" for p in exc.problems]) from None
    loaded = load_paths([path], registry)
    if loaded.problems:
        raise RuleLoadError(
            [f"{p.file}: {p.path}: {p.message}" if p.path else f"{p.file}: {p.message}" for p in loaded.problems]
        )
    unbound = [r.id for r in loaded.rules if r.needs_registry and registry is None]
    if unbound:
        raise RuleLoadError([f"{path}: rules {', '.join(unbound)} select sites by label but no registry was found"])
    return loaded.rules
