"""The `cors-lab` command: run, list, report, bench, doctor, install-browsers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from .browsers.base import BrowserUnavailable
from .browsers.discovery import (find_browsers, parse_capabilities, playwright_server_candidate, remote_candidate,
                                 select_browsers)
from .results import ResultsFile, cell_key, read_earlier
from .run import RunOptions, run_lab
from .backend.pinned import LocalBackends
from .pins import ENVS_DIR, Pin, choose_pins
from .scenario import Problem, ScenarioError, load_scenarios
from .terminal import Progress, clean, is_color, mismatches, summary, totals

BUILTIN_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cors-lab", description="What real browsers do with a Flask API's CORS configuration.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run scenarios in real browsers")
    run.add_argument("paths", nargs="*", type=Path, help="scenario files or folders (default: the built-in scenarios/)")
    run.add_argument("--browser", action="append", default=[], metavar="NAME", help="chromium, firefox or webkit; repeatable (default: every browser found)")
    _remote_options(run)
    run.add_argument("--out", type=Path, help="write the results JSON here (streamed while running)")
    run.add_argument("--resume", action="store_true", help="with --out: keep the cells an interrupted or killed run of the"
                     " same FILE measured, and run only the rest")
    _selection_options(run)
    run.add_argument("--shuffle", type=int, metavar="SEED", help="run scenarios and cases in a random order from SEED")
    run.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-case fetch timeout (default 10)")
    run.add_argument("--quiet", action="store_true", help="print only the totals line")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML: a testcase per cell, a failure per"
                     " unexpected outcome, an error per unexpected error or timeout")
    run.add_argument("--sarif", type=Path, metavar="FILE", help="also write SARIF 2.1.0 for code scanning (upload it with"
                     " github/codeql-action/upload-sarif): a result per unexpected cell, and one per attacker page that"
                     " reads a credentialed response in a security scenario or a scan file, even an expected one")
    topology = run.add_argument_group("browsers on other machines (the servers serve deliberately insecure CORS: see README)")
    topology.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS", help="address the origin servers listen on (default 127.0.0.1)")
    topology.add_argument("--host-suffix", default="localhost", metavar="SUFFIX",
                          help="serve app.localhost as app.SUFFIX, a name the remote browser resolves to --bind (default localhost)")
    topology.add_argument("--browser-arg", action="append", default=[], metavar="ENGINE=ARG",
                          help="an extra launch argument for a browser Playwright launches, for example"
                               " chromium=--host-resolver-rules=MAP *.lab.test 127.0.0.2; repeatable")
    run.add_argument("--instances", action="append", default=[], metavar="N|NAME=N",
                     help="browser instances per engine, side by side: 2, or firefox=2; repeatable"
                          " (default 1; firefox=2 for runs of 20 or more scenarios x pins)")
    pins = run.add_argument_group("version pins (default: the Flask and flask-cors installed here)")
    pins.add_argument("--pins", type=Path, metavar="FILE", help="run every [[pin]] of a pins file (see pins.toml)")
    pins.add_argument("--full", action="store_true", help="with --pins: the cross product of every version the file names")
    pins.add_argument("--flask", action="append", default=[], metavar="VERSION", help="Flask line or release; repeatable")
    pins.add_argument("--flask-cors", action="append", default=[], metavar="VERSION", help="flask-cors line or release; repeatable")
    pins.add_argument("--python", metavar="VERSION", help="with --flask/--flask-cors: the pins' Python (\"3.9\"; default: the"
                                                         " one running the lab); flask-cors before 3.0.8 needs 3.9")
    pins.add_argument("--envs", type=Path, default=None, metavar="DIR", help="where pin environments are kept (default .cors-lab/envs)")

    listing = commands.add_parser("list", help="list scenarios and their cases (validates them)")
    listing.add_argument("paths", nargs="*", type=Path)
    _selection_options(listing)

    report = commands.add_parser("report", help="merge results files into JSON, Markdown and HTML reports")
    report.add_argument("results", type=Path, nargs="+", help="results JSON files written by `cors-lab run --out`")
    report.add_argument("--json", type=Path, metavar="FILE", help="write the merged results here")
    report.add_argument("--markdown", type=Path, metavar="FILE", help="write Markdown tables here")
    report.add_argument("--html", type=Path, metavar="FILE", help="write the self-contained HTML report here")
    report.add_argument("--update", type=Path, metavar="MARKDOWN", help="replace the <!-- results:begin/end --> block in this file")
    report.add_argument("--summary", action="store_true", help="Markdown: one row per scenario instead of one per case")
    report.add_argument("--check", action="store_true", help="exit 1 when any merged cell is not as expected, listing"
                                                              " them (the merge step of a CI matrix)")
    report.add_argument("--releases", type=Path, metavar="MARKDOWN",
                        help="write what each flask-cors / Flask / Werkzeug release changed in the browsers (from a run of"
                             " pins-releases.toml and lab/changes.toml)")
    report.add_argument("--claims", type=Path, metavar="MARKDOWN",
                        help="write the claims table (claim, source, verdict, evidence), or update its marked block")

    diff = commands.add_parser("diff", help="list the cells whose outcome changed between two results files")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--html", type=Path, metavar="FILE", help="also write the changed cells side by side as a"
                      " self-contained HTML page")

    bench = commands.add_parser("bench", help="per-case cost of the lab against a plain Playwright loop and the in-page floor")
    bench.add_argument("paths", nargs="*", type=Path)
    bench.add_argument("--browser", action="append", default=[], metavar="NAME")
    _selection_options(bench)
    bench.add_argument("--scale", metavar="N,N,...", help="instead: run generated libraries of N cases each and print how"
                       " wall time, memory, threads, fds and processes grow (for example 100,1000,10000)")

    explain = commands.add_parser("explain", help="the story of one case in every browser: what was exchanged, the"
                                  " browser's reason, the standard's reason, what to change")
    explain.add_argument("target", metavar="SCENARIO[:CASE]", help="a scenario id (or its end) and optionally a case name (or part)")
    explain.add_argument("paths", nargs="*", type=Path, help="where the scenario is (default: the built-in scenarios/)")
    explain.add_argument("--browser", action="append", default=[], metavar="NAME")
    explain.add_argument("--results", type=Path, metavar="FILE", help="explain from a results file instead of running now")
    _remote_options(explain)

    scan = commands.add_parser("scan", help="write a scenario file from your own app's routes, expectations measured now")
    scan.add_argument("target", metavar="TARGET", help="the app: package.module:create_app() or package.module:app")
    scan.add_argument("--project", type=Path, default=Path("."), help="where the app is imported from (default: here)")
    scan.add_argument("--origin", action="append", default=[], metavar="[NAME=]ORIGIN", required=True,
                      help="an origin your frontend runs on, as the browser writes it (https://app.example.com); repeatable")
    scan.add_argument("--api", default="http://api.localhost", metavar="ORIGIN", help="where the app is served (default:"
                      " http://api.localhost with a port the lab assigns; for example https://api.example.com)")
    scan.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                      help="environment for the app ({NAME} of an origin allowed, for example FRONTEND_URL={app}); repeatable")
    scan.add_argument("--out", type=Path, default=Path("cors-scan.toml"), help="the scenario file to write (default cors-scan.toml)")
    scan.add_argument("--browser", action="append", default=[], metavar="NAME")
    _remote_options(scan)

    doctor = commands.add_parser("doctor", help="which browsers are usable here, how each is driven, what to install")
    _remote_options(doctor)
    commands.add_parser("install-browsers", help="install Playwright's browser builds, or the system's packages where downloads fail")
    return parser


def _remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webdriver", action="append", default=[], metavar="NAME=URL",
                        help="also use a browser behind a W3C WebDriver endpoint (safari=http://127.0.0.1:4444); repeatable")
    parser.add_argument("--webdriver-capabilities", metavar="JSON|@FILE", help="extra capabilities for --webdriver sessions")
    parser.add_argument("--connect", action="append", default=[], metavar="ENGINE=WS_URL",
                        help="also use a browser from a Playwright server (`playwright run-server`): chromium=ws://host:3000/")
    parser.add_argument("--connect-executable", action="append", default=[], metavar="ENGINE=PATH",
                        help="the browser binary on that server's machine (the server needs --unsafe)")


def _available(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Every browser found here plus the remote ones the options name (--webdriver, --connect)."""
    extra = parse_capabilities(args.webdriver_capabilities) if args.webdriver_capabilities else None
    remotes = [remote_candidate(spec, extra) for spec in args.webdriver]
    executables = dict(value.partition("=")[::2] for value in args.connect_executable)
    remotes += [playwright_server_candidate(spec, executables) for spec in args.connect]
    launch_args: Dict[str, List[str]] = {}
    for value in getattr(args, "browser_arg", []):
        engine, separator, argument = value.partition("=")
        if not separator or engine not in ("chromium", "firefox", "webkit"):
            raise ScenarioError([Problem(Path("command line"), 0, f"--browser-arg {value!r}: expected ENGINE=ARG")])
        launch_args.setdefault(engine, []).append(argument)
    return find_browsers(launch_args) + remotes


