"""Plain-data transport between a sandboxed kernel and the trusted grader.

Values cross the boundary as JSON, with pandas objects as Arrow IPC streams (base64) —
never pickles, so decoding in the grader runs no student code and yields plain numbers,
strings, arrays and DataFrames. A matplotlib Axes travels as a summary (title, labels,
what was drawn). Functions do not travel: the grader gets a proxy and each call is a
request that the sandbox answers with data.

The sandbox side is :func:`serve`, called by a one-line request the grader sends into
the student's kernel. A student can tamper with the kernel and make this module lie,
but a lie is only data about their own answers: the comparisons run in the grader.
"""
from __future__ import annotations

import base64
import json
import math

PREFIX = "\x1eACADEMY-RESULT:"
REPLY_MIME = "text/x-academy-reply"
MAX_BYTES = 64 * 1024 * 1024


class Unsupported(TypeError):
    pass


# --------------------------------------------------------------------------- encode


def _arrow_bytes(frame) -> bytes:
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        table = pa.Table.from_pandas(frame.astype(str), preserve_index=True)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _axes_summary(ax) -> dict:
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "lines": len(ax.lines),
        "patches": len(ax.patches),
        "collections": len(ax.collections),
        "images": len(ax.images),
    }


def encode(value, depth: int = 0):
    """A JSON-able description of ``value`` (raises Unsupported for anything else)."""
    if depth > 30:
        raise Unsupported("nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"bigint": str(value)}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return {"float": repr(value)}
        return value
    if isinstance(value, str):
        return value
    kind = type(value)
    module = kind.__module__ or ""
    if module.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.generic):
            return encode(value.item(), depth + 1)
        if isinstance(value, np.ndarray):
            return {"ndarray": encode(value.tolist(), depth + 1), "dtype": str(value.dtype)}
    if module.startswith("pandas") or module.startswith("geopandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            frame = value.copy()
            if "geometry" in frame.columns and module.startswith("geopandas"):
                frame["geometry"] = frame["geometry"].to_wkt()
            frame.columns = [str(c) for c in frame.columns]
            return {"frame": base64.b64encode(_arrow_bytes(pd.DataFrame(frame))).decode()}
        if isinstance(value, pd.Series):
            frame = value.to_frame(name="__value__")
            return {"series": base64.b64encode(_arrow_bytes(frame)).decode(), "name": encode(value.name, depth + 1)}
        if isinstance(value, pd.Index):
            return {"pdindex": encode(list(value), depth + 1)}
        if isinstance(value, pd.Timestamp):
            return {"timestamp": value.isoformat()}
        if value is pd.NA or value is pd.NaT:
            return {"missing": True}
    if module.startswith("datetime"):
        return {"isoformat": value.isoformat(), "type": kind.__name__}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if module.startswith("matplotlib"):
        if hasattr(value, "get_title") and hasattr(value, "lines"):
            return {"axes": _axes_summary(value)}
        if hasattr(value, "axes") and kind.__name__ == "Figure":
            return {"axes": _axes_summary(value.axes[0])} if value.axes else {"axes": None}
    if callable(value):
        return {"callable": getattr(value, "__name__", kind.__name__)}
    if module == "builtins" and kind.__name__ == "module" or kind.__name__ == "module":
        return {"module": getattr(value, "__name__", "?")}
    raise Unsupported(f"{module}.{kind.__name__}")


# --------------------------------------------------------------------------- decode


class AxesSummary:
    """What the grader knows about a student's plot (enough for academy.checks.check_axes)."""

    def __init__(self, summary: dict):
        self._s = summary
        self.lines = [None] * summary["lines"]
        self.patches = [None] * summary["patches"]
        self.collections = [None] * summary["collections"]
        self.images = [None] * summary["images"]

    def get_title(self) -> str:
        return self._s["title"]

    def get_xlabel(self) -> str:
        return self._s["xlabel"]

    def get_ylabel(self) -> str:
        return self._s["ylabel"]


def _arrow_frame(blob: str):
    import pyarrow as pa

    reader = pa.ipc.open_stream(pa.py_buffer(base64.b64decode(blob)))
    return reader.read_all().to_pandas()


def decode(data, depth: int = 0):
    if depth > 30:
        raise Unsupported("nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):  # only inside the tagged forms below
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise Unsupported("malformed payload")
    if "bigint" in data:
        return int(data["bigint"])
    if "float" in data:
        return float(data["float"])
    if "ndarray" in data:
        import numpy as np

        return np.asarray(decode(data["ndarray"], depth + 1))
    if "frame" in data:
        return _arrow_frame(data["frame"])
    if "series" in data:
        series = _arrow_frame(data["series"])["__value__"]
        series.name = decode(data.get("name"), depth + 1)
        return series
    if "pdindex" in data:
        import pandas as pd

        return pd.Index(decode(data["pdindex"], depth + 1))
    if "timestamp" in data:
        import pandas as pd

        return pd.Timestamp(data["timestamp"])
    if "missing" in data:
        import pandas as pd

        return pd.NA
    if "isoformat" in data:
        import datetime as dt

        kinds = {"datetime": dt.datetime, "date": dt.date, "time": dt.time}
        return kinds.get(data.get("type"), dt.datetime).fromisoformat(data["isoformat"])
    if "list" in data:
        return decode(data["list"], depth + 1)
    if "tuple" in data:
        return tuple(decode(data["tuple"], depth + 1))
    if "set" in data:
        return set(decode(data["set"], depth + 1))
    if "dict" in data:
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in data["dict"]}
    if "axes" in data:
        return AxesSummary(data["axes"]) if data["axes"] else None
    raise Unsupported(f"unknown payload kind {sorted(data)[:3]}")


# --------------------------------------------------------------------------- sandbox side


def serve(request_json: str, namespace: dict) -> None:
    """Answer one grader request inside the student's kernel with one display message."""
    request = json.loads(request_json)
    try:
        if request["op"] == "get":
            name = request["name"]
            if name not in namespace:
                reply = {"missing": True}
            else:
                try:
                    reply = {"value": encode(namespace[name])}
                except Unsupported as exc:
                    reply = {"unsupported": str(exc)}
        elif request["op"] == "call":
            function = namespace.get(request["name"])
            args = [_resolve(a, namespace) for a in request["args"]]
            kwargs = {k: _resolve(v, namespace) for k, v in request["kwargs"].items()}
            try:
                result = function(*args, **kwargs)
            except Exception as exc:  # the student's function raised: report it as data
                reply = {"raised": type(exc).__name__, "message": str(exc)[:500]}
            else:
                try:
                    reply = {"value": encode(result)}
                except Unsupported as exc:
                    reply = {"unsupported": str(exc)}
        else:
            reply = {"error": "unknown op"}
    except Exception as exc:
        reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    text = json.dumps(reply)
    if len(text) > MAX_BYTES:
        text = json.dumps({"unsupported": "value too large to grade"})
    # A display message, not print(): a student's own redirection of sys.stdout must not
    # silence the grader.
    from IPython.display import publish_display_data

    publish_display_data({REPLY_MIME: PREFIX + text})


def _resolve(arg, namespace):
    if isinstance(arg, dict) and set(arg) == {"ref"}:
        return namespace[arg["ref"]]
    return decode(arg["data"]) if isinstance(arg, dict) and "data" in arg else decode(arg)


def request_code(request: dict) -> str:
    """The one line the grader executes in the student's kernel."""
    payload = json.dumps(json.dumps(request))
    return f"__import__('academy.grading.codec', fromlist=['serve']).serve({payload}, globals())"


def parse_reply(stdout: str) -> dict:
    """The reply line serve() sent; {"broken": ...} when there is none (a tampered kernel)."""
    for line in reversed(stdout.split("\n")):  # not splitlines(): it splits on the \x1e marker
        if line.startswith(PREFIX):
            try:
                reply = json.loads(line[len(PREFIX):])
            except ValueError:
                return {"broken": "unreadable reply"}
            return reply if isinstance(reply, dict) else {"broken": "unreadable reply"}
    return {"broken": "no reply from the kernel"}
