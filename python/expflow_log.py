"""Report metrics from a training script to expflow.

A single module, standard library only, Python 3.8 or newer. It ships in the expflow package
(``python/expflow_log.py``): put that directory on ``PYTHONPATH`` (or copy the file next to your
script) and::

    from expflow_log import log, report_standard

    for epoch in range(epochs):
        ...
        log(step=epoch, val_mse=val_mse, lr=scheduler.get_last_lr()[0])
    report_standard(pde_mean=pde, seg_total=score, epochs=epochs)

``log`` appends one JSON line to the file named by ``EXPFLOW_METRICS_FILE``, which the expflow
agent (and ``expflow run submit --wait``) gives every run; the runner reads the file when the run
ends and records the metrics in the run's record. Outside expflow (the variable unset) ``log``
warns once and does nothing, so a script runs the same by hand.

``report_standard`` validates its names and values against expflow's 13 standard metrics, as
the TypeScript ``reportStandard`` does, then logs them; with ``task`` it also reports them to a
ClearML task through the expflow CLI (``expflow metrics report --task-id``).
"""

import json
import math
import numbers
import os
import re
import shutil
import subprocess
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "ExpflowCliError",
    "ExpflowLogWarning",
    "METRICS_FILE_VARIABLE",
    "MetricValidationError",
    "STANDARD_METRICS",
    "log",
    "report_standard",
    "validate_standard",
]

#: The environment variable naming the run's metrics file.
METRICS_FILE_VARIABLE = "EXPFLOW_METRICS_FILE"

#: The longest line expflow's runner reads from a metrics file (characters, newline excluded);
#: a longer one would be rejected whole, so ``log`` refuses to write it.
MAX_LINE_CHARS = 65536

# The standard metrics of expflow's metrics registry, in its display order, each with its
# aliases. The TypeScript registry (src/core/metrics/registry.ts, STANDARD_METRICS) is the source;
# test/python/standard-metrics.test.ts fails when this table and it disagree.
_STANDARD_TABLE = (
    ("seg_total", ()),
    ("seg1", ()),
    ("seg2", ()),
    ("seg3", ()),
    ("val_mse", ()),
    ("val_relmse", ()),
    ("pde_mean", ()),
    ("pde_seg1", ()),
    ("pde_seg2", ()),
    ("pde_seg3", ()),
    ("train_time_min", ()),
    ("arch_params", ()),
    ("epochs", ()),
)  # type: Tuple[Tuple[str, Tuple[str, ...]], ...]

#: The canonical names of the standard metrics, in the registry's order.
STANDARD_METRICS = tuple(name for name, _ in _STANDARD_TABLE)


class MetricValidationError(ValueError):
    """Metric names or values that expflow would refuse; nothing was written or sent.

    ``problems`` lists every problem found (one message each, worded as expflow words them),
    ``hint`` says how to fix them or is ``None``. ``str(error)`` holds both.
    """

    code = "E_METRIC_VALIDATION"

    def __init__(self, problems, hint=None):
        # type: (Sequence[str], Optional[str]) -> None
        self.problems = list(problems)  # type: List[str]
        self.hint = hint
        super().__init__("\n".join(self.problems + ([hint] if hint else [])))


class ExpflowCliError(RuntimeError):
    """The expflow CLI could not be run, or refused or failed a report to a ClearML task.

    ``code`` is expflow's error code (``E_TASK_NOT_FOUND``, ...) when the CLI gave one,
    ``hint`` its hint, ``exit_code`` its exit code (2 input, 4 ClearML unreachable or failing).
    """

    def __init__(self, message, code=None, hint=None, exit_code=None):
        # type: (str, Optional[str], Optional[str], Optional[int]) -> None
        self.code = code
        self.hint = hint
        self.exit_code = exit_code
        super().__init__(message if not hint else "{}\nhint: {}".format(message, hint))


class ExpflowLogWarning(UserWarning):
    """Issued once per process when metrics are logged but ``EXPFLOW_METRICS_FILE`` is not set."""


# The one piece of state: whether the "not set" warning was given (it is given once per process).
_warned_unset = False


# ------------------------------------------------------------------------------------------------
# log


def _unwrap(value):
    # type: (Any) -> Any
    """The real number inside a NumPy 0-d array or a one-element tensor (their ``item()``)."""
    if isinstance(value, (numbers.Real, str, bytes)):
        return value
    item = getattr(value, "item", None)
    if not callable(item):
        return value
    try:
        inner = item()
    except Exception:  # noqa: BLE001 - anything that holds no single number is refused as it is
        return value
    return inner if isinstance(inner, numbers.Real) else value