def _candidates(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    return select_browsers(args.browser, _available(args))


def _check_topology(args: argparse.Namespace) -> None:
    import ipaddress
    import re

    try:
        address = ipaddress.ip_address(args.bind)
    except ValueError:
        raise ScenarioError([Problem(Path("command line"), 0, f"--bind {args.bind!r} is not an IP address")]) from None
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", args.host_suffix):
        raise ScenarioError([Problem(Path("command line"), 0, f"--host-suffix {args.host_suffix!r} is not a host name")])
    if not address.is_loopback:
        print(f"cors-lab: WARNING: serving on {address}: every machine that reaches this address can use the scenario"
              " backends, which are deliberately misconfigured CORS APIs; use a private network", file=sys.stderr)


def _check_routable(scenarios: list, candidates: list) -> None:
    """Origins served as written reach only browsers the lab launched with its routing: say so before running."""
    unroutable = [c.name for c in candidates if not c.routable]
    if not unroutable:
        return
    problems = [Problem(s.path, o.line, f"origin {o.name} = {o.as_written!r} is served through the lab's routing (a proxy"
                                        f" it gives the browsers it launches), which {', '.join(unroutable)} cannot use;"
                                        " run it with local browsers, or write it as http(s)://NAME.localhost")
                for s in scenarios for o in s.origins.values() if o.as_written]
    if problems:
        raise ScenarioError(problems)


def _instances(values: List[str]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for value in values:
        name, _, number = value.rpartition("=")
        if not number.isdigit() or int(number) < 1:
            raise ScenarioError([Problem(Path("command line"), 0, f"--instances {value!r}: expected N or NAME=N with N >= 1")])
        counts[name or "*"] = int(number)
    return counts


def _pins(args: argparse.Namespace) -> List[Pin]:
    return choose_pins(args.pins, args.flask, args.flask_cors, args.python, args.full, LocalBackends().versions)


def _prepare_backends(pins: List[Pin], args: argparse.Namespace, scenarios: list) -> list:
    from .backend.pinned import prepare_backends

    return prepare_backends(pins, scenarios, args.envs or ENVS_DIR, max(30.0, args.timeout + 5),
                            lambda line: print(clean(line), file=sys.stderr, flush=True))


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--select", metavar="TEXT", help="only scenarios whose id contains TEXT")
    parser.add_argument("--group", action="append", default=[], metavar="GROUP", help="only this group (folder); repeatable")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="only scenarios with this tag (for example security); repeatable")


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def selected(scenario) -> bool:  # type: ignore[no-untyped-def]
        return ((not args.select or args.select in scenario.id)
                and (not args.group or scenario.group in args.group)
                and (not args.tag or bool(set(args.tag) & set(scenario.tags))))

    return load_scenarios(list(args.paths) or [BUILTIN_SCENARIOS], selected)


def _command_run(args: argparse.Namespace) -> int:
    scenarios = _load(args)
    if not scenarios:
        print(f"cors-lab: no scenario matches {args.select!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _check_topology(args)
    candidates = _candidates(args)
    _check_routable(scenarios, candidates)
    pins = _pins(args)
    started = time.perf_counter()
    backends = _prepare_backends(pins, args, scenarios) if pins else [LocalBackends()]
    earlier = None
    if args.resume:
        if args.out is None:
            raise ScenarioError([Problem(Path("command line"), 0, "--resume needs --out FILE (the run to complete)")])
        try:
            earlier = read_earlier(args.out)
        except (OSError, ValueError) as exc:
            raise ScenarioError([Problem(args.out, 0, f"cannot resume from it: {exc}")]) from exc
    done = frozenset(cell_key(row) for row in (earlier or {}).get("results", []))
    if earlier:
        print(f"resuming {args.out}: {len(done)} cells kept", file=sys.stderr)
    results = ResultsFile(args.out, earlier=earlier)
    results.set_pins([{"label": b.label, **b.versions, "error": b.error} for b in backends])
    results.set_claims([{"scenario": s.id, **claim.to_dict()} for s in scenarios for claim in s.claims])
    total = sum(len(s.cases) for s in scenarios) * len(candidates) * len(backends) - len(done)
    progress = Progress(results, total)
    completed = False
    try:
        # Firefox over BiDi costs ~4x per case what the others do: on a large run two Firefox instances even that
        # out (measured: the library 64 s -> 47 s, the default matrix 100 s -> 73 s); a small run keeps one launch.
        large = len(scenarios) * len(backends) >= 20
        instances = _instances(args.instances) if args.instances else ({"firefox": 2} if large else {})
        completed = run_lab(scenarios, candidates, RunOptions(args.timeout, args.shuffle, instances, done, args.bind,
                                                              args.host_suffix), progress, backends)
    finally:
        progress.close()
        results.finish(complete=completed)
        for backend in backends:
            backend.close()
    rows = results.cells
    browsers = [c.name for c in candidates]
    if not args.quiet:
        print(summary(rows, browsers, is_color(sys.stdout)))
        print()
    print(totals(rows, time.perf_counter() - started))
    for line in mismatches(rows):
        print(line)
    _ci_outputs(args, rows, scenarios, time.perf_counter() - started)
    if args.out:
        print(f"results: {args.out}")
    if not completed:
        print("interrupted: the results file holds every cell measured so far", file=sys.stderr)
        return 130
    return EXIT_OK if all(r["matched"] for r in rows) and rows else EXIT_MISMATCH


def _ci_outputs(args: argparse.Namespace, rows: list, scenarios: list, seconds: float) -> None:
    """JUnit XML with --junit; SARIF with --sarif; GitHub annotations on the cases' lines when running in GitHub Actions."""
    from .report.ci import github_annotations, junit_xml, locations

    where = locations(scenarios)
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(junit_xml(rows, where, seconds), encoding="utf-8")
        print(f"junit: {args.junit}")
    if args.sarif:
        from .report.sarif import sarif_log, untrusted_cases

        args.sarif.parent.mkdir(parents=True, exist_ok=True)
        args.sarif.write_text(json.dumps(sarif_log(rows, where, untrusted_cases(scenarios), Path.cwd()), indent=2) + "\n",
                              encoding="utf-8")
        print(f"sarif: {args.sarif}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(rows, where, Path.cwd()):
            print(line)


def _command_list(args: argparse.Namespace) -> int:
    scenarios = _load(args)
    groups: Dict[str, List] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.group or "(ungrouped)", []).append(scenario)
    for group, members in sorted(groups.items()):
        print(clean(f"{group}: {len(members)} scenarios, {sum(len(s.cases) for s in members)} cases"))
        for scenario in members:
            tags = f"  [{', '.join(scenario.tags)}]" if scenario.tags else ""
            print(clean(f"  {scenario.id}: {scenario.title}{tags}"))
            for condition, text in scenario.backend.start_error.items():
                print(clean(f"      (the app must not start if {condition}: {text!r})"))
            for case in scenario.cases:
                differences = "".join(f", {k}: {v}" for k, v in sorted(case.expect_per_browser.items()))
                differences += "".join(f", if {k}: {v}" for k, v in case.expect_by_version.items())
                print(clean(f"      {case.name}  -> {case.expect}{differences}"))
    claims = sum(len(s.claims) for s in scenarios)
    print(f"{len(scenarios)} scenarios, {sum(len(s.cases) for s in scenarios)} cases, {claims} claims, "
          f"in {len(groups)} group{'s' if len(groups) != 1 else ''}")
    return EXIT_OK


def _command_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose

    return EXIT_OK if diagnose(_available(args), sys.stdout) else EXIT_MISMATCH


def _command_report(args: argparse.Namespace) -> int:
    import json

    from .report.cells import ResultsInputError, load_document, merge
    from .report.html import html_report
    from .report.markdown import BEGIN, results_table, summary_table, update_between_markers

    try:
        document = merge([load_document(path) for path in args.results])
    except ResultsInputError as exc:
        print(f"cors-lab: {clean(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    command = " ".join(["cors-lab report", *map(str, args.results)] + (["--summary"] if args.summary else [])
                       + ([f"--update {args.update}"] if args.update else []))
    table = (summary_table if args.summary else results_table)(document, command)
    written = []
    for path, content in ((args.json, lambda: json.dumps(document, indent=1) + "\n"), (args.markdown, lambda: table),
                          (args.html, lambda: html_report(document))):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content(), encoding="utf-8")
            written.append(str(path))
    if args.claims:
        from .report.claims import claims_table

        claims = claims_table(document, " ".join(["cors-lab report", *map(str, args.results), f"--claims {args.claims}"]))
        if args.claims.exists() and BEGIN in args.claims.read_text(encoding="utf-8"):
            update_between_markers(args.claims, claims)
        else:
            args.claims.write_text(claims, encoding="utf-8")
        written.append(str(args.claims))
    if args.releases:
        from .report.releases import releases_markdown

        command_line = " ".join(["cors-lab report", *map(str, args.results), f"--releases {args.releases}"])
        args.releases.parent.mkdir(parents=True, exist_ok=True)
        args.releases.write_text(releases_markdown(document, command_line), encoding="utf-8")
        written.append(str(args.releases))
    if args.update:
        try:
            update_between_markers(args.update, table)
        except (OSError, ValueError) as exc:
            print(f"cors-lab: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        written.append(str(args.update))
    if written:
        print("wrote " + ", ".join(written))
    elif not args.check:
        print(table, end="")
    if args.check:
        rows = document["results"]
        unexpected = sum(1 for r in rows if not r["matched"])
        print(f"{len(rows)} cells in {len(args.results)} file(s): {len(rows) - unexpected} as expected, {unexpected} unexpected")
        for line in mismatches(rows):
            print(line)
        return EXIT_OK if rows and all(r["matched"] for r in rows) else EXIT_MISMATCH
    return EXIT_OK


def _command_diff(args: argparse.Namespace) -> int:
    from .report.cells import ResultsInputError, load_document
    from .report.diff import compare
    from .report.releases import upgrade_coverage

    try:
        old, new = load_document(args.old), load_document(args.new)
    except ResultsInputError as exc:
        print(f"cors-lab: {clean(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    comparison = compare(old, new)
    coverage = upgrade_coverage(old, new)
    for line in comparison.report() + coverage:
        print(clean(line))
    if args.html:
        from .report.diffhtml import diff_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(diff_html(comparison, coverage, str(args.old), str(args.new)), encoding="utf-8")
        print(f"html: {args.html}")
    return EXIT_MISMATCH if comparison.failed else EXIT_OK


def _command_explain(args: argparse.Namespace) -> int:
    import dataclasses

    from .explain import story
    from .report.cells import ResultsInputError, load_document

    scenario_part, _, case_part = args.target.partition(":")
    if scenario_part.endswith(".toml") and Path(scenario_part).is_file():  # a file path, as well as a scenario id
        from .scenario.load import LIBRARY, scenario_id

        args.paths = [Path(scenario_part)]
        scenario_part = scenario_id(Path(scenario_part), LIBRARY)

    def pick(ids: List[str]) -> Optional[str]:
        exact = [i for i in ids if i == scenario_part]
        ending = [i for i in ids if i.endswith("/" + scenario_part) or i.endswith(scenario_part)]
        return (exact or ending or [None])[0] if len(exact or ending) <= 1 else None

    if args.results:
        try:
            rows = load_document(args.results)["results"]
        except ResultsInputError as exc:
            print(f"cors-lab: {clean(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        chosen = pick(sorted({r["scenario"] for r in rows}))
        rows = [r for r in rows if r["scenario"] == chosen and case_part in r["case"]]
    else:
        args.select, args.group, args.tag = None, [], []
        scenarios = _load(args)
        chosen = pick([s.id for s in scenarios])
        scenario = next((s for s in scenarios if s.id == chosen), None)
        if scenario is None:
            rows = []
        else:
            cases = tuple(c for c in scenario.cases if case_part in c.name)
            if not cases:
                names = "\n  ".join(c.name for c in scenario.cases)
                print(clean(f"cors-lab: no case of {scenario.id} matches {case_part!r}; its cases:\n  {names}"), file=sys.stderr)
                return EXIT_BAD_INPUT
            results = ResultsFile(None)
            candidates = _candidates(args)
            run_lab([dataclasses.replace(scenario, cases=cases)], candidates, RunOptions(10.0),
                    Progress(results, len(cases) * len(candidates)))
            rows = results.cells
    if not rows:
        print(clean(f"cors-lab: no scenario matches {scenario_part!r} (use an id from `cors-lab list`, or a unique end of one)"),
              file=sys.stderr)
        return EXIT_BAD_INPUT
    by_case: Dict[str, List[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["case"], r["browser"], r.get("pin", ""))):
        by_case.setdefault(row["case"], []).append(row)
    for case_rows in by_case.values():
        for line in story(case_rows):
            print(clean(line))
        print()
    return EXIT_OK


def _command_scan(args: argparse.Namespace) -> int:
    from .scan import ScanError, scan_app

    problems: List[Problem] = []
    named: Dict[str, str] = {}
    for number, value in enumerate(args.origin, start=1):
        name, separator, origin = value.rpartition("=")
        named[name if separator else ("app" if number == 1 else f"app{number}")] = origin
    env = {}
    for value in args.env:
        name, separator, setting = value.partition("=")
        if not separator or not name:
            problems.append(Problem(Path("command line"), 0, f"--env {value!r}: expected NAME=VALUE"))
        env[name] = setting
    if problems:
        raise ScenarioError(problems)

    def browsers(scenarios: list) -> list:
        candidates = _candidates(args)
        _check_routable(scenarios, candidates)
        return candidates

    try:
        report = scan_app(args.target, args.project, named, args.api, env, args.out, browsers)
    except ScanError as exc:
        print(clean(f"cors-lab: {exc}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in report:
        print(clean(line))
    return EXIT_OK


def _command_bench(args: argparse.Namespace) -> int:
    from .bench import measure

    if args.scale:
        from .scale import measure_scale

        sizes = [int(n) for n in args.scale.split(",") if n.strip().isdigit()]
        if not sizes:
            print(f"cors-lab: --scale {args.scale!r}: expected numbers such as 100,1000", file=sys.stderr)
            return EXIT_BAD_INPUT
        candidates = select_browsers(args.browser, find_browsers())
        for point in measure_scale(sizes, candidates, RunOptions(10.0, None, {"firefox": 2})):
            print(point.line(), flush=True)
        return EXIT_OK
    scenarios = _load(args)
    results = [measure(scenarios, candidate) for candidate in select_browsers(args.browser, find_browsers())]
    for result in results:
        for line in result.lines():
            print(line)
    for result in results:
        print(result.ratios())
    return EXIT_OK


def _command_install_browsers(_: argparse.Namespace) -> int:
    from .install import install_browsers

    return install_browsers()


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # `cors-lab list | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return {"run": _command_run, "list": _command_list, "doctor": _command_doctor,
                "install-browsers": _command_install_browsers, "report": _command_report, "bench": _command_bench, "diff": _command_diff,
                "explain": _command_explain, "scan": _command_scan}[args.command](args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(clean(str(problem)), file=sys.stderr)
        count = len(exc.problems)
        print(f"cors-lab: {count} problem{'s' if count != 1 else ''} in scenario files", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrowserUnavailable as exc:
        print(f"cors-lab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
