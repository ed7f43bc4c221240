"""Check the shipped Prometheus and Alertmanager configs with promtool and amtool.

The local Prometheus config is a template, so it is rendered with the test profile's values first.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from tools.devstack.config import REPO_ROOT, TEST
from tools.devstack.servers import Prometheus


def main() -> int:
    checks: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(TEST, run_dir=Path(tmp))
        prometheus = Prometheus(config)
        prometheus.home.mkdir(parents=True)
        prometheus.prepare()
        checks.append(["promtool", "check", "config", str(prometheus.home / "prometheus.yml")])
        checks.append(
            ["promtool", "check", "config", "--syntax-only", str(REPO_ROOT / "deploy/compose/prometheus.yml")]
        )
        rules = sorted((REPO_ROOT / "deploy/prometheus/rules").glob("*.yml"))
        if rules:
            checks.append(["promtool", "check", "rules", *map(str, rules)])
        tests = sorted((REPO_ROOT / "deploy/prometheus/tests").glob("*.yml"))
        if tests:
            checks.append(["promtool", "test", "rules", *map(str, tests)])
        checks.append(["amtool", "check-config", str(REPO_ROOT / "deploy/alertmanager/alertmanager.yml")])
        failed = 0
        for argv in checks:
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            print(f"{'ok  ' if result.returncode == 0 else 'FAIL'} {' '.join(argv)}")
            if result.returncode != 0:
                failed += 1
                print(result.stdout + result.stderr, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
