"""``evaldelta demo``, ``compare`` and ``gate`` as a user runs them, against a real server
on 127.0.0.1: the real CLI in a subprocess (and once on a real pseudo-terminal) for each
kind of outcome, and the same typer app in this process for the many variants of
thresholds and usage errors (real argument parsing and real HTTP, without paying a second
of interpreter start for each).

Every number the CLI prints is checked against what the API answers for the same
selection; exit codes are checked for passing, failing and broken gates.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import shlex
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from evaldelta.cli import report
from evaldelta.cli.compare import run_comparison
from evaldelta.cli.main import app
from evaldelta.client.http import Client
from evaldelta.server.routes import deltas as delta_routes
from tests.conftest import Server
from tests.support.sse import parse_events

BASE, BETTER, CHEAPER = "demo-baseline", "demo-better-prompt", "demo-cheaper-model"
SCORED_KEYS = {"correctness", "helpfulness", "latency_s"}  # "tone" has values, no scores
SELECT = ["--dataset", "demo", "--baseline", BASE]
MARKERS = set(report.MARKERS.values())
# Only the runs judged correct.
CORRECT_ONLY = 'and(eq(feedback_key, "correctness"), eq(feedback_score, 1))'


def environment(server: Server, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVALDELTA_", "LANGSMITH_", "LANGCHAIN_", "TTY_", "FORCE_"))
        and k not in ("NO_COLOR", "COLUMNS", "LINES")
    }
    return {**env, "LANGSMITH_ENDPOINT": server.url, "LANGSMITH_API_KEY": server.key, **overrides}


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", *args],
        env=environment(server, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_many(
    server: Server, cases: list[tuple[list[str], dict[str, str]]]
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent subprocesses at once."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda case: cli(server, *case[0], **case[1]), cases))


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def invoke(server: Server, *args: str, **env: str) -> Ran:
    """The ``evaldelta`` typer app in this process; a crash is re-raised, never taken for
    an exit code (an uncaught exception would look like exit 1, a failed gate)."""
    variables = {"LANGSMITH_ENDPOINT": server.url, "LANGSMITH_API_KEY": server.key, **env}
    result = CliRunner().invoke(app, list(args), env=variables)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B])")


def cli_on_a_tty(server: Server, *args: str) -> str:
    """Run the CLI with a real pseudo-terminal as its stdout (200 x 50); all it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "evaldelta.cli.main", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment(server, TERM="xterm-256color"),
        close_fds=True,
    )
    os.close(slave)
    output, deadline = bytearray(), time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
        assert process.wait(timeout=10) == 0, output.decode(errors="replace")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return output.decode()