def _number_for_log(name, value):
    # type: (str, Any) -> Any
    """The JSON-ready number for ``value``, or a problem message (a ``str`` in a 1-tuple)."""
    value = _unwrap(value)
    if isinstance(value, bool):
        return ("metric {!r} has value {!r}, a boolean: log() takes numbers".format(name, value),)
    if not isinstance(value, numbers.Real):
        return (
            "metric {!r} has value {} ({}): log() takes numbers (int or float; NaN and "
            "infinities are allowed), so convert it first, e.g. float(x)".format(name, _short_repr(value), type(value).__name__),
        )
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        try:
            float(as_int)
        except OverflowError:
            return ("metric {!r} has value {}: too large for a float".format(name, _short_repr(as_int)),)
        return as_int
    return float(value)


def _short_repr(value):
    # type: (Any) -> str
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_step(step):
    # type: (Any) -> Optional[int]
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or int(step) < 0:
        raise MetricValidationError(
            ["step must be a whole number 0 or greater, got {} ({})".format(_short_repr(step), type(step).__name__)],
            "e.g. log(step=epoch, val_mse=0.12)",
        )
    return int(step)


def _entry(step, metrics):
    # type: (Optional[int], Mapping[str, Any]) -> Dict[str, Any]
    """The validated line's object: ``step`` first when given, then the metrics as given."""
    problems = []  # type: List[str]
    entry = {}  # type: Dict[str, Any]
    if step is not None:
        entry["step"] = step
    if len(metrics) == 0:
        raise MetricValidationError(["no metrics given: nothing to log"], "e.g. log(step=3, val_mse=0.12)")
    for name, value in metrics.items():
        if not isinstance(name, str) or name == "":
            problems.append("metric name {} is not a non-empty string".format(_short_repr(name)))
            continue
        number = _number_for_log(name, value)
        if isinstance(number, tuple):
            problems.append(number[0])
            continue
        entry[name] = number
    if problems:
        raise MetricValidationError(problems)
    return entry


def _line(entry):
    # type: (Mapping[str, Any]) -> bytes
    # allow_nan: NaN and the infinities become the tokens NaN, Infinity and -Infinity, which
    # expflow's runner reads per value. ASCII only (non-ASCII names are escaped): one byte a char.
    text = json.dumps(entry, allow_nan=True)
    if len(text) > MAX_LINE_CHARS:
        raise MetricValidationError(
            ["the line would be {} characters long, over the {} expflow reads".format(len(text), MAX_LINE_CHARS)],
            "log fewer metrics per call, or shorter names",
        )
    return (text + "\n").encode("ascii")


def _append(data, warn=True):
    # type: (bytes, bool) -> bool
    """Appends ``data`` to the metrics file in one ``write``; ``False`` when there is none."""
    global _warned_unset
    path = os.environ.get(METRICS_FILE_VARIABLE, "")
    if path == "":
        if warn and not _warned_unset:
            _warned_unset = True
            warnings.warn(
                "{} is not set (not running under expflow's agent or `run submit --wait`?): "
                "metrics are not recorded".format(METRICS_FILE_VARIABLE),
                ExpflowLogWarning,
                stacklevel=3,
            )
        return False
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    # O_APPEND and a single write(2) per line: every write lands at the end of the file as one
    # piece, so lines from concurrent writers (processes, threads) never interleave.
    fd = os.open(path, flags, 0o600)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        # Writing the rest separately could interleave with another writer's line.
        raise OSError("short write to {}: {} of {} bytes (is the disk full?)".format(path, written, len(data)))
    return True


def log(step=None, **metrics):
    # type: (Optional[int], Any) -> Dict[str, Any]
    """Appends one line of metrics to the run's metrics file (``$EXPFLOW_METRICS_FILE``).

    ``log(step=3, val_mse=0.12, lr=3e-4)`` writes ``{"step": 3, "val_mse": 0.12, "lr": 0.0003}``.
    Names that are not Python identifiers go through ``**``: ``log(**{"train/loss": 0.3})``.

    :param step: the training step (a whole number 0 or greater), recorded as ``"step"``;
        default none.
    :param metrics: name to number: ``int``, ``float`` or any real number (NumPy scalars, and
        objects whose ``item()`` gives one, such as a one-element tensor). NaN and the
        infinities are written as the tokens ``NaN``, ``Infinity`` and ``-Infinity``.
    :returns: the object written (or that would have been, when the variable is unset).
    :raises MetricValidationError: no metrics, a bad ``step``, a boolean or a non-numeric value
        (a string included), or a line longer than expflow reads; nothing is written.
    :raises OSError: the file cannot be opened or written.

    Each call is one ``write`` on a descriptor opened with ``O_APPEND``, so concurrent writers
    never interleave their lines. When ``EXPFLOW_METRICS_FILE`` is not set it warns once (an
    :class:`ExpflowLogWarning`, to standard error) and writes nothing.
    """
    entry = _entry(_check_step(step), metrics)
    _append(_line(entry))
    return entry


