"""Load rule files, reporting every problem with the file it is in."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from citywatch.rules.model import Rule, RuleFile


class RuleLoadError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def rule_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]


def load_rules(path: Path) -> list[Rule]:
    """Every rule in a file or a directory of files; raises RuleLoadError listing all problems."""
    rules: list[Rule] = []
    problems: list[str] = []
    for file in rule_files(path):
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            rules.extend(RuleFile.model_validate(data).rules)
        except yaml.YAMLError as exc:
            problems.append(f"{file}: YAML syntax: {exc}")
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"{file}: {where}: {err['msg']}")
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            problems.append(f"{path}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    if problems:
        raise RuleLoadError(problems)
    return rules
