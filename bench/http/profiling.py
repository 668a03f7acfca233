"""py-spy on the server under load, and a summary of where its CPU time goes.

py-spy writes collapsed stacks ("frame;frame;… count", which speedscope.app also opens); the
summary attributes every sample to layers (self time by the package of the innermost Python
frame) and counts the inclusive share of every file and function on the stack.

    uv run python -m bench.http.profiling bench/results/profile-get.txt
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Frame text from py-spy's raw format: "function (path/to/file.py:line)".
_FRAME: Final = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
_PROJECT_LAYERS: Final = ("interfaces", "application", "domain", "infrastructure")
_PACKAGES: Final = (
    "sqlmodel",
    "sqlalchemy",
    "asyncpg",
    "fastapi",
    "pydantic_core",
    "pydantic",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "dependency_injector",
    "anyio",
    "orjson",
    "greenlet",
    "typer",
)
_STDLIB_PACKAGES: Final = frozenset({"concurrent", "json", "http", "logging", "email", "urllib"})
#: A sample holding the GIL in C code called from no Python frame but the loop's `run`: uvloop
#: itself and the C/Cython callbacks it runs (httptools parsing, asyncpg's protocol).
NO_PYTHON_FRAME: Final = "event loop and C extensions (uvloop, httptools, asyncpg protocol)"
_LOOP_ENTRY: Final = ("Runner.run", "BaseEventLoop.run_forever", "BaseEventLoop.run_until_complete")
#: Where a sample's time goes: the innermost frame that matches a rule names the bucket (the
#: standard library is transparent, so `uuid4` counts for whoever called it), except for the
#: thread hand-off and event loop modules, which are buckets of their own.
BUCKETS: Final = (
    ("threading.py", "thread hand-offs (sync code run via run_in_threadpool)"),
    ("queue.py", "thread hand-offs (sync code run via run_in_threadpool)"),
    ("concurrent/", "thread hand-offs (sync code run via run_in_threadpool)"),
    ("anyio/", "thread hand-offs (sync code run via run_in_threadpool)"),
    ("starlette/concurrency.py", "thread hand-offs (sync code run via run_in_threadpool)"),
    ("asyncpg/", "asyncpg driver"),
    ("sqlalchemy/pool/", "SQLAlchemy pool checkout/return"),
    ("sqlalchemy/orm/", "SQLAlchemy ORM session (SQLModel AsyncSession)"),
    ("sqlmodel/", "SQLAlchemy ORM session (SQLModel AsyncSession)"),
    ("sqlalchemy/ext/asyncio/", "SQLAlchemy ORM session (SQLModel AsyncSession)"),
    ("sqlalchemy/sql/", "SQLAlchemy statement building, cache keys, compile"),
    ("sqlalchemy/engine/", "SQLAlchemy Core execute and result"),
    ("sqlalchemy/dialects/", "SQLAlchemy asyncpg adapter + greenlet bridge"),
    ("sqlalchemy/util/concurrency", "SQLAlchemy asyncpg adapter + greenlet bridge"),
    ("sqlalchemy/", "SQLAlchemy (other)"),
    ("greenlet/", "SQLAlchemy asyncpg adapter + greenlet bridge"),
    ("pydantic", "pydantic"),
    ("structlog/", "logging and metrics"),
    ("prometheus_client/", "logging and metrics"),
    ("logging/", "logging and metrics"),
    ("fastapi/dependencies/", "FastAPI dependency solving and parameter validation"),
    ("fastapi/", "FastAPI routing, handler wrapper and its middlewares"),
    ("starlette/", "Starlette (requests, responses, middleware)"),
    ("uvicorn/", "uvicorn HTTP protocol"),
    ("asyncio/", "asyncio (Python part of the event loop)"),
    ("interfaces/", "Stockroom interfaces/http (middleware, routers, rendering)"),
    ("application/", "Stockroom application + domain"),
    ("domain/", "Stockroom application + domain"),
    ("infrastructure/", "Stockroom infrastructure (repository, unit of work)"),
)
#: Frames every sample shares (process start-up): left out of the inclusive list.
_BOOT: Final = (
    "typer/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "interfaces/cli/",
    "stockroom",
)


def bucket_of(frames: list[Frame]) -> str:
    if frames[-1].func.startswith(_LOOP_ENTRY) and frames[-1].file.startswith("asyncio/"):
        return NO_PYTHON_FRAME
    for frame in reversed(frames):
        for prefix, bucket in BUCKETS:
            if frame.file.startswith(prefix) or f"/{prefix}" in frame.file:
                return bucket
    return "other"


def py_spy_command(pid: int, output: Path, *, seconds: int, rate: int) -> list[str]:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise SystemExit("py-spy runs through uv (`uv tool run py-spy`): uv is not on PATH")
    return [
        uv,
        "tool",
        "run",
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        str(rate),
        "--format",
        "raw",
        # Only the thread holding the GIL, without pausing the process: CPU in Python, unskewed.
        "--gil",
        "--nonblocking",
        "--threads",
        "--output",
        str(output),
    ]


def record(pid: int, output: Path, *, seconds: int, rate: int = 250, cpu: str = "1") -> None:
    command = ["taskset", "-c", cpu, *py_spy_command(pid, output, seconds=seconds, rate=rate)]
    subprocess.run(command, check=True, capture_output=True, timeout=seconds + 120)


@dataclass(frozen=True)
class Frame:
    func: str
    file: str

    @property
    def layer(self) -> str:
        return layer_of(self.file)

    def __str__(self) -> str:
        return f"{self.func} ({_short(self.file)})"


def layer_of(path: str) -> str:
    """py-spy names files relative to their sys.path entry: the first part is the package."""
    parts = Path(path).parts
    if not parts:
        return "other"
    if "site-packages" in parts:  # an absolute path, should py-spy print one
        parts = parts[parts.index("site-packages") + 1 :] or ("other",)
    head = parts[0].removesuffix(".py")
    for name in _PACKAGES:
        if head == name or head.startswith(name + "."):
            return name
    if head in _PROJECT_LAYERS:
        return f"stockroom/{head}"
    if head == "asyncio":
        return "stdlib asyncio"
    if len(parts) == 1 or head in _STDLIB_PACKAGES:
        return "stdlib" if head != "stockroom" else "stockroom/script"
    return head


def _short(path: str) -> str:
    parts = Path(path).parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return path


def _frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "")
    return Frame(match["func"], match["file"])


@dataclass
class Profile:
    samples: int
    by_bucket: Counter[str]
    self_by_layer: Counter[str]
    inclusive_by_layer: Counter[str]
    self_by_function: Counter[str]
    inclusive_by_function: Counter[str]
    inclusive_by_file: Counter[str]


def load(path: Path) -> Profile:
    total = 0
    buckets: Counter[str] = Counter()
    self_layer: Counter[str] = Counter()
    incl_layer: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    incl_func: Counter[str] = Counter()
    incl_file: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.func.startswith(("process ", "thread "))]
        total += count
        if not frames:
            self_layer[NO_PYTHON_FRAME] += count
            incl_layer[NO_PYTHON_FRAME] += count
            buckets[NO_PYTHON_FRAME] += count
            continue
        buckets[bucket_of(frames)] += count
        leaf = frames[-1]
        self_layer[leaf.layer] += count
        self_func[str(leaf)] += count
        for layer in {f.layer for f in frames}:
            incl_layer[layer] += count
        for name in {str(f) for f in frames if not f.file.startswith(_BOOT)}:
            incl_func[name] += count
        for file in {_short(f.file) for f in frames}:
            incl_file[file] += count
    return Profile(total, buckets, self_layer, incl_layer, self_func, incl_func, incl_file)


def summary(profile: Profile, *, title: str, top: int = 30) -> str:
    def pct(n: int) -> str:
        return f"{100 * n / profile.samples:5.1f}%" if profile.samples else "  n/a"

    lines = [
        f"### {title}",
        "",
        f"{profile.samples} samples of the thread holding the GIL (py-spy --gil --nonblocking).",
        "",
        "| where the time goes | share |",
        "|---|---:|",
    ]
    lines += [f"| {bucket} | {pct(n)} |" for bucket, n in profile.by_bucket.most_common()]
    lines += ["", "| package of the innermost frame | self | inclusive |", "|---|---:|---:|"]
    for layer, count in profile.self_by_layer.most_common():
        lines.append(f"| {layer} | {pct(count)} | {pct(profile.inclusive_by_layer[layer])} |")
    lines += ["", f"Top {top} functions by self time:", "", "```"]
    lines += [f"{pct(n)}  {name}" for name, n in profile.self_by_function.most_common(top)]
    lines += ["```", "", f"Top {top} functions by inclusive time (start-up frames left out):"]
    lines += ["", "```"]
    lines += [f"{pct(n)}  {name}" for name, n in profile.inclusive_by_function.most_common(top)]
    lines += ["```", ""]
    return "\n".join(lines)


def main() -> None:
    for arg in sys.argv[1:]:
        print(summary(load(Path(arg)), title=arg, top=60))


if __name__ == "__main__":
    main()
