"""Install the browsers the lab drives: Playwright's own builds where they can be
downloaded, the system's packages (Debian / Ubuntu) otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Dict, List, Sequence

from .browsers.discovery import find_browsers

APT_PACKAGES: Dict[str, Sequence[str]] = {
    "chromium": ("chromium",),
    "firefox": ("firefox-esr",),
    "webkit": ("webkit2gtk-driver", "xvfb"),  # WebKitGTK's MiniBrowser over WebDriver, on a virtual display
}


def _run(command: List[str]) -> int:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command).returncode


def _missing(engines: Sequence[str]) -> List[str]:
    found = {c.name for c in find_browsers()}
    return [e for e in engines if e not in found]


def install_browsers(engines: Sequence[str] = ("chromium", "firefox", "webkit")) -> int:
    """Make every engine in `engines` usable; 0 on success, 1 with instructions otherwise."""
    missing = _missing(engines)
    if not missing:
        print(f"browsers already installed: {', '.join(engines)}")
        return 0
    print(f"installing Playwright's builds of: {', '.join(missing)}")
    _run([sys.executable, "-m", "playwright", "install", *missing])
    missing = _missing(missing)
    if not missing:
        return 0
    print(f"Playwright's builds could not be installed for: {', '.join(missing)}; using the system's packages")
    packages = [p for engine in missing for p in APT_PACKAGES[engine]]
    if not shutil.which("apt-get"):
        print(f"no apt-get here: install {', '.join(missing)} with your system's package manager", file=sys.stderr)
        return 1
    prefix = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if prefix is None:
        print(f"not root and no sudo: run as root: apt-get install -y {' '.join(packages)}", file=sys.stderr)
        return 1
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (prefix + ["apt-get", "update", "-qq"], prefix + ["apt-get", "install", "-y", "-qq", *packages]):
        print("+ " + " ".join(command), flush=True)
        if subprocess.run(command, env=environment).returncode != 0:
            print("apt-get failed; see its output above", file=sys.stderr)
            return 1
    missing = _missing(missing)
    if missing:
        print(f"still missing after installing: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0
