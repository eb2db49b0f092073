"""Calls functions defined in a notebook's kernel the way the sandbox calls a child.

``KernelBox`` offers the two operations ``Grading`` needs (``submit_call`` and
``call_many``) on functions looked up by name in a namespace (a notebook's
globals), in this process.  Requests and replies still go through ``wire``'s
encoding, and the child's own code (``child.Child``) makes each call, so a
function sees copies of its inputs, warnings are recorded, caches stay behind
handles and odd return values arrive as in the native grader: the same code
gets the same verdicts.

What this cannot give is the child's isolation: there is no separate process,
no time or memory limit, and student code shares the kernel with the checks.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from collections.abc import Mapping
from pathlib import Path

from autograder import wire
from autograder.child import Child
from autograder.sandbox import Reply

_PACKAGE = str(Path(__file__).resolve().parent)
OUTPUT_KEEP = 2000  # characters kept of what student code printed


class _NamespaceChild(Child):
    """The child's request handlers, finding functions in a namespace instead of importing modules."""

    def __init__(self, namespace: Mapping[str, object]) -> None:
        super().__init__(workdir="")
        self.namespace = namespace

    def function(self, module: str, name: str):
        fn = self.namespace.get(name)
        if not callable(fn):
            raise AttributeError(f"no function named {name!r} is defined (it belongs in a cell marked "
                                 f"`# file: {module}.py`; run that cell first)")
        return fn


def _through_wire(message: dict) -> dict:
    """The message as the other side would decode it: plain data only, arrays copied."""
    reader = wire.MessageReader()
    reader.feed(wire.encode(message))
    return reader.message()


def _student_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_PACKAGE)]
    lines = traceback.format_list(frames[-6:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-3000:]


class _Done:
    """A call that already finished (the sandbox's Pending, without the waiting)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    def result(self) -> Reply:
        return self.reply


class KernelBox:
    """The sandbox's call interface, run in this process on functions from a namespace."""

    def __init__(self, namespace: Mapping[str, object]) -> None:
        self._child = _NamespaceChild(namespace)
        self._printed = io.StringIO()

    def submit_call(self, module: str, function: str, args: list, kwargs: dict | None = None,
                    keep: tuple = ()) -> _Done:
        message = {"op": "call", "module": module, "function": function, "args": list(args),
                   "kwargs": kwargs or {}, "keep": list(keep)}
        return _Done(self._request(message))

    def call_many(self, module: str, function: str, args: list, kwargs: dict, evals: list,
                  outputs: list[int]) -> Reply:
        message = {"op": "call_many", "module": module, "function": function, "args": list(args),
                   "kwargs": kwargs, "evals": evals, "outputs": outputs}
        return self._request(message)

    def output(self) -> str:
        """What student code printed during the calls (head and tail kept)."""
        text = self._printed.getvalue()
        if len(text) > 2 * OUTPUT_KEEP:
            cut = len(text) - 2 * OUTPUT_KEEP
            text = f"{text[:OUTPUT_KEEP]}\n[... {cut} characters cut ...]\n{text[-OUTPUT_KEEP:]}"
        return text

    def _request(self, message: dict) -> Reply:
        handler = {"call": self._child.op_call, "call_many": self._child.op_call_many}[message["op"]]
        request = _through_wire(message)
        # Printing, stderr included, must not reach the cell: nbgrader scores a cell with stderr output as 0.
        with contextlib.redirect_stdout(self._printed), contextlib.redirect_stderr(self._printed):
            try:
                raw = handler(request)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 -- student code may raise anything, SystemExit included
                raw = {"ok": False, "error_type": type(exc).__name__, "error": str(exc)[:500],
                       "traceback": _student_traceback(exc)}
        try:
            raw = _through_wire(raw)
        except Exception as exc:  # noqa: BLE001 -- e.g. a value that cannot be encoded
            raw = {"ok": False, "error_type": "ReplyError", "error": str(exc)[:500], "traceback": ""}
        return Reply(
            ok=raw["ok"] is True,
            value=raw.get("value"),
            args_after=raw.get("args_after") if isinstance(raw.get("args_after"), list) else [],
            kwargs_after=raw.get("kwargs_after") if isinstance(raw.get("kwargs_after"), dict) else {},
            warnings=[str(w) for w in raw.get("warnings") or []][:20],
            values=raw.get("values") if isinstance(raw.get("values"), list) else [],
            stacked=raw.get("stacked") if isinstance(raw.get("stacked"), list) else [],
            error_type=str(raw.get("error_type", ""))[:100],
            error=str(raw.get("error", ""))[:500],
            traceback=str(raw.get("traceback", ""))[:3000],
        )