@dataclass
class Demo:
    server: Server
    loaded: subprocess.CompletedProcess[str]
    dataset_id: str
    ids: dict[str, str]  # experiment name -> id

    def api_delta(
        self, key: str, against: list[str], filters: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """``/runs/delta`` with statistics, one page holding every example; by name."""
        body = {
            "baseline_session_id": self.ids[BASE],
            "comparison_session_ids": [self.ids[a] for a in against],
            "feedback_key": key,
            "include_stats": True,
            "filters": {self.ids[n]: f for n, f in (filters or {}).items()} or None,
            "limit": 100,
        }
        with self.server.http() as http:
            response = http.post(f"/datasets/{self.dataset_id}/runs/delta", json=body)
        assert response.status_code == 200, response.text
        deltas: dict[str, Any] = response.json()["feedback_deltas"]
        return {name: deltas[self.ids[name]] for name in against}


@pytest.fixture(scope="module")
def demo(shared_server: Server) -> Iterator[Demo]:
    loaded = cli(shared_server, "demo")
    assert loaded.returncode == 0, loaded.stderr
    with shared_server.http() as http:
        (dataset,) = http.get("/datasets", params={"name": "demo"}).json()
        sessions = http.get("/sessions", params={"reference_dataset": dataset["id"]}).json()
    yield Demo(shared_server, loaded, dataset["id"], {s["name"]: s["id"] for s in sessions})


def compare_json(demo: Demo, *args: str, in_subprocess: bool = False) -> dict[str, Any]:
    done = (cli if in_subprocess else invoke)(demo.server, "compare", *args, "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = orjson.loads(done.stdout)
    return data


def rows_by(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["key"], r["comparison"]): r for r in data["rows"]}


# --- demo ------------------------------------------------------------------------------------


def test_demo_loads_a_dataset_and_prints_commands_that_work(demo: Demo) -> None:
    assert "Loaded dataset demo (60 examples)" in demo.loaded.stdout
    assert set(demo.ids) == {BASE, BETTER, CHEAPER}
    with demo.server.http() as http:
        session = http.get(f"/sessions/{demo.ids[BETTER]}", params={"include_stats": True})
        configs = http.get("/feedback-configs", params={"key": "latency_s"}).json()
    stats = session.json()["feedback_stats"]
    assert set(stats) == SCORED_KEYS | {"tone"} and stats["tone"]["avg"] is None
    assert configs[0]["is_lower_score_better"] is True
    printed = [
        shlex.split(line, comments=True)
        for line in demo.loaded.stdout.splitlines()
        if line.strip().startswith("evaldelta ")
    ]
    assert [" ".join(p[:2]) for p in printed] == [
        "evaldelta compare",
        "evaldelta gate",
        "evaldelta gate",
    ]
    runs = cli_many(demo.server, [(p[1:], {}) for p in printed])
    assert [r.returncode for r in runs] == [0, 0, 1], [r.stderr for r in runs]
    assert "GATE PASSED" in runs[1].stderr and "GATE FAILED" in runs[2].stderr


def test_demo_twice_and_under_another_name(demo: Demo) -> None:
    """A name in use is refused before anything is written; another name loads a second
    demo whose experiments do not collide with the first one's."""
    with demo.server.http() as http:  # an experiment that a demo named "clash" would need
        elsewhere = http.post("/datasets", json={"name": "elsewhere"}).json()
        body = {"name": "clash-cheaper-model", "reference_dataset_id": elsewhere["id"]}
        assert http.post("/sessions", json=body).status_code == 200
    again = invoke(demo.server, "demo")
    clash = invoke(demo.server, "demo", "--name", "clash")
    other = invoke(demo.server, "demo", "--name", "other")
    assert again.returncode == 2 and "already exists; pass another --name" in again.stderr
    assert clash.returncode == 2
    assert "an experiment named 'clash-cheaper-model' already exists" in clash.stderr
    assert other.returncode == 0, other.stderr
    with demo.server.http() as http:
        assert len(http.get("/datasets", params={"name": "demo"}).json()) == 1
        assert http.get("/datasets", params={"name": "clash"}).json() == []
        assert http.get("/sessions", params={"name": "clash-baseline"}).json() == []
        (dataset,) = http.get("/datasets", params={"name": "other"}).json()
        sessions = http.get("/sessions", params={"reference_dataset": dataset["id"]}).json()
        assert len(http.get("/examples", params={"dataset": demo.dataset_id}).json()) == 60
    assert {s["name"] for s in sessions} == {
        "other-baseline",
        "other-better-prompt",
        "other-cheaper-model",
    }
    assert "evaldelta compare --dataset other --baseline other-baseline" in other.stdout


# --- compare: JSON, Markdown, the terminal table ---------------------------------------------


def test_compare_json_equals_the_api(demo: Demo) -> None:
    against = ["--against", BETTER, "--against", CHEAPER]
    data = compare_json(demo, *SELECT, *against, in_subprocess=True)
    assert (data["dataset"], data["baseline"], data["errors"]) == ("demo", BASE, [])
    rows = rows_by(data)
    assert set(rows) == {(k, e) for k in SCORED_KEYS for e in (BETTER, CHEAPER)}
    for key in SCORED_KEYS:
        api = demo.api_delta(key, [BETTER, CHEAPER])
        for experiment in (BETTER, CHEAPER):
            row, lists = rows[key, experiment], api[experiment]
            stats = lists["stats"]
            assert row["comparison_id"] == demo.ids[experiment]
            assert row["n_improved"] == len(lists["improved_examples"]) == stats["n_improved"]
            assert row["n_regressed"] == len(lists["regressed_examples"]) == stats["n_regressed"]
            assert row["n_unchanged"] == stats["n_unchanged"]
            assert row["n_paired"] == stats["n_paired"] == 60
            assert row["n_missing"] == stats["n_missing_baseline"] + stats["n_missing_comparison"]
            for name in ("mean_delta", "ci_low", "ci_high", "wilcoxon_p", "lower_is_better"):
                assert row[name] == stats[name], name
            assert row["p_value"] == stats["sign_test_p"]
    # The CLI's Holm adjustment is the one the stream's end event carries.
    body = {
        "baseline_session_id": demo.ids[BASE],
        "comparison_session_ids": [demo.ids[BETTER], demo.ids[CHEAPER]],
        "feedback_keys": sorted(SCORED_KEYS),
        "include_stats": True,
    }
    with demo.server.http() as http:
        raw = http.post(f"/datasets/{demo.dataset_id}/runs/delta/stream", json=body).content
    holm = orjson.loads(parse_events(raw)[-1].data or "")["holm_sign_test_p"]
    for (key, experiment), row in rows.items():
        assert row["p_holm"] == pytest.approx(holm[demo.ids[experiment]][key], rel=1e-12)


def test_verdicts_including_a_lower_is_better_key(demo: Demo) -> None:
    rows = rows_by(compare_json(demo, *SELECT, "--against", BETTER, "--against", CHEAPER))
    assert rows["correctness", BETTER]["verdict"] == "improved"
    assert rows["helpfulness", CHEAPER]["verdict"] == "regressed"
    assert rows["latency_s", BETTER]["verdict"] == "unclear"
    # Faster is better: the delta stays comparison − baseline (negative), the verdict flips.
    faster = rows["latency_s", CHEAPER]
    assert faster["lower_is_better"] is True and faster["mean_delta"] < 0
    assert faster["better_delta"] == -faster["mean_delta"] > 0
    assert faster["n_improved"] > faster["n_regressed"] and faster["verdict"] == "improved"
    for row in rows.values():
        assert row["verdict"] == "unclear" or row["p_holm"] < 0.05


def test_compare_markdown_has_one_row_per_key_and_experiment(demo: Demo) -> None:
    done = cli(
        demo.server, "compare", *SELECT, "--against", BETTER, "--against", CHEAPER, "--markdown"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("**demo**: experiments against `demo-baseline`\n")
    # The first table is the comparison's (the top regressed examples follow it).
    lines = done.stdout.splitlines()[2:]
    table = lines[: lines.index("")] if "" in lines else lines
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert cells[0] == report.HEADERS
    assert set(table[1]) == {"|", "-"}
    body = cells[2:]
    assert len(body) == len(SCORED_KEYS) * 2 and all(len(r) == len(report.HEADERS) for r in body)
    names = {(r[0].removesuffix(" (lower is better)"), r[1]) for r in body}
    assert names == {(k, e) for k in SCORED_KEYS for e in (BETTER, CHEAPER)}
    assert {r[-1] for r in body} <= MARKERS
    assert [r[0] for r in body if r[0].startswith("latency_s")] == [
        "latency_s (lower is better)"
    ] * 2
    assert ["helpfulness", CHEAPER, "▼ worse"] in [[r[0], r[1], r[-1]] for r in body]


def test_compare_on_a_real_terminal_streams_a_table(demo: Demo) -> None:
    """On a TTY the table is drawn as keys arrive (with a progress line), then left on
    screen with its verdict markers."""
    screen = ANSI.sub(
        "", cli_on_a_tty(demo.server, "compare", *SELECT, "--against", BETTER, "--against", CHEAPER)
    )
    for done in range(3):
        assert f"{done} of 3 keys compared" in screen, screen
    final = screen[screen.rindex("demo: against demo-baseline") :]
    assert "keys compared" not in final  # the last frame is the table alone
    lines = [line for line in final.splitlines() if "│" in line]
    row = {tuple(c.strip() for c in line.split("│")[1:3]): line for line in lines}
    assert "▲ better" in row["correctness", BETTER]
    assert "▼ worse" in row["helpfulness", CHEAPER]
    assert "▲ better" in row["latency_s (lower is better)", CHEAPER]
    assert "· no clear change" in row["latency_s (lower is better)", BETTER]


def test_table_in_a_recording_console(demo: Demo) -> None:
    client = Client(demo.server.url, demo.server.key)
    try:
        result = run_comparison(client, "demo", BASE, [BETTER, CHEAPER], None, None, 0.05, False)
    finally:
        client.close()
    console = Console(
        file=io.StringIO(), record=True, width=200, force_terminal=True, color_system="standard"
    )
    console.print(report.table(result))
    text = console.export_text(clear=False)
    assert "demo: against demo-baseline" in text
    assert sum(marker in line for line in text.splitlines() for marker in MARKERS) == 6
    styled = console.export_text(styles=True)
    worse = next(line for line in styled.splitlines() if "▼ worse" in line)
    assert "\x1b[1;31m" in worse  # a significant regression is bold red


# --- gate --------------------------------------------------------------------------------------


GATES: list[tuple[list[str], int, str]] = [
    (["--against", BETTER], 0, "GATE PASSED"),
    (["--against", CHEAPER], 1, "helpfulness in demo-cheaper-model: significant regression"),
    (["--against", BETTER, "--max-regressed", "0"], 1, "examples regressed (allowed: 0)"),
    (["--against", BETTER, "--max-regressed", "100"], 0, "GATE PASSED"),
    # A per-key threshold overrides the default one.
    (
        [
            "--against",
            BETTER,
            "--max-regressed",
            "0",
            "--max-regressed",
            "correctness=50",
            "--max-regressed",
            "helpfulness=50",
            "--max-regressed",
            "latency_s=50",
        ],
        0,
        "GATE PASSED",
    ),
    (["--against", BETTER, "--max-regressed", "latency_s=5"], 1, "latency_s in demo-better"),
    (
        ["--against", BETTER, "--min-mean-delta", "correctness=0.5"],
        1,
        "correctness in demo-better-prompt: mean change +0.2417",
    ),
    (["--against", BETTER, "--min-mean-delta", "correctness=0.1"], 0, "GATE PASSED"),
    # Cheaper is less correct, but not significantly so: passes on these keys...
    (["--against", CHEAPER, "--key", "correctness", "--key", "latency_s"], 0, "GATE PASSED"),
    # ...unless the drop itself is bounded.
    (
        ["--against", CHEAPER, "--key", "correctness", "--min-mean-delta", "-0.01"],
        1,
        "mean change -0.0833",
    ),
    # Lower is better: 1.6 s faster is +1.6 in the better direction.
    (
        ["--against", CHEAPER, "--key", "latency_s", "--min-mean-delta", "latency_s=1"],
        0,
        "GATE PASSED",
    ),
    (
        ["--against", CHEAPER, "--key", "latency_s", "--min-mean-delta", "latency_s=2"],
        1,
        "latency_s in demo-cheaper-model: mean change +1.5",
    ),
    # A key nobody scored in both experiments is not a pass.
    (["--against", CHEAPER, "--key", "tone"], 1, "tone in demo-cheaper-model: no example"),
]


@pytest.mark.parametrize(("args", "code", "said"), GATES)
def test_gate_exit_codes_and_thresholds(demo: Demo, args: list[str], code: int, said: str) -> None:
    done = invoke(demo.server, "gate", *SELECT, *args)
    assert (done.returncode, said in done.stderr) == (code, True), done.stderr
    assert ("GATE FAILED" if code else "GATE PASSED") in done.stderr


def test_gate_json_and_markdown_carry_the_outcome(demo: Demo) -> None:
    as_json = invoke(demo.server, "gate", *SELECT, "--against", CHEAPER, "--json")
    as_markdown = invoke(demo.server, "gate", *SELECT, "--against", CHEAPER, "--markdown")
    assert as_json.returncode == as_markdown.returncode == 1
    gate = orjson.loads(as_json.stdout)["gate"]
    assert gate["passed"] is False and any("helpfulness" in r for r in gate["reasons"])
    assert "**Gate: failed**" in as_markdown.stdout
    assert "- helpfulness in demo-cheaper-model: significant regression" in as_markdown.stdout


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_usage_and_connection_errors_exit_2(demo: Demo) -> None:
    with demo.server.http() as http:  # an experiment, but on another dataset
        elsewhere = http.post("/datasets", json={"name": f"elsewhere-{uuid4().hex[:6]}"}).json()
        stranger = http.post(
            "/sessions",
            json={"name": f"stranger-{uuid4().hex[:6]}", "reference_dataset_id": elsewhere["id"]},
        ).json()
    cases: list[tuple[list[str], dict[str, str], str]] = [
        (
            ["--dataset", "nope", "--baseline", BASE, "--against", BETTER],
            {},
            "no dataset named 'nope'",
        ),
        ([*SELECT, "--against", "nope"], {}, "no experiment named 'nope'"),
        ([*SELECT, "--against", str(uuid4())], {}, "404"),
        ([*SELECT, "--against", stranger["name"]], {}, "is not an experiment on this dataset"),
        ([*SELECT, "--against", BETTER], {"LANGSMITH_API_KEY": "evd_wrong"}, "401"),
        ([*SELECT, "--against", BETTER], {"LANGSMITH_API_KEY": ""}, "no API key"),
        (
            [*SELECT, "--against", BETTER],
            {"LANGSMITH_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"},
            "cannot reach",
        ),
        ([*SELECT], {}, "Missing option '--against'"),
        (
            [*SELECT, *[a for _ in range(11) for a in ("--against", BETTER)]],
            {},
            "give 1 to 10 experiments",
        ),
        (
            [*SELECT, "--against", BETTER, "--filter", "no-equals-sign"],
            {},
            "expected EXPERIMENT=EXPR",
        ),
        # The server's 422 names the session by id; the CLI says it by name.
        (
            [*SELECT, "--against", BETTER, "--filter", f"{BETTER}=eq(name"],
            {},
            f"filter 0 of session {BETTER}",
        ),
        ([*SELECT, "--against", BETTER, "--max-regressed", "many"], {}, "expected N or KEY=N"),
        (
            [*SELECT, "--against", BETTER, "--min-mean-delta", "correctnes=0.1"],
            {},
            "no key 'correctnes' among the compared keys",
        ),
        ([*SELECT, "--against", BETTER, "--alpha", "5"], {}, "--alpha"),
    ]
    runs: list[tuple[list[str], str, Ran | subprocess.CompletedProcess[str]]] = []
    for command in ("gate", "compare"):
        for args, env, said in cases:
            if command == "compare" and {"--max-regressed", "--min-mean-delta"} & set(args):
                continue  # gate's options
            runs.append(([command, *args], said, invoke(demo.server, command, *args, **env)))
    # And as separate processes: exit code 2 from a real interpreter, not from a test runner.
    real = [cases[4], cases[6], cases[7]]
    done = cli_many(demo.server, [(["gate", *args], env) for args, env, _ in real])
    runs += [(["gate", *a], said, d) for (a, _, said), d in zip(real, done, strict=True)]
    for args, said, ran in runs:
        output = " ".join(ran.stderr.replace("│", " ").split())  # unwrap rich's error box
        assert (ran.returncode, said in output) == (2, True), (args, ran.stderr)
        assert "Traceback" not in ran.stderr and ran.stdout == "", args


# --- selection: filters, ids, keys ---------------------------------------------------------------


def test_filter_restricts_runs_as_the_api_does(demo: Demo) -> None:
    by_name, by_id = (
        compare_json(demo, *SELECT, "--against", CHEAPER, "--filter", f"{who}={CORRECT_ONLY}")
        for who in (CHEAPER, demo.ids[CHEAPER])
    )
    unfiltered = compare_json(demo, *SELECT, "--against", CHEAPER)
    assert by_name["rows"] == by_id["rows"]  # the filter's experiment by name or by id
    for row in by_name["rows"]:
        lists = demo.api_delta(row["key"], [CHEAPER], {CHEAPER: [CORRECT_ONLY]})[CHEAPER]
        assert row["n_improved"] == len(lists["improved_examples"])
        assert row["n_regressed"] == len(lists["regressed_examples"])
        stats = lists["stats"]
        assert row["n_missing"] == stats["n_missing_comparison"] > 0  # never right: gone
        assert (row["n_paired"], row["mean_delta"]) == (stats["n_paired"], stats["mean_delta"])
    # Only its correct runs count: the cheaper model can no longer be less correct.
    filtered = rows_by(by_name)["correctness", CHEAPER]
    assert filtered["n_regressed"] == 0 < rows_by(unfiltered)["correctness", CHEAPER]["n_regressed"]


def test_experiments_and_dataset_by_id(demo: Demo) -> None:
    by_name = compare_json(demo, *SELECT, "--against", BETTER, "--against", CHEAPER)
    by_id = compare_json(
        demo,
        "--dataset",
        demo.dataset_id,
        "--baseline",
        demo.ids[BASE],
        "--against",
        demo.ids[BETTER],
        "--against",
        demo.ids[CHEAPER],
    )
    assert by_id == by_name


def test_explicit_keys_and_the_categorical_key(demo: Demo) -> None:
    data = compare_json(demo, *SELECT, "--against", CHEAPER, "--key", "latency_s", "--key", "tone")
    rows = rows_by(data)
    assert set(rows) == {("latency_s", CHEAPER), ("tone", CHEAPER)}
    tone = rows["tone", CHEAPER]
    assert (tone["n_paired"], tone["mean_delta"], tone["verdict"]) == (0, None, "unclear")
    # One real test, not two: Holm over one p-value leaves it as it is.
    assert rows["latency_s", CHEAPER]["p_holm"] == rows["latency_s", CHEAPER]["p_value"]


# --- what goes wrong on the server's side ----------------------------------------------------


def _break_key(monkeypatch: pytest.MonkeyPatch, server: Server, broken: str) -> None:
    """The server's store fails on one key; the stream reports it in band."""
    store = server.app.state.store
    original = store.delta

    def delta(query: Any, key: str, **kwargs: Any) -> Any:
        if key == broken:
            raise RuntimeError(f"the disk is on fire [{key}] | sda1")
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", delta)


def test_a_key_that_errors_in_band_is_an_error_row_and_fails_the_gate(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_key(monkeypatch, demo.server, "helpfulness")
    as_json = invoke(demo.server, "compare", *SELECT, "--against", BETTER, "--json")
    as_markdown = invoke(demo.server, "compare", *SELECT, "--against", BETTER, "--markdown")
    gate = invoke(demo.server, "gate", *SELECT, "--against", BETTER)
    assert as_json.returncode == as_markdown.returncode == 0, as_json.stderr
    data = orjson.loads(as_json.stdout)
    assert {r["key"] for r in data["rows"]} == {"correctness", "latency_s"}
    assert data["errors"] == [
        {
            "feedback_keys": ["helpfulness"],
            "error": "RuntimeError: the disk is on fire [helpfulness] | sda1",
        }
    ]
    error_row = [line for line in as_markdown.stdout.splitlines() if "disk is on fire" in line]
    assert len(error_row) == 1 and error_row[0].startswith("| helpfulness |")
    assert error_row[0].count(" | ") == len(report.HEADERS) - 1  # the "|" in it is escaped
    assert error_row[0].endswith(
        "| error: RuntimeError: the disk is on fire [helpfulness] \\| sda1 |"
    )
    assert gate.returncode == 1
    assert "helpfulness: could not be computed (RuntimeError: the disk is on fire" in gate.stderr
    # The terminal table shows it too, as a red row with the server's words (not markup).
    client = Client(demo.server.url, demo.server.key)
    try:
        result = run_comparison(client, "demo", BASE, [BETTER], None, None, 0.05, False)
    finally:
        client.close()
    console = Console(file=io.StringIO(), record=True, width=200)
    console.print(report.table(result))
    assert "error: RuntimeError: the disk is on fire [helpfulness] | sda1" in console.export_text()


def test_a_stream_cut_before_its_end_event_is_not_a_pass(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = delta_routes.stream_deltas

    async def without_end(*args: Any, **kwargs: Any) -> Any:
        async for chunk in real(*args, **kwargs):
            if not chunk.startswith(b"event: end"):
                yield chunk

    monkeypatch.setattr(delta_routes, "stream_deltas", without_end)
    done = invoke(demo.server, "gate", *SELECT, "--against", BETTER)
    assert done.returncode == 2, done.stderr
    assert "the delta stream ended early (3 of 3 keys, no end event)" in done.stderr


def test_progress_reaches_the_client_while_keys_are_computed(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a slow key, the first rows are on screen before the stream ends."""
    store = demo.server.app.state.store
    original = store.delta

    def slow(query: Any, key: str, **kwargs: Any) -> Any:
        if key == "latency_s":
            time.sleep(1.5)
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", slow)
    client = Client(demo.server.url, demo.server.key)
    seen: list[tuple[float, str]] = []
    body = {
        "baseline_session_id": demo.ids[BASE],
        "comparison_session_ids": [demo.ids[BETTER]],
        "feedback_keys": ["correctness", "latency_s"],
        "include_stats": True,
    }
    start = time.monotonic()
    try:
        for event in client.stream_deltas(demo.dataset_id, body):
            seen.append((time.monotonic() - start, event.event))
    finally:
        client.close()
    assert [e for _, e in seen] == ["data", "data", "end"]
    # Buffered, both would arrive together; streamed, the first is 1.5 s ahead.
    assert seen[1][0] - seen[0][0] > 1.0


def test_client_parses_what_the_server_streams(demo: Demo) -> None:
    """The CLI's SSE parser and the strict test parser agree on a real stream."""
    body = {
        "baseline_session_id": demo.ids[BASE],
        "comparison_session_ids": [demo.ids[BETTER], demo.ids[CHEAPER]],
        "feedback_keys": sorted(SCORED_KEYS),
        "include_stats": True,
    }
    with httpx.Client(base_url=demo.server.url, headers={"x-api-key": demo.server.key}) as http:
        raw = http.post(f"/datasets/{demo.dataset_id}/runs/delta/stream", json=body).content
    client = Client(demo.server.url, demo.server.key)
    try:
        events = list(client.stream_deltas(demo.dataset_id, body))
    finally:
        client.close()
    strict = parse_events(raw)
    assert [e.event for e in events] == [e.event for e in strict]
    assert [e.data for e in events] == [orjson.loads(e.data or "") for e in strict]


def test_compare_waits_for_a_stream_slot_when_the_tenant_holds_its_limit(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one stream allowed and one open, a second compare is told 429, says it waits,
    and finishes with the full answer once the first stream ends."""
    from evaldelta.server.stream_limits import StreamLimits

    registry = demo.server.app.state.streams
    monkeypatch.setattr(registry, "limits", StreamLimits(max_streams_per_tenant=1))
    store = demo.server.app.state.store
    original = store.delta

    def slow(query: Any, key: str, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", slow)
    body = {
        "baseline_session_id": demo.ids[BASE],
        "comparison_session_ids": [demo.ids[BETTER]],
        "feedback_keys": sorted(SCORED_KEYS),
    }
    first = Client(demo.server.url, demo.server.key)
    try:
        held = first.stream_deltas(demo.dataset_id, body)
        assert next(held).event == "data"  # the first stream now holds the only slot
        done = invoke(demo.server, "compare", *SELECT, "--against", BETTER, "--json")
        assert [e.event for e in held] == ["data", "data", "end"]
    finally:
        first.close()
    assert done.returncode == 0, done.stderr
    assert "the server is busy" in done.stderr and "retrying in 2 s" in done.stderr
    assert {row["key"] for row in orjson.loads(done.stdout)["rows"]} == SCORED_KEYS
