"""Version pins: which Flask and flask-cors a backend runs with, and the environments that hold them.

A pin names a Flask line or release and a flask-cors line or release
(`3.1` means the newest 3.1.x, `3.1.2` exactly that). Werkzeug follows Flask's
line unless pinned, because Flask 2.x with an unbounded Werkzeug 3 does not
import at all, which would hide what flask-cors does.

Environments are made once per pin under `.cors-lab/envs/` (uv when it is
installed, venv + pip otherwise) and reused while the pin is unchanged.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from filelock import FileLock

from .scenario.load import Problem, ScenarioError, tomllib

VERSION = re.compile(r"\d+(\.\d+){0,2}")
ENVS_DIR = Path(".cors-lab") / "envs"


@dataclass(frozen=True)
class Pin:
    flask: str
    flask_cors: str
    werkzeug: Optional[str] = None
    python: Optional[str] = None

    @property
    def label(self) -> str:
        extra = (f" werkzeug {self.werkzeug}" if self.werkzeug else "") + (
            f" python {self.python}" if self.python else ""
        )
        return f"flask {_shown(self.flask)} / flask-cors {_shown(self.flask_cors)}{extra}"

    def requirements(self) -> List[str]:
        wanted = [_requirement("flask", self.flask), _requirement("flask-cors", self.flask_cors)]
        werkzeug = self.werkzeug or (None if _local(self.flask) else ".".join(self.flask.split(".")[:2]))
        return wanted + ([_requirement("werkzeug", werkzeug)] if werkzeug else [])

    @property
    def slug(self) -> str:
        # A local build is part of what went into the environment: its contents change the slug, so an edit rebuilds.
        packages = (self.flask, self.flask_cors)
        local = [_fingerprint(path) for path in map(_local, packages) if path]
        text = json.dumps([self.requirements(), self.python, local])
        names = [path.name + "-local" if path else value for value, path in zip(packages, map(_local, packages))]
        readable = re.sub(r"[^a-z0-9.]+", "-", f"flask-{names[0]}-cors-{names[1]}".lower())
        return f"{readable}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


LOCAL = "path:"
"""A pin's package given as a local source folder, wheel or sdist (`flask-cors = { path = "../flask-cors" }`)."""


def _local(value: str) -> Optional[Path]:
    """The path of a local build, or None for a release."""
    return Path(value[len(LOCAL) :]) if value.startswith(LOCAL) else None


def _shown(value: str) -> str:
    path = _local(value)
    return f"{path} (local)" if path else value


def _requirement(package: str, version: str) -> str:
    path = _local(version)
    if path:
        return f"{package} @ {path.as_uri()}"
    return f"{package}=={version}" if version.count(".") >= 2 else f"{package}=={version}.*"


