"""Install what the local stack needs, when it is missing: Debian packages and the Kafka jars.

Nothing here is installed by hand on a new machine: `citywatch stack install` (run by `make up` and
`make test`) is the one place, and it is idempotent.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from tools.devstack.config import REPO_ROOT, RUN_ROOT

# command on PATH -> Debian package that provides it
APT_PACKAGES: dict[str, str] = {
    "redis-server": "redis-server",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "chromium": "chromium",  # the browser tests of the on-call page and the API docs (headless)
}


class InstallError(RuntimeError):
    pass


# file a package installs -> that package, for packages without a command (the report's CJK font)
APT_FILES: dict[str, str] = {
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc": "fonts-noto-cjk",
}


# shared library WeasyPrint loads -> its package (the report's PDF)
APT_LIBRARIES: dict[str, str] = {
    "pango-1.0": "libpango-1.0-0",
    "pangoft2-1.0": "libpangoft2-1.0-0",
}


def missing_packages() -> list[str]:
    by_command = {pkg for cmd, pkg in APT_PACKAGES.items() if shutil.which(cmd) is None}
    by_file = {pkg for path, pkg in APT_FILES.items() if not os.path.exists(path)}
    by_library = {pkg for lib, pkg in APT_LIBRARIES.items() if ctypes.util.find_library(lib) is None}
    return sorted(by_command | by_file | by_library)


def ensure_apt_packages(say: Callable[[str], None] = print) -> None:
    packages = missing_packages()
    if not packages:
        return
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        raise InstallError(f"missing {' '.join(packages)}; install them with apt-get (needs root)")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing Debian packages: {' '.join(packages)}")
    _run([*prefix, "apt-get", "update", "-qq"], env)
    _run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env)
    # Debian's packages start their services on install where an init system runs; the stack runs its own.
    for service in ("redis-server", "prometheus", "prometheus-alertmanager"):
        subprocess.run([*prefix, "service", service, "stop"], capture_output=True, check=False)


def ensure_kafka_jars(say: Callable[[str], None] = print) -> None:
    libs = RUN_ROOT / "kafka-libs"
    pom = REPO_ROOT / "deploy/local/kafka/pom.xml"
    stamp = libs / ".pom"
    if stamp.exists() and stamp.read_text() == pom.read_text():
        return
    say(f"fetching the Kafka broker jars from Maven Central into {libs}")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        dict(os.environ),
    )
    stamp.write_text(pom.read_text())


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0:
        raise InstallError(f"`{' '.join(argv)}` failed with exit code {result.returncode}; see the output above")


def install_all(say: Callable[[str], None] = print) -> None:
    ensure_apt_packages(say)
    ensure_kafka_jars(say)