# ------------------------------------------------------------------------------------------------
# report_standard


# What JavaScript's String.prototype.trim() removes: the same "blank" around a numeric string.
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# The only number syntax expflow reads from text (parseDecimal in the TypeScript registry).
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _edit_distance(a, b):
    # type: (str, str) -> int
    """Optimal-string-alignment distance: Levenshtein plus adjacent transpositions."""
    if a == b:
        return 0
    if not a:
        return len(b)
    if not b:
        return len(a)
    before = []  # type: List[int]
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d = min(d, before[j - 2] + 1)
            current.append(d)
        before, previous = previous, current
    return previous[len(b)]


def _nearest(word, candidates):
    # type: (str, Sequence[str]) -> Optional[str]
    """The candidate a typo most likely meant, or ``None`` (the rule of expflow's suggestions)."""
    needle = word.lower()
    best = None  # type: Optional[str]
    best_distance = math.inf
    for candidate in candidates:
        d = _edit_distance(needle, candidate.lower())
        if d < best_distance or (d == best_distance and best is not None and candidate < best):
            best, best_distance = candidate, d
    if best is None:
        return None
    if best_distance <= max(2, len(needle) // 3):
        return best
    lower_best = best.lower()
    if len(needle) >= 3 and (needle in lower_best or lower_best in needle):
        return best
    return None


def _describe(value):
    # type: (Any) -> str
    """A refused value as expflow's messages show it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return _short_repr(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return "object"
    return type(value).__name__


def _finite(value):
    # type: (Any) -> Any
    """The finite number ``value`` is or holds as a decimal string, else ``None``."""
    value = _unwrap(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        try:
            f = float(value)
        except OverflowError:
            return None
        if not math.isfinite(f):
            return None
        return int(value) if isinstance(value, numbers.Integral) else f
    if isinstance(value, str):
        text = value.strip(_JS_WHITESPACE)
        if _DECIMAL.fullmatch(text) is None:
            return None
        f = float(text)
        return f if math.isfinite(f) else None
    return None


def _validate(values, table):
    # type: (Any, Sequence[Tuple[str, Sequence[str]]]) -> Dict[str, Any]
    """``validateMetricValues`` of the TypeScript registry, over ``table`` (name, aliases)."""
    if not isinstance(values, Mapping):
        raise MetricValidationError(["metric values must be an object mapping metric names to numbers"])
    if len(values) == 0:
        raise MetricValidationError(["no metric values given: nothing to report"])
    canonical_of = {}  # type: Dict[str, str]
    for name, _ in table:
        canonical_of[name] = name
    for name, aliases in table:
        for alias in aliases:
            canonical_of.setdefault(alias, name)
    candidates = [name for name, _ in table] + [a for _, aliases in table for a in aliases]
    problems = []  # type: List[str]
    unknown = []  # type: List[str]
    out = {}  # type: Dict[str, Any]
    for raw_name, value in values.items():
        name = str(raw_name)
        canonical = canonical_of.get(name)
        if canonical is None:
            unknown.append(name)
            match = _nearest(name, candidates)
            problems.append("unknown metric '{}'.{}".format(name, "" if match is None else " Did you mean '{}'?".format(match)))
            continue
        number = _finite(value)
        if number is None:
            problems.append("metric '{}' has value {}: it must be a finite number".format(name, _describe(value)))
            continue
        if canonical in out:
            problems.append("metric '{}' is given twice (as '{}' and under another name)".format(canonical, name))
            continue
        out[canonical] = number
    if problems:
        hint = None
        if unknown:
            # As the TypeScript registry's declareMetricHint says it: how to declare the metric.
            named = unknown[0] if len(unknown) == 1 else "NAME"
            hint = "known metrics: {}; declare it with its direction under metrics: in expflow.yaml ({}: {{direction: lower}} or {{direction: higher}})".format(
                ", ".join(n for n, _ in table), named
            )
        raise MetricValidationError(problems, hint)
    return out


def validate_standard(values):
    # type: (Mapping[str, Any]) -> Dict[str, Any]
    """Validates metric values against the 13 standard metrics, without reporting them.

    The same rules as expflow's ``validateMetricValues``: names may be canonical names or
    aliases (the result is keyed by canonical name); values must be finite numbers or strings
    holding a finite decimal number (``"16.2"``, ``" 1e3 "``); NaN, the infinities, booleans,
    ``None`` and other strings are refused; a metric given twice (under its name and an alias)
    is refused.

    :returns: canonical name to number.
    :raises MetricValidationError: listing every problem at once; an unknown name comes with the
        nearest known name (``seg_totl``: did you mean ``seg_total``?) and the hint lists them all.
    """
    return _validate(values, _STANDARD_TABLE)


def _cli_command():
    # type: () -> List[str]
    """How to run the expflow CLI: this package's own ``dist/cli.js``, else ``expflow`` on PATH."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cli_js = os.path.join(package, "dist", "cli.js")
    node = shutil.which("node")
    if node is not None and os.path.isfile(cli_js):
        return [node, cli_js]
    expflow = shutil.which("expflow")
    if expflow is not None:
        return [expflow]
    raise ExpflowCliError(
        "cannot find the expflow CLI to report to a ClearML task: neither {} (with node on PATH) "
        "nor expflow on PATH".format(cli_js),
        hint="install expflow (see its README, Install), or use this module from the expflow package's python/ directory",
    )


def _text_of(number):
    # type: (Any) -> str
    return str(number) if isinstance(number, int) else repr(float(number))


def _task_id(task):
    # type: (Any) -> str
    task_id = task if isinstance(task, str) else getattr(task, "id", None)
    if not isinstance(task_id, str) or task_id == "":
        raise TypeError("task must be a ClearML task id (a str) or an object with an id, such as a clearml.Task; got {}".format(_short_repr(task)))
    return task_id


def _report_to_task(task_id, values):
    # type: (str, Mapping[str, Any]) -> Dict[str, Any]
    argv = _cli_command() + ["metrics", "report", "--task-id", task_id]
    argv += ["{}={}".format(name, _text_of(number)) for name, number in values.items()]
    argv.append("--json")
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise ExpflowCliError("cannot run the expflow CLI ({}): {}".format(argv[0], e)) from None
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        error = None  # type: Any
        try:
            error = json.loads(stderr).get("error")
        except (ValueError, AttributeError):
            pass
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            raise ExpflowCliError(error["message"], code=error.get("code"), hint=error.get("hint"), exit_code=done.returncode)
        raise ExpflowCliError(
            "expflow metrics report --task-id {} failed (exit {}): {}".format(task_id, done.returncode, stderr.strip() or "no message"),
            exit_code=done.returncode,
        )
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise ExpflowCliError("expflow metrics report --task-id {} printed no JSON: {}".format(task_id, _short_repr(stdout))) from None
    return answer if isinstance(answer, dict) else {}


def report_standard(task=None, **metrics):
    # type: (Any, Any) -> Dict[str, Any]
    """Validates final metrics against the 13 standard metrics, then records them.

    ``report_standard(pde_mean=16.2, seg_total=0.81)`` validates as :func:`validate_standard`
    (nothing is written or sent when anything is refused), then appends the validated values,
    under their canonical names, to the run's metrics file as :func:`log` does.

    :param task: where else to report them: ``None`` (default) for the metrics file only; a
        ClearML task id, or an object with an ``id`` such as a ``clearml.Task``, to also report
        them to that task as scalars, through ``expflow metrics report --task-id ID ... --json``
        (the CLI of this package, ``../dist/cli.js`` run with ``node``, else ``expflow`` on
        PATH; the ClearML server and credentials come from the environment or clearml.conf, as
        for every expflow command). With a task, an unset ``EXPFLOW_METRICS_FILE`` is no
        warning: the values go to the task.
    :returns: canonical name to number, as validated.
    :raises MetricValidationError: an unknown name, a non-finite or non-numeric value, a boolean,
        or a metric given twice (under an alias).
    :raises ExpflowCliError: the CLI cannot be found or run, or refused or failed the report
        (unknown or published task: exit 2; ClearML unreachable or not configured: exit 4).
    :raises TypeError: ``task`` is neither a task id nor has one.
    :raises OSError: the metrics file cannot be written.
    """
    validated = _validate(metrics, _STANDARD_TABLE)
    task_id = None if task is None else _task_id(task)
    _append(_line(validated), warn=task_id is None)
    if task_id is not None:
        _report_to_task(task_id, validated)
    return validated