def _fingerprint(path: Path) -> str:
    """What a local build is made of: a file's bytes, or a folder's file names, sizes and times (.git and caches aside)."""
    digest = hashlib.sha1()
    if path.is_file():
        digest.update(path.read_bytes())
    else:
        for item in sorted(path.rglob("*")):
            if item.is_file() and not {".git", "__pycache__", "build", "dist"} & set(item.relative_to(path).parts):
                stat = item.stat()
                digest.update(f"{item.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


@dataclass
class PinEnv:
    """A pin's ready environment, or the reason it could not be made."""

    pin: Pin
    python: Optional[str] = None
    error: Optional[str] = None
    versions: Dict[str, str] = field(default_factory=dict)


def _check_version(value: object, where: str, problems: List[str]) -> str:
    if not isinstance(value, str) or not VERSION.fullmatch(value):
        problems.append(
            f'{where}: {value!r} is not a version such as "3.1" or "3.1.2" (or {{ path = "DIR" }} for a local build)'
        )
        return "0"
    return value


def _check_package(value: object, where: str, problems: List[str], base: Path) -> str:
    """A release ("3.1", "6.0.5") or a local build: `{ path = "../flask-cors" }` in a pins file, a path on the
    command line (a source folder, a wheel or an sdist), relative to `base`."""
    if isinstance(value, dict):
        if set(value) != {"path"} or not isinstance(value["path"], str):
            problems.append(
                f'{where}: a local build is written {{ path = "../flask-cors" }} (a folder, a wheel or an sdist)'
            )
            return "0"
        value = value["path"]
        if not (base / value).exists():
            problems.append(f"{where}: path {value!r} does not exist (relative to {base})")
            return "0"
        return LOCAL + str((base / value).resolve())
    if isinstance(value, str) and not VERSION.fullmatch(value) and (base / value).exists():
        return LOCAL + str((base / value).resolve())
    return _check_version(value, where, problems)


def pins_from_lists(flask: Sequence[str], flask_cors: Sequence[str], python: Optional[str] = None) -> List[Pin]:
    """The cross product of Flask and flask-cors versions given on the command line (on one Python, if given)."""
    problems: List[str] = []
    interpreter = _check_version(python, "--python", problems) if python is not None else None
    here = Path.cwd()
    pins = [
        Pin(
            _check_package(f, "--flask", problems, here),
            _check_package(c, "--flask-cors", problems, here),
            python=interpreter,
        )
        for f, c in itertools.product(flask, flask_cors)
    ]
    if problems:
        raise ScenarioError([Problem(Path("command line"), 0, p) for p in problems])
    return pins


def load_pins(path: Path, full: bool = False) -> List[Pin]:
    """Pins from a TOML file: `[[pin]]` tables (the default matrix), or with `full` the cross product of
    every Flask and flask-cors version the file mentions."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(path, 0, f"cannot read pins file: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(path, 0, f"invalid TOML: {exc}")]) from exc
    problems: List[str] = []
    entries = data.get("pin", [])
    if not isinstance(entries, list) or not entries:
        problems.append("a pins file needs [[pin]] tables with flask and flask-cors")
        entries = []
    pins: List[Pin] = []
    for number, entry in enumerate(entries, start=1):
        where = f"[[pin]] #{number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table")
            continue
        unknown = set(entry) - {"flask", "flask-cors", "werkzeug", "python"}
        if unknown:
            problems.append(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected flask, flask-cors, werkzeug, python"
            )
        pins.append(
            Pin(
                flask=_check_package(entry.get("flask"), f"{where} flask", problems, path.parent),
                flask_cors=_check_package(entry.get("flask-cors"), f"{where} flask-cors", problems, path.parent),
                werkzeug=_check_version(entry["werkzeug"], f"{where} werkzeug", problems)
                if "werkzeug" in entry
                else None,
                python=_check_version(entry["python"], f"{where} python", problems) if "python" in entry else None,
            )
        )
    if problems:
        raise ScenarioError([Problem(path, 0, p) for p in problems])
    if full:
        flasks = sorted({p.flask for p in pins}, key=_version_key)
        corses = sorted({p.flask_cors for p in pins}, key=_version_key)
        pins = [Pin(f, c) for f, c in itertools.product(flasks, corses)]
    return pins


def _version_key(version: str) -> tuple:
    if version.startswith(LOCAL):
        return (10**6, version)  # local builds after every release
    return tuple(int(part) for part in version.split("."))


def _run(command: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)


def output_tail(text: str, lines: int = 6) -> str:
    """The last lines of a command's output on one line: what a user needs to see why it failed."""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


class InterpreterNotFound(Exception):
    """No working Python of the version a pin asks for."""


def find_interpreter(version: Optional[str]) -> str:
    """An interpreter of this version (`3.9` or `3.9.18`) that really runs.

    Names on PATH are not enough: a pyenv shim `python3.9` exists even when 3.9
    is not the active version, and fails when run (uv's own discovery stops on it).
    pythonfinder also looks in pyenv's and asdf's install folders, and each find
    is run once to make sure it answers with the right version.
    """
    if version is None:
        return sys.executable
    from pythonfinder import Finder

    found = Finder().find_python_version(version)
    candidates = [str(found.path)] if found is not None else []
    candidates += [c for c in (shutil.which(f"python{version}"),) if c]
    for candidate in candidates:
        try:
            done = _run([candidate, "-c", "import platform; print(platform.python_version())"])
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and (done.stdout.strip() + ".").startswith(version + "."):
            return candidate
    raise InterpreterNotFound(
        f"no working Python {version} found (looked on PATH and in pyenv's and asdf's versions); install it, for "
        f"example `uv python install {version}` or `pyenv install {version}`, or change the pin's python"
    )


def app_requirements(requirements: Sequence[str], project: Path) -> List[str]:
    """What the user's app needs: the scenario's `requirements`, else the project's requirements.txt, else its
    pyproject.toml dependencies (options such as `-e` or `-r` in requirements.txt are not followed)."""
    if requirements:
        return list(requirements)
    listed = project / "requirements.txt"
    if listed.is_file():
        lines = (line.split("#", 1)[0].strip() for line in listed.read_text(encoding="utf-8").splitlines())
        return [line for line in lines if line and not line.startswith("-")]
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            return list(tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("dependencies", []))
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError([Problem(pyproject, 0, f"invalid TOML: {exc}")]) from exc
    return []


def ensure_env(pin: Pin, root: Path = ENVS_DIR, extra: Sequence[str] = ()) -> PinEnv:
    """Create (or reuse) the pin's environment, with `extra` requirements (the apps under test need them) under
    the pin's own Flask, flask-cors and Werkzeug; failures become `PinEnv.error`, never exceptions."""
    extra = sorted(set(extra))
    suffix = "-app-" + hashlib.sha1(json.dumps(extra).encode()).hexdigest()[:8] if extra else ""
    directory = (root / (pin.slug + suffix)).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers and parallel CI steps may ask for the same environment at once: one builds, others wait.
    with FileLock(str(directory) + ".lock"):
        return _ensure_env(pin, directory, extra)


def _ensure_env(pin: Pin, directory: Path, extra: Sequence[str]) -> PinEnv:
    python = directory / "bin" / "python"
    marker = directory / "cors-lab-ready.json"
    if marker.exists() and python.exists():
        return PinEnv(pin, str(python), versions=json.loads(marker.read_text()))
    try:
        interpreter = find_interpreter(pin.python)
    except InterpreterNotFound as exc:
        return PinEnv(pin, error=f"could not install {pin.label}: {exc}")
    # The pin's versions override whatever the app's requirements say about Flask, flask-cors and Werkzeug.
    error = install_env(
        directory,
        interpreter,
        pin.requirements() + ["tomli>=2; python_version < '3.11'"],
        extra,
        overrides=pin.requirements(),
    )
    if error:
        return PinEnv(pin, error=f"could not install {pin.label}: {error}")
    probe = _run(
        [
            str(python),
            "-c",
            "import json, platform, importlib.metadata as m; print(json.dumps({"
            "'python': platform.python_version(), 'flask': m.version('flask'), "
            "'flask-cors': m.version('flask-cors'), 'werkzeug': m.version('werkzeug')}))",
        ]
    )
    if probe.returncode != 0:
        return PinEnv(pin, error=f"installed {pin.label} but could not read its versions: {output_tail(probe.stderr)}")
    versions = json.loads(probe.stdout)
    # Bytecode for the lab's own modules under this Python too (pip and uv compiled the packages): each pin host
    # imports them, and a machine with PYTHONDONTWRITEBYTECODE, or a read-only checkout, would compile them anew in
    # every run. Best effort: a checkout it cannot write to only costs start-up time.
    _run([str(python), "-m", "compileall", "-q", str(Path(__file__).resolve().parent)])
    marker.write_text(json.dumps(versions))
    return PinEnv(pin, str(python), versions=versions)


def uv_binary() -> Optional[str]:
    """uv, which builds environments with overrides (the pin's Flask over an app's own pin): the one the `uv` package
    installed with the lab (not always on PATH: pipx, a venv not activated), else one on PATH, else None (pip)."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except Exception:  # not installed, or its finder fails (TypeError where sysconfig has no EXE, in uv-made venvs)
        pass
    beside = Path(sys.executable).parent / "uv"  # where the uv package puts it in the lab's own environment
    return str(beside) if beside.is_file() else shutil.which("uv")


def install_env(
    directory: Path,
    interpreter: str,
    requirements: Sequence[str],
    extra: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> Optional[str]:
    """Make a fresh virtualenv at `directory` with `extra` (an app's requirements) and `requirements` on top, uv when
    installed (with `overrides` winning over what `extra` pins), venv + pip otherwise; None, or why it failed."""
    python = directory / "bin" / "python"
    if directory.exists():
        shutil.rmtree(directory)
    uv = uv_binary()
    if uv:
        command = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
        if overrides:
            listed = directory.parent / f"{directory.name}.overrides.txt"
            listed.write_text("\n".join(overrides) + "\n")
            command += ["--override", str(listed)]
        steps = [[uv, "venv", "--quiet", "--python", interpreter, str(directory)], command + [*requirements, *extra]]
    else:  # pip has no overrides: the app's requirements first, then the pin's versions on top
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps = (
            [[interpreter, "-m", "venv", str(directory)]]
            + ([pip + list(extra)] if extra else [])
            + ([pip + list(requirements)] if requirements else [])
        )
    for step in steps:
        try:
            done = _run(step)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode != 0:
            return output_tail(done.stderr or done.stdout)
    return None


def choose_pins(
    pins_file: Optional[Path],
    flask: Sequence[str],
    flask_cors: Sequence[str],
    python: Optional[str],
    full: bool = False,
    installed: Optional[Dict[str, str]] = None,
) -> List[Pin]:
    """The pins a command line asks for (a pins file, or --flask/--flask-cors lists); [] for the installed versions.

    `installed` fills the side not named (--flask-cors 6.0 alone keeps this Flask)."""
    if pins_file and (flask or flask_cors):
        raise ScenarioError([Problem(pins_file, 0, "use either --pins or --flask/--flask-cors, not both")])
    if python and not (flask or flask_cors):
        raise ScenarioError(
            [
                Problem(
                    Path("command line"),
                    0,
                    '--python goes with --flask/--flask-cors (a pins file says python = "3.9" per pin)',
                )
            ]
        )
    if pins_file:
        return load_pins(pins_file, full)
    if flask or flask_cors:
        installed = installed or {}
        return pins_from_lists(flask or [installed["flask"]], flask_cors or [installed["flask-cors"]], python)
    return []
