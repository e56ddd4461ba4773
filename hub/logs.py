"""The JSON format of every log line the hub writes, and one line per command run (`hub.command`).

`JsonFormatter` writes a record as one JSON object: time, level, logger, message, process id and the
record's extra fields. `hub serve` writes uvicorn's lines and the hub's in it (`hub.api.logs`); every
`hub` command ends with one line on the `hub.command` logger (`command_finished`), so that a
nightly load run by cron or a systemd timer leaves the same kind of line in the log collector as a
request does. Like the request lines it names only what ran and what came of it: the command, the
names of the options given (never their values, nor the arguments: a file name or a search can be
personal), the exit code, the duration and the command's own figures (records read, new, changed,
quarantined ...).

Where the command lines go is `HUB_COMMAND_LOG`: `auto` (the default: standard error when it is not
a terminal, as under cron, systemd or a pipe; nothing in an interactive shell, where the command's
own output says it all), `stderr`, `off`, or the path of a file to append to. A file that cannot be
opened is said in one line, and the command's line goes to standard error instead: the command's
exit code stays its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["COMMAND_LOG", "JsonFormatter", "command_finished", "exception_line", "note"]

COMMAND_LOG = "hub.command"

_STANDARD = {
    *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}

# What the running command reported of itself, for its line (`note`).
_figures: dict[str, int | float | str] = {}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time` (UTC, ISO 8601), `level`, `logger`, `message`, `pid`, the
    record's extra fields, and `exception` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker process, when several serve
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def exception_line(exc: BaseException) -> str:
    """An error as one short log line: its type and its message's first line (a driver's error runs
    over several, with the statement), for failures logged at every probe or scrape of an outage."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def note(**figures: int | float | str) -> None:
    """Figures of the running command for its log line: counts and names, never a personal value."""
    reserved = _STANDARD.intersection(figures)
    if reserved:  # `created` would overwrite the record's own time
        raise ValueError(f"figure names taken by the log record itself: {sorted(reserved)}")
    _figures.update(figures)


def command_finished(
    command: str, options: list[str], exit_code: int, seconds: float, environ: Mapping[str, str] | None = None
) -> None:
    """Write the line of a finished command where `HUB_COMMAND_LOG` says (see the module)."""
    env = os.environ if environ is None else environ
    target = env.get("HUB_COMMAND_LOG", "auto").strip() or "auto"
    if target == "off" or (target == "auto" and sys.stderr.isatty()):
        return
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if target not in ("auto", "stderr"):
        try:
            handler = logging.FileHandler(target, encoding="utf-8")
        except OSError as exc:  # the command's work is done: say so, and keep its exit code
            print(
                f"hub: cannot append to HUB_COMMAND_LOG={target} ({exc.strerror or exc}); this run's"
                " line follows on standard error",
                file=sys.stderr,
            )
    handler.setFormatter(JsonFormatter())
    record = logging.LogRecord(
        COMMAND_LOG, logging.INFO if exit_code == 0 else logging.ERROR, __file__, 0,
        "command finished" if exit_code == 0 else "command failed", None, None,
    )  # fmt: skip
    record.__dict__.update(
        command=command, options=options, exit_code=exit_code, seconds=round(seconds, 3), **_figures
    )
    try:
        handler.emit(record)
    finally:
        handler.close()
        _figures.clear()
