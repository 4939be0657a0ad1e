#!/usr/bin/python3
"""systemctl for kubeforge test-bed nodes: a TEST-BED STAND-IN FOR SYSTEMD on hosts without it.

tools/nodes.py runs each test node (kf-node-N) as a set of namespaces whose PID 1 is
tools/nodes/init.py, not systemd. The collection's roles manage services with
ansible.builtin.systemd_service and kubeadm calls `systemctl`, so init.py installs this file as
/usr/bin/systemctl inside each node's /usr overlay (the host's own systemctl is untouched) and
creates /run/systemd/system so that Ansible's service_mgr fact says "systemd". It is never used on
a real host, and it is not a general systemd replacement.

What it implements, for real (unit files are read fresh on every call):
  * Unit files from /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
    /lib/systemd/system and /usr/lib/systemd/system (Debian's order; first found wins; a symlink to /dev/null or an
    empty file = masked; a symlink to another name = alias; foo@bar.service falls back to
    foo@.service), drop-ins <dir>/<unit>.d/*.conf in file-name order (the same name in a
    higher-priority directory wins), line continuations, comments, specifiers %n %N %p %i %I %t %H %%.
  * [Service]: Type=simple|exec|notify|oneshot (notify waits for READY=1 on $NOTIFY_SOCKET),
    ExecStartPre/ExecStart/ExecStartPost/ExecStop/ExecStopPost/ExecReload with the - : @ + ! prefixes
    (an empty assignment resets the list), Environment=, EnvironmentFile= (leading '-' = optional;
    re-read on every start; overrides Environment=), $VAR (a word of its own: split at whitespace)
    and ${VAR} / ${VAR:-default} / ${VAR:+alt} / $$ expansion as systemd does, WorkingDirectory=,
    User=, Group=, UMask=, Limit{NOFILE,NPROC,CORE,MEMLOCK}= and OOMScoreAdjust= (best effort),
    Restart=no|always|on-success|on-failure|on-abnormal|on-abort with RestartSec=,
    RestartPreventExitStatus=, SuccessExitStatus=, StartLimitIntervalSec=/StartLimitBurst=,
    TimeoutStartSec/TimeoutStopSec/TimeoutSec, KillMode=control-group|mixed|process|none,
    KillSignal=, RemainAfterExit=, RuntimeDirectory= (removed on stop), StateDirectory=,
    LogsDirectory=, ConditionPathExists=, ConditionPathIsDirectory=, ConditionFileNotEmpty=,
    ConditionDirectoryNotEmpty=, ConditionFileIsExecutable= (other conditions count as met).
  * Each started service runs under a keeper process (its own session) that starts the service in
    a new session/process group, restarts it per Restart=, appends its stdout/stderr to
    /var/log/kubeforge-units/<unit>.log and writes its state and MainPID under
    /run/kubeforge-units/<unit>/ (main.pid, keeper.pid, state.json). Stopping signals the keeper,
    which kills per KillMode (the process group for control-group) and waits, SIGKILL after
    TimeoutStopSec.
  * Verbs: start, stop, restart, try-restart, reload, reload-or-restart, try-reload-or-restart,
    force-reload, kill, reset-failed, enable, disable, reenable, preset, mask, unmask ([Install]
    WantedBy=/RequiredBy=/Alias= symlinks under /etc/systemd/system; --now), is-enabled, is-active,
    is-failed, status (systemd's layout with a Loaded: line; "Loaded: not-found" and exit 4 for an
    unknown unit), show (the properties ansible.builtin.systemd_service and service_facts parse;
    -p/--property, --value, --all), cat, list-unit-files, list-units, daemon-reload and
    daemon-reexec (no-ops: unit files are always read fresh), is-system-running, show-environment,
    --version. A .target unit can be started/stopped (it only records its state).
Not implemented (exits 1 saying so): --user/--global scopes, socket/timer/path/mount units,
Type=forking/dbus, dependencies (Requires=/After= are only used to order the units started at boot),
cgroup-based resource control, reboot/shutdown/halt/poweroff (this file may be reached through
/sbin/shutdown etc., which are symlinks to systemctl on Debian).
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "252"
ROOT = Path(os.environ.get("SYSTEMCTL_SHIM_ROOT", "/"))
UNIT_DIR_NAMES = (
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "lib/systemd/system",
    "usr/lib/systemd/system",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNIT_SUFFIXES = (
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".path",
    ".mount",
    ".automount",
    ".swap",
    ".slice",
    ".scope",
    ".device",
)
LIST_KEYS = frozenset(
    {
        "ExecCondition",
        "ExecStartPre",
        "ExecStart",
        "ExecStartPost",
        "ExecStop",
        "ExecStopPost",
        "ExecReload",
        "Environment",
        "EnvironmentFile",
        "PassEnvironment",
        "UnsetEnvironment",
        "WantedBy",
        "RequiredBy",
        "Alias",
        "Also",
        "After",
        "Before",
        "Wants",
        "Requires",
        "Documentation",
        "SuccessExitStatus",
        "RestartPreventExitStatus",
        "RestartForceExitStatus",
        "RuntimeDirectory",
        "StateDirectory",
        "LogsDirectory",
        "CacheDirectory",
        "ConfigurationDirectory",
    }
)
CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})
ACTIVE_STATES = frozenset({"active", "activating", "reloading", "deactivating"})
EXIT_NOT_ACTIVE = 3
EXIT_NO_UNIT = 4
EXIT_NOT_INSTALLED = 5
CMD_NOT_FOUND = 203
KEEPER_VERB = "__keeper__"


class ShimError(Exception):
    """An error reported like systemctl does: message on stderr, exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------------
# Paths


def unit_dirs(root: Path | None = None) -> list[Path]:
    """The unit search path, highest priority first, without directories seen twice (usrmerge)."""
    root = ROOT if root is None else root
    seen: set[str] = set()
    dirs = []
    for name in UNIT_DIR_NAMES:
        path = root / name
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            dirs.append(path)
    return dirs


def state_root() -> Path:
    return ROOT / "run/kubeforge-units"


def log_dir() -> Path:
    return ROOT / "var/log/kubeforge-units"


def unit_log(unit_id: str) -> Path:
    return log_dir() / f"{unit_id}.log"


def config_dir() -> Path:
    return ROOT / "etc/systemd/system"


# ---------------------------------------------------------------------------------------------
# Unit files


def normalize_name(name: str) -> str:
    """`containerd` → `containerd.service`; a path → its file name."""
    name = name.rsplit("/", 1)[-1] if "/" in name else name
    if not name.endswith(UNIT_SUFFIXES):
        name += ".service"
    return name


def parse_unit_text(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order, as systemd reads a unit file or drop-in."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending and line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep and section:
            entries.append((section, key.strip(), value.strip()))
    if pending.strip():
        key, sep, value = pending.strip().partition("=")
        if sep and section:
            entries.append((section, key.strip(), value.strip()))
    return entries


def apply_entries(entries: list[tuple[str, str, str]]) -> dict[tuple[str, str], object]:
    """Fold entries: list settings accumulate and an empty value resets them; others: last wins."""
    settings: dict[tuple[str, str], object] = {}
    for section, key, value in entries:
        slot = (section, key)
        if key in LIST_KEYS or key.startswith(("Condition", "Assert")):
            if value == "":
                settings[slot] = []
            else:
                settings.setdefault(slot, [])
                settings[slot].append(value)  # type: ignore[union-attr]
        elif value == "":
            settings.pop(slot, None)
        else:
            settings[slot] = value
    return settings


@dataclass
class Unit:
    name: str
    id: str
    names: list[str]
    load_state: str = "not-found"
    fragment: Path | None = None
    dropins: list[Path] = field(default_factory=list)
    settings: dict[tuple[str, str], object] = field(default_factory=dict)
    instance: str = ""

    @property
    def kind(self) -> str:
        return self.id.rsplit(".", 1)[-1]

    @property
    def prefix(self) -> str:
        return self.id.rsplit(".", 1)[0].split("@", 1)[0]

    def get(self, section: str, key: str, default: str = "") -> str:
        value = self.settings.get((section, key), default)
        return self.specifiers(value) if isinstance(value, str) else default

    def getlist(self, section: str, key: str) -> list[str]:
        value = self.settings.get((section, key), [])
        return [self.specifiers(v) for v in value] if isinstance(value, list) else []

    def words(self, section: str, key: str) -> list[str]:
        """A list setting whose values are themselves space-separated (WantedBy=, After=, …)."""
        return [word for value in self.getlist(section, key) for word in split_words(value)]

    def specifiers(self, value: str) -> str:
        table = {
            "n": self.id,
            "N": self.id.rsplit(".", 1)[0],
            "p": self.prefix,
            "P": self.prefix,
            "i": self.instance,
            "I": self.instance,
            "t": "/run",
            "S": "/var/lib",
            "C": "/var/cache",
            "L": "/var/log",
            "E": "/etc",
            "T": "/tmp",  # noqa: S108 - systemd's %T specifier is literally /tmp
            "V": "/var/tmp",  # noqa: S108 - systemd's %V specifier
            "h": "/root",
            "u": "root",
            "U": "0",
            "H": socket.gethostname(),
            "%": "%",
        }
        return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), value)

    @property
    def description(self) -> str:
        return self.get("Unit", "Description") or self.id


def _find_fragment(name: str, dirs: list[Path]) -> Path | None:
    for directory in dirs:
        path = directory / name
        if os.path.lexists(path):
            return path
    return None


def _is_masked(path: Path) -> bool:
    try:
        if path.is_symlink() and os.readlink(path) == "/dev/null":
            return True
        return path.stat().st_size == 0 or str(path.resolve()) == "/dev/null"
    except OSError:
        return False


def load_unit(name: str, root: Path | None = None) -> Unit:
    """Find and parse a unit with its drop-ins; LoadState not-found/masked/loaded."""
    name = normalize_name(name)
    dirs = unit_dirs(root)
    unit = Unit(name=name, id=name, names=[name])
    fragment = _find_fragment(name, dirs)
    template = ""
    base, _, suffix = name.rpartition(".")
    if "@" in base:
        prefix, _, instance = base.partition("@")
        unit.instance = instance
        if fragment is None and instance:
            template = f"{prefix}@.{suffix}"
            fragment = _find_fragment(template, dirs)
    if fragment is None:
        return unit
    if _is_masked(fragment):
        unit.load_state = "masked"
        unit.fragment = fragment
        return unit
    if fragment.is_symlink():
        target_name = Path(os.readlink(fragment)).name
        resolved = fragment.resolve()
        if target_name != fragment.name and target_name.endswith(UNIT_SUFFIXES):
            unit.id = target_name
            unit.names = [target_name, name]
        fragment = resolved
    if not fragment.is_file():
        return unit
    unit.fragment = fragment
    unit.load_state = "loaded"
    dropin_names = [*unit.names] + ([template] if template else [])
    chosen: dict[str, Path] = {}
    for directory in dirs:
        for dropin_name in dropin_names:
            dropin_dir = directory / f"{dropin_name}.d"
            if dropin_dir.is_dir():
                for conf in sorted(dropin_dir.glob("*.conf")):
                    chosen.setdefault(conf.name, conf)
    unit.dropins = [chosen[key] for key in sorted(chosen)]
    entries = []
    for path in [fragment, *unit.dropins]:
        try:
            entries += parse_unit_text(path.read_text(errors="replace"))
        except OSError:
            continue
    unit.settings = apply_entries(entries)
    return unit


def all_unit_names(root: Path | None = None) -> list[str]:
    names = set()
    for directory in unit_dirs(root):
        if directory.is_dir():
            for path in directory.iterdir():
                if path.name.endswith(UNIT_SUFFIXES) and not path.is_dir():
                    names.add(path.name)
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# Words, environment, command lines

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "s": " "}


def split_words(text: str) -> list[str]:
    """Split like systemd's extract_first_word(UNQUOTE|CUNESCAPE): quotes and C escapes."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and quote != "'" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x" and i + 3 < len(text) + 1:
                with contextlib.suppress(ValueError):
                    current.append(chr(int(text[i + 2 : i + 4], 16)))
                    i += 4
                    in_word = True
                    continue
            current.append(_ESCAPES.get(nxt, nxt))
            i += 2
            in_word = True
            continue
        if quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "\"'":
            quote = char
            in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(current))
    return words


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def expand_word(word: str, env: dict[str, str]) -> str:
    """${VAR}, ${VAR:-default}, ${VAR:+alt} and $$ inside a word; a lone $ stays."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name, "")
        if op == ":-":
            return value or arg
        if op == ":+":
            return arg if value else ""
        return value

    return re.sub(r"\$\$|\$\{(" + _NAME + r")(?:(:[-+])([^}]*))?\}", replace, word)


def expand_argv(words: list[str], env: dict[str, str]) -> list[str]:
    """systemd's rule: a word that is exactly $VAR becomes the value split at whitespace (zero or
    more arguments); ${VAR} anywhere becomes exactly the value, inside one argument."""
    argv: list[str] = []
    for word in words:
        match = re.fullmatch(r"\$(" + _NAME + ")", word)
        if match:
            argv += split_words(env.get(match.group(1), ""))
        else:
            argv.append(expand_word(word, env))
    return argv


def parse_assignments(values: list[str]) -> dict[str, str]:
    """Environment= values: each holds one or more quoted VAR=VALUE words."""
    env: dict[str, str] = {}
    for value in values:
        for word in split_words(value):
            key, sep, val = word.partition("=")
            if sep and re.fullmatch(_NAME, key):
                env[key] = val
    return env


def parse_env_file(text: str) -> dict[str, str]:
    """An EnvironmentFile=: KEY=VALUE lines, # and ; comments, quotes, backslash continuations."""
    env: dict[str, str] = {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        logical.append(pending + raw)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(_NAME, key):
            continue
        env[key] = _env_file_value(value.strip())
    return env


def _env_file_value(value: str) -> str:
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(value):
        char = value[i]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                out.append(char)
        elif char == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            if quote == '"' and nxt not in '"\\`$':
                out.append(char)
            out.append(nxt)
            i += 1
        elif quote == '"':
            if char == '"':
                quote = ""
            else:
                out.append(char)
        elif char in "\"'":
            quote = char
        else:
            out.append(char)
        i += 1
    return "".join(out) if quote else "".join(out).rstrip()


@dataclass
class ExecCommand:
    path: str
    argv: list[str]
    ignore_failure: bool = False
    expand: bool = True
    raw: str = ""


def parse_exec(value: str) -> list[ExecCommand]:
    """One Exec*= value → commands (';' as a word of its own separates several)."""
    commands = []
    words = split_words(value)
    groups: list[list[str]] = [[]]
    for word in words:
        if word == ";":
            groups.append([])
        else:
            groups[-1].append(word)
    for group in groups:
        if not group:
            continue
        first = group[0]
        flags = ""
        while first and first[0] in "@-:+!|":
            flags += first[0]
            first = first[1:]
        rest = group[1:]
        if "@" in flags and rest:
            path, argv = first, rest
        else:
            path, argv = first, [first, *rest]
        commands.append(
            ExecCommand(path=path, argv=argv, ignore_failure="-" in flags, expand=":" not in flags, raw=value)
        )
    return commands


def resolve_command(cmd: ExecCommand, env: dict[str, str]) -> list[str]:
    argv = expand_argv(cmd.argv, env) if cmd.expand else list(cmd.argv)
    path = cmd.path
    if not path.startswith("/"):
        for directory in DEFAULT_PATH.split(":"):
            candidate = os.path.join(directory, path)
            if os.access(candidate, os.X_OK):
                path = candidate
                break
    return [path, *argv[1:]] if argv else [path]


def base_environment(unit: Unit) -> dict[str, str]:
    env = {"PATH": DEFAULT_PATH}
    locale = ROOT / "etc/default/locale"
    with contextlib.suppress(OSError):
        for key, value in parse_env_file(locale.read_text()).items():
            if key.startswith(("LANG", "LC_")):
                env[key] = value
    env.update(parse_assignments(unit.getlist("Service", "Environment")))
    return env


def service_environment(unit: Unit) -> dict[str, str]:
    """Environment= then every EnvironmentFile= (re-read now; '-' = optional), as systemd orders them."""
    env = base_environment(unit)
    for spec in unit.getlist("Service", "EnvironmentFile"):
        optional = spec.startswith("-")
        for pattern in split_words(spec.lstrip("-")):
            path = ROOT / pattern.lstrip("/")
            try:
                env.update(parse_env_file(path.read_text()))
            except OSError as exc:
                if not optional:
                    raise ShimError(f"Failed to load environment files: {pattern}: {exc.strerror}") from exc
    return env


def parse_timespan(value: str, default: float | None) -> float | None:
    """ "10", "10s", "100ms", "1min 30s", "infinity" → seconds (None = infinity)."""
    value = value.strip()
    if not value:
        return default
    if value == "infinity":
        return None
    units = {
        "us": 1e-6,
        "usec": 1e-6,
        "ms": 1e-3,
        "msec": 1e-3,
        "s": 1,
        "sec": 1,
        "second": 1,
        "seconds": 1,
        "m": 60,
        "min": 60,
        "minute": 60,
        "minutes": 60,
        "h": 3600,
        "hr": 3600,
        "hour": 3600,
        "hours": 3600,
        "d": 86400,
        "day": 86400,
        "days": 86400,
    }
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", value):
        try:
            total += float(number) * units.get(unit or "s", 1)
        except ValueError:
            return default
    return total


def format_timespan(seconds: float | None) -> str:
    if seconds is None:
        return "infinity"
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(round(seconds), 60)
    if minutes:
        return f"{minutes}min {secs}s" if secs else f"{minutes}min"
    return f"{secs}s"


@dataclass
class ServiceConfig:
    type: str
    restart: str
    restart_sec: float
    timeout_start: float | None
    timeout_stop: float | None
    kill_mode: str
    kill_signal: int
    remain_after_exit: bool
    start_limit_interval: float
    start_limit_burst: int
    success_status: set[int]
    success_signals: set[int]
    prevent_status: set[int]


def _status_set(words: list[str]) -> tuple[set[int], set[int]]:
    codes: set[int] = set()
    signals: set[int] = set()
    for word in words:
        if word.isdigit():
            codes.add(int(word))
        else:
            name = word if word.startswith("SIG") else f"SIG{word}"
            with contextlib.suppress(AttributeError):
                signals.add(int(getattr(signal, name)))
    return codes, signals


def service_config(unit: Unit) -> ServiceConfig:
    timeout = unit.get("Service", "TimeoutSec")
    kill_signal = unit.get("Service", "KillSignal", "SIGTERM")
    kill_signal = kill_signal if kill_signal.startswith("SIG") else f"SIG{kill_signal}"
    success_status, success_signals = _status_set(unit.words("Service", "SuccessExitStatus"))
    prevent, _ = _status_set(unit.words("Service", "RestartPreventExitStatus"))
    interval = unit.get("Unit", "StartLimitIntervalSec") or unit.get("Unit", "StartLimitInterval")
    interval = interval or unit.get("Service", "StartLimitInterval")
    burst = unit.get("Unit", "StartLimitBurst") or unit.get("Service", "StartLimitBurst") or "5"
    return ServiceConfig(
        type=unit.get("Service", "Type", "simple"),
        restart=unit.get("Service", "Restart", "no"),
        restart_sec=parse_timespan(unit.get("Service", "RestartSec"), 0.1) or 0.0,
        timeout_start=parse_timespan(unit.get("Service", "TimeoutStartSec") or timeout, 90.0),
        timeout_stop=parse_timespan(unit.get("Service", "TimeoutStopSec") or timeout, 90.0),
        kill_mode=unit.get("Service", "KillMode", "control-group"),
        kill_signal=int(getattr(signal, kill_signal, signal.SIGTERM)),
        remain_after_exit=unit.get("Service", "RemainAfterExit", "no").lower() in {"yes", "true", "1", "on"},
        start_limit_interval=parse_timespan(interval, 10.0) or 0.0,
        start_limit_burst=int(burst) if burst.isdigit() else 5,
        success_status={0} | success_status,
        success_signals=set(CLEAN_SIGNALS) | success_signals,
        prevent_status=prevent,
    )


def check_conditions(unit: Unit) -> str:
    """'' when every Condition* holds, else the first failing one ("ConditionPathExists=!/x")."""
    tests = {
        "ConditionPathExists": os.path.exists,
        "ConditionPathIsDirectory": os.path.isdir,
        "ConditionFileNotEmpty": lambda p: os.path.isfile(p) and os.path.getsize(p) > 0,
        "ConditionDirectoryNotEmpty": lambda p: os.path.isdir(p) and bool(os.listdir(p)),
        "ConditionFileIsExecutable": lambda p: os.path.isfile(p) and os.access(p, os.X_OK),
    }
    for key, test in tests.items():
        for value in unit.getlist("Unit", key):
            negate = value.startswith("!")
            path = str(ROOT / value.lstrip("!|").lstrip("/"))
            if test(path) == negate:
                return f"{key}={value}"
    return ""


# ---------------------------------------------------------------------------------------------
# Enablement


def _wants_links(name: str, root: Path | None = None) -> list[Path]:
    base = (ROOT if root is None else root) / "etc/systemd/system"
    links = []
    for pattern in ("*.wants", "*.requires"):
        for directory in base.glob(pattern):
            link = directory / name
            if os.path.lexists(link):
                links.append(link)
    return links


def unit_file_state(unit: Unit) -> str:
    if unit.load_state == "not-found":
        return ""
    if unit.load_state == "masked":
        return "masked"
    if unit.name != unit.id:
        return "alias"
    if _wants_links(unit.id):
        return "enabled"
    runtime = ROOT / "run/systemd/system"
    if any(os.path.lexists(d / unit.id) for d in runtime.glob("*.wants")):
        return "enabled-runtime"
    install = [k for k in ("WantedBy", "RequiredBy", "Alias", "Also") if unit.getlist("Install", k)]
    if not install:
        return "static"
    return "disabled"


def enable(unit: Unit, quiet: bool) -> list[str]:
    if unit.load_state == "masked":
        raise ShimError(f"Failed to enable unit: Unit {unit.id} is masked.")
    if unit.fragment is None:
        raise ShimError(f"Failed to enable unit: Unit file {unit.name} does not exist.")
    created = []
    base = config_dir()
    for key, suffix in (("WantedBy", ".wants"), ("RequiredBy", ".requires")):
        for target in unit.words("Install", key):
            link = base / f"{target}{suffix}" / unit.id
            if not os.path.lexists(link):
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(unit.fragment)
                created.append(f"Created symlink {link} → {unit.fragment}.")
    for alias in unit.words("Install", "Alias"):
        link = base / alias
        if not os.path.lexists(link):
            link.symlink_to(unit.fragment)
            created.append(f"Created symlink {link} → {unit.fragment}.")
    if not quiet:
        for line in created:
            print(line, file=sys.stderr)
        if unit_file_state(unit) == "static":
            print(
                f"The unit files have no installation config (WantedBy=, RequiredBy=, Also=, Alias= settings in the\n"
                f"[Install] section) for {unit.id}; it is static and is not enabled.",
                file=sys.stderr,
            )
    return created


def disable(unit: Unit, quiet: bool) -> list[str]:
    removed = []
    for link in _wants_links(unit.id):
        link.unlink()
        removed.append(f'Removed "{link}".')
    for alias in unit.words("Install", "Alias"):
        link = config_dir() / alias
        if link.is_symlink() and Path(os.readlink(link)).name == unit.id:
            link.unlink()
            removed.append(f'Removed "{link}".')
    if not quiet:
        for line in removed:
            print(line, file=sys.stderr)
    return removed


# ---------------------------------------------------------------------------------------------
# Runtime state


def _proc_starttime(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat, or None when the PID is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in {"Z", "X"}:
        return None
    return fields[19]


def _pid_alive(pid: int) -> bool:
    return pid > 0 and _proc_starttime(pid) is not None


class Runtime:
    """The state one unit's keeper keeps under /run/kubeforge-units/<unit>/."""

    def __init__(self, unit_id: str):
        self.unit_id = unit_id
        self.dir = state_root() / unit_id

    def read(self) -> dict:
        try:
            return json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def write(self, **changes: object) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self.read()
        now = time.time()
        if "ActiveState" in changes and changes["ActiveState"] != state.get("ActiveState"):
            state["StateChangeTimestamp"] = now
            stamp = {
                "active": "ActiveEnterTimestamp",
                "inactive": "InactiveEnterTimestamp",
                "failed": "InactiveEnterTimestamp",
            }.get(str(changes["ActiveState"]))
            if stamp:
                state[stamp] = now
            if state.get("ActiveState") == "active":
                state["ActiveExitTimestamp"] = now
            if state.get("ActiveState") in {"inactive", "failed", None}:
                state["InactiveExitTimestamp"] = now
        state.update(changes)
        tmp = self.dir / f"state.json.{os.getpid()}"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.dir / "state.json")
        return state

    def keeper(self) -> int:
        """The keeper's PID when it still runs (checked against its start time), else 0."""
        try:
            pid_text, starttime = (self.dir / "keeper.pid").read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return 0
        return pid if _proc_starttime(pid) == starttime else 0

    def current(self) -> dict:
        state = self.read()
        active = state.get("ActiveState", "inactive")
        if active in ACTIVE_STATES and state.get("SubState") != "exited" and not self.keeper():
            # The keeper vanished (killed from outside): what systemd would report as a crash.
            state.update(ActiveState="failed", SubState="failed", MainPID=0, Result=state.get("Result") or "signal")
        state.setdefault("ActiveState", "inactive")
        state.setdefault("SubState", "dead")
        state.setdefault("MainPID", 0)
        state.setdefault("Result", "success")
        return state

    @contextlib.contextmanager
    def lock(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _now_text(stamp: float | None) -> str:
    if not stamp:
        return ""
    return time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(stamp))


def _log_line(log, message: str) -> None:
    stamp = time.strftime("%b %d %H:%M:%S")
    log.write(f"{stamp} {socket.gethostname()} systemd[1]: {message}\n".encode())
    log.flush()


# ---------------------------------------------------------------------------------------------
# The keeper: one per started service


class StopRequested(Exception):
    """SIGTERM reached the keeper: stop the service."""


class Keeper:
    WATCHED = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP)

    def __init__(self, unit_id: str, report_fd: int):
        self.unit_id = unit_id
        self.runtime = Runtime(unit_id)
        self.report_fd = report_fd
        self.main_pid = 0
        self.stop_requested = False
        log_dir().mkdir(parents=True, exist_ok=True)
        self.log_fd = os.open(unit_log(unit_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.log = os.fdopen(os.dup(self.log_fd), "ab", buffering=0)
        self.notify_sock: socket.socket | None = None
        self.reaped: dict[int, int] = {}

    # -- plumbing ------------------------------------------------------------------------------
    def report(self, message: str) -> None:
        if self.report_fd < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self.report_fd, message.encode() + b"\n")
        with contextlib.suppress(OSError):
            os.close(self.report_fd)
        self.report_fd = -1

    def say(self, message: str) -> None:
        _log_line(self.log, message)

    def wait_signal(self, timeout: float) -> int | None:
        info = signal.sigtimedwait(self.WATCHED, max(timeout, 0))
        if info is None:
            return None
        if info.si_signo in (signal.SIGTERM, signal.SIGINT):
            self.stop_requested = True
        return info.si_signo

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped[pid] = status

    def wait_pid(self, pid: int, timeout: float | None, stoppable: bool = True) -> int | None:
        """Wait for a child; its wait status, or None on timeout (or on a stop request)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.reap()
            if pid in self.reaped:
                return self.reaped.pop(pid)
            if stoppable and self.stop_requested:
                return None
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if left <= 0:
                return None
            self.wait_signal(left)

    def spawn(self, argv: list[str], env: dict[str, str], unit: Unit) -> int:
        """fork+exec in a new session (process group = PID); an exec failure exits 203 as in systemd."""
        workdir = unit.get("Service", "WorkingDirectory") or "/"
        optional_workdir = workdir.startswith("-")
        workdir = workdir.lstrip("-")
        workdir = "/root" if workdir == "~" else workdir
        if optional_workdir and not os.path.isdir(workdir):
            workdir = "/"
        limits = {
            "LimitNOFILE": resource.RLIMIT_NOFILE,
            "LimitNPROC": resource.RLIMIT_NPROC,
            "LimitCORE": resource.RLIMIT_CORE,
            "LimitMEMLOCK": resource.RLIMIT_MEMLOCK,
        }
        wanted = {limit: unit.get("Service", key) for key, limit in limits.items() if unit.get("Service", key)}
        oom = unit.get("Service", "OOMScoreAdjust")
        umask = unit.get("Service", "UMask")
        ids = _user_ids(unit.get("Service", "User"), unit.get("Service", "Group"), env)
        devnull = os.open(os.devnull, os.O_RDONLY)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.setsid()
                os.dup2(devnull, 0)
                os.dup2(self.log_fd, 1)
                os.dup2(self.log_fd, 2)
                os.closerange(3, 65536)
                os.chdir(workdir)
                for limit, text in wanted.items():
                    _set_limit(limit, text)
                if oom:
                    with contextlib.suppress(OSError):
                        Path("/proc/self/oom_score_adj").write_text(oom)
                if umask:
                    os.umask(int(umask, 8))
                if ids:
                    name, uid, gid = ids
                    os.initgroups(name, gid)
                    os.setgid(gid)
                    os.setuid(uid)
                for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                os.execve(argv[0], argv, env)  # noqa: S606 - argv comes from the unit file, as in systemd
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    os.write(2, f"Failed to execute {argv[0]}: {exc}\n".encode())
            os._exit(CMD_NOT_FOUND)
        os.close(devnull)
        return pid

    def run_control(self, label: str, commands: list[ExecCommand], env: dict[str, str], unit: Unit) -> str:
        """Run ExecStartPre=-style commands one by one; '' on success, else the failure result."""
        timeout = service_config(unit).timeout_start
        for cmd in commands:
            argv = resolve_command(cmd, env)
            pid = self.spawn(argv, env, unit)
            status = self.wait_pid(pid, timeout)
            if status is None:
                _killpg(pid, signal.SIGKILL)
                self.wait_pid(pid, 5, stoppable=False)
                return "timeout" if not self.stop_requested else "stopped"
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and not cmd.ignore_failure:
                self.say(f"{self.unit_id}: {label} {argv[0]} failed with status {code}")
                return "exit-code" if code > 0 else "signal"
        return ""

    def open_notify_socket(self) -> str:
        path = self.runtime.dir / "notify"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.setblocking(False)
        self.notify_sock = sock
        return str(path)

    def read_notify(self) -> dict[str, str]:
        messages: dict[str, str] = {}
        while self.notify_sock is not None:
            try:
                data = self.notify_sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            for line in data.decode(errors="replace").splitlines():
                key, _, value = line.partition("=")
                messages[key] = value
        return messages

    def wait_ready(self, timeout: float | None) -> str:
        """Type=notify: wait for READY=1; '' when ready, else the failure result."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            messages = self.read_notify()
            if messages.get("MAINPID", "").isdigit():
                self.main_pid = int(messages["MAINPID"])
            if messages.get("READY") == "1":
                return ""
            self.reap()
            if self.main_pid in self.reaped:
                return "protocol"
            if self.stop_requested:
                return "stopped"
            if deadline is not None and time.monotonic() > deadline:
                return "timeout"
            if self.notify_sock is not None:
                select.select([self.notify_sock], [], [], 0.05)
            self.wait_signal(0)

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> None:
        starts: list[float] = []
        restarts = 0
        while True:
            unit = load_unit(self.unit_id)
            config = service_config(unit)
            now = time.monotonic()
            starts = [t for t in starts if config.start_limit_interval == 0 or now - t < config.start_limit_interval]
            starts.append(now)
            if config.start_limit_interval and len(starts) > config.start_limit_burst:
                self.say(f"{self.unit_id}: Start request repeated too quickly.")
                self.finish(unit, "start-limit-hit", failed=True)
                return
            result, status = self.start_once(unit, config, restarts)
            if result == "remain":
                return
            if result not in {"success", "stopped"}:
                self.report(f"fail {result}")  # the start job failed, whatever Restart= does next
            if result == "stopped":
                self.finish(unit, "success", failed=False)
                return
            if not self.should_restart(config, result, status):
                self.finish(unit, result, failed=result != "success")
                return
            restarts += 1
            self.runtime.write(
                ActiveState="activating", SubState="auto-restart", MainPID=0, NRestarts=restarts, Result=result
            )
            self.say(f"{self.unit_id}: Scheduled restart job, restart counter is at {restarts}.")
            deadline = time.monotonic() + config.restart_sec
            while time.monotonic() < deadline and not self.stop_requested:
                self.wait_signal(deadline - time.monotonic())
                self.reap()
            if self.stop_requested:
                self.finish(unit, "success", failed=False)
                return

    def should_restart(self, config: ServiceConfig, result: str, status: int | None) -> bool:
        code = os.waitstatus_to_exitcode(status) if status is not None else None
        if code is not None and code > 0 and code in config.prevent_status:
            return False
        clean = result == "success"
        killed_unclean = code is not None and code < 0 and -code not in config.success_signals
        return {
            "always": True,
            "on-success": clean,
            "on-failure": not clean,
            "on-abnormal": killed_unclean or result == "timeout",
            "on-abort": killed_unclean,
        }.get(config.restart, False)

    def prepare_directories(self, unit: Unit) -> None:
        mode = int(unit.get("Service", "RuntimeDirectoryMode", "0755"), 8)
        for key, base in (
            ("RuntimeDirectory", "run"),
            ("StateDirectory", "var/lib"),
            ("LogsDirectory", "var/log"),
            ("CacheDirectory", "var/cache"),
            ("ConfigurationDirectory", "etc"),
        ):
            for name in unit.words("Service", key):
                path = ROOT / base / name
                path.mkdir(parents=True, exist_ok=True)
                if key == "RuntimeDirectory":
                    path.chmod(mode)

    def start_once(self, unit: Unit, config: ServiceConfig, restarts: int) -> tuple[str, int | None]:
        """Run one start of the service until it exits; (result, wait status of the main process)."""
        invocation = uuid.uuid4().hex
        self.runtime.write(
            ActiveState="activating",
            SubState="start-pre",
            MainPID=0,
            NRestarts=restarts,
            InvocationID=invocation,
            Result="success",
        )
        try:
            env = service_environment(unit)
        except ShimError as exc:
            self.say(f"{self.unit_id}: {exc}")
            return "resources", None
        env["INVOCATION_ID"] = invocation
        self.prepare_directories(unit)
        result = self.run_control("ExecStartPre", _commands(unit, "ExecStartPre"), env, unit)
        if result:
            return result, None
        if config.type == "oneshot":
            return self.run_oneshot(unit, config, env)
        if config.type not in {"simple", "exec", "notify", "idle"}:
            self.say(f"{self.unit_id}: Type={config.type} is not supported by the test-bed systemctl shim")
            return "resources", None
        commands = _commands(unit, "ExecStart")
        if len(commands) != 1:
            self.say(f"{self.unit_id}: Service has {len(commands)} ExecStart= settings; exactly one is required.")
            return "resources", None
        if config.type == "notify":
            env["NOTIFY_SOCKET"] = self.open_notify_socket()
        argv = resolve_command(commands[0], env)
        started = time.time()
        self.main_pid = self.spawn(argv, env, unit)
        self.write_main_pid(started)
        self.say(f"Starting {self.unit_id} - {unit.description} (pid {self.main_pid})...")
        if config.type == "notify":
            result = self.wait_ready(config.timeout_start)
            if result:
                return self.stop_main(unit, config, env, result)
        env["MAINPID"] = str(self.main_pid)
        result = self.run_control("ExecStartPost", _commands(unit, "ExecStartPost"), env, unit)
        if result:
            return self.stop_main(unit, config, env, result)
        self.runtime.write(ActiveState="active", SubState="running")
        self.say(f"Started {self.unit_id} - {unit.description}.")
        self.report("ok")
        return self.watch_main(unit, config, env, commands[0])

    def write_main_pid(self, started: float) -> None:
        (self.runtime.dir / "main.pid").write_text(f"{self.main_pid}\n")
        self.runtime.write(
            ActiveState="activating",
            SubState="start",
            MainPID=self.main_pid,
            ExecMainPID=self.main_pid,
            ExecMainStartTimestamp=started,
            ExecMainExitTimestamp=0,
            ExecMainCode=0,
            ExecMainStatus=0,
        )

    def run_oneshot(self, unit: Unit, config: ServiceConfig, env: dict[str, str]) -> tuple[str, int | None]:
        self.runtime.write(ActiveState="activating", SubState="start")
        result = self.run_control("ExecStart", _commands(unit, "ExecStart"), env, unit)
        result = result or self.run_control("ExecStartPost", _commands(unit, "ExecStartPost"), env, unit)
        if result:
            return result, None
        if config.remain_after_exit:
            self.runtime.write(ActiveState="active", SubState="exited", MainPID=0)
            self.say(f"Finished {self.unit_id} - {unit.description}.")
            self.report("ok")
            return "remain", None
        self.say(f"Finished {self.unit_id} - {unit.description}.")
        return "success", None

    def watch_main(
        self, unit: Unit, config: ServiceConfig, env: dict[str, str], command: ExecCommand
    ) -> tuple[str, int | None]:
        while True:
            self.reap()
            if self.main_pid in self.reaped:
                status = self.reaped.pop(self.main_pid)
                return self.main_exited(unit, config, env, command, status)
            if self.stop_requested:
                return self.stop_main(unit, config, env, "stopped")
            self.read_notify()
            self.wait_signal(1.0)

    def main_exited(
        self, unit: Unit, config: ServiceConfig, env: dict[str, str], command: ExecCommand, status: int
    ) -> tuple[str, int | None]:
        code = os.waitstatus_to_exitcode(status)
        self.runtime.write(
            ExecMainExitTimestamp=time.time(),
            ExecMainCode=1 if code >= 0 else (3 if os.WCOREDUMP(status) else 2),
            ExecMainStatus=code if code >= 0 else -code,
            MainPID=0,
        )
        if code >= 0:
            clean = code in config.success_status or command.ignore_failure
            self.say(f"{self.unit_id}: Main process exited, code=exited, status={code}")
        else:
            clean = -code in config.success_signals or command.ignore_failure
            self.say(f"{self.unit_id}: Main process exited, code=killed, status={-code}/{signal.Signals(-code).name}")
        result = "success" if clean else ("exit-code" if code > 0 else "signal")
        self.runtime.write(ActiveState="deactivating", SubState="stop-sigterm")
        if config.kill_mode in {"control-group", "mixed"}:
            self.kill_group(self.main_pid, config, signal.SIGTERM if config.kill_mode == "control-group" else None)
        self.run_control("ExecStopPost", _commands(unit, "ExecStopPost"), env, unit)
        return result, status

    def stop_main(self, unit: Unit, config: ServiceConfig, env: dict[str, str], result: str) -> tuple[str, int | None]:
        """Stop the running main process as `systemctl stop` does."""
        self.runtime.write(ActiveState="deactivating", SubState="stop")
        self.say(f"Stopping {self.unit_id} - {unit.description}...")
        pid = self.main_pid
        env = {**env, "MAINPID": str(pid)}
        was_stop = self.stop_requested
        self.stop_requested = False
        self.run_control("ExecStop", _commands(unit, "ExecStop"), env, unit)
        status = self.reaped.pop(pid, None)
        if status is None and config.kill_mode != "none":
            if config.kill_mode == "control-group":
                _killpg(pid, config.kill_signal)
                _killpg(pid, signal.SIGCONT)
            else:
                _kill(pid, config.kill_signal)
                _kill(pid, signal.SIGCONT)
            status = self.wait_pid(pid, config.timeout_stop, stoppable=False)
            if status is None:
                self.say(f"{self.unit_id}: State 'stop-sigterm' timed out. Killing.")
                _killpg(pid, signal.SIGKILL) if config.kill_mode != "process" else _kill(pid, signal.SIGKILL)
                status = self.wait_pid(pid, 10, stoppable=False)
        if config.kill_mode in {"control-group", "mixed"}:
            self.kill_group(pid, config, signal.SIGTERM if config.kill_mode == "control-group" else None)
        self.run_control("ExecStopPost", _commands(unit, "ExecStopPost"), env, unit)
        self.stop_requested = was_stop or result == "stopped"
        changes: dict[str, object] = {"MainPID": 0, "ExecMainExitTimestamp": time.time()}
        if status is not None:
            code = os.waitstatus_to_exitcode(status)
            changes.update(ExecMainCode=1 if code >= 0 else 2, ExecMainStatus=abs(code))
        self.runtime.write(**changes)
        self.say(f"Stopped {self.unit_id} - {unit.description}.")
        return result, status

    def kill_group(self, pgid: int, config: ServiceConfig, first: int | None) -> None:
        """What is left of the process group after the main process: `first`, then SIGKILL."""
        if not _group_alive(pgid):
            return
        if first is not None:
            _killpg(pgid, first)
            _killpg(pgid, signal.SIGCONT)
            deadline = time.monotonic() + (config.timeout_stop or 90)
            while _group_alive(pgid) and time.monotonic() < deadline:
                self.wait_signal(0.1)
                self.reap()
        if _group_alive(pgid):
            _killpg(pgid, signal.SIGKILL)

    def finish(self, unit: Unit, result: str, failed: bool) -> None:
        if result == "remain":
            return
        for name in unit.words("Service", "RuntimeDirectory"):
            _remove_tree(ROOT / "run" / name)
        state = "failed" if failed else "inactive"
        self.runtime.write(ActiveState=state, SubState=state if failed else "dead", MainPID=0, Result=result)
        with contextlib.suppress(FileNotFoundError):
            (self.runtime.dir / "main.pid").unlink()
        if failed:
            self.say(f"{self.unit_id}: Failed with result '{result}'.")
            self.say(f"Failed to start {self.unit_id} - {unit.description}.")
            self.report(f"fail {result}")
        else:
            self.report("ok")


def _set_limit(limit: int, text: str) -> None:
    soft_text, _, hard_text = text.partition(":")
    values = []
    for part in (soft_text, hard_text or soft_text):
        values.append(resource.RLIM_INFINITY if part == "infinity" else int(part))
    if limit == resource.RLIMIT_NOFILE:
        with contextlib.suppress(OSError, ValueError):
            nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
            values = [nr_open if v == resource.RLIM_INFINITY else v for v in values]
    try:
        resource.setrlimit(limit, (values[0], values[1]))
    except (OSError, ValueError):
        # Raising a hard limit needs CAP_SYS_RESOURCE (missing in this VM): go as high as allowed.
        _, hard = resource.getrlimit(limit)
        capped = [
            v if hard == resource.RLIM_INFINITY or (v != resource.RLIM_INFINITY and v <= hard) else hard for v in values
        ]
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(limit, (capped[0], capped[1]))


def _user_ids(user: str, group: str, env: dict[str, str]) -> tuple[str, int, int] | None:
    """User=/Group= → (name, uid, gid), also setting HOME/USER/LOGNAME/SHELL as systemd does."""
    if not user and not group:
        return None
    import grp  # noqa: PLC0415 - only services with User=/Group= need these
    import pwd  # noqa: PLC0415

    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user or "root")
    except KeyError as exc:
        raise ShimError(f"Failed to determine user credentials: No such process ({user})") from exc
    gid = entry.pw_gid
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError as exc:
            raise ShimError(f"Failed to determine group credentials: No such process ({group})") from exc
    env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name, SHELL=entry.pw_shell)
    return entry.pw_name, entry.pw_uid, gid


def _commands(unit: Unit, key: str) -> list[ExecCommand]:
    return [cmd for value in unit.getlist("Service", key) for cmd in parse_exec(value)]


def _kill(pid: int, sig: int) -> None:
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _killpg(pgid: int, sig: int) -> None:
    if pgid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """A process group still has a member that is not a zombie."""
    if pgid <= 0:
        return False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if path.is_dir():
        for child in path.iterdir():
            _remove_tree(child)
        path.rmdir()


def _keeper_process(unit_id: str, report_fd: int) -> None:
    """The double-forked keeper: its own session, no inherited descriptors, signals via sigtimedwait."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, report_fd)
    os.closerange(report_fd + 1, 65536)
    os.chdir("/")
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(f"keep:{unit_id}"[:15])
    signal.pthread_sigmask(signal.SIG_BLOCK, Keeper.WATCHED)
    keeper = Keeper(unit_id, report_fd)
    stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    (keeper.runtime.dir / "keeper.pid").write_text(f"{os.getpid()} {stat[19]}\n")
    try:
        keeper.run()
    except Exception as exc:  # the keeper must record why it died
        keeper.say(f"{unit_id}: keeper error: {exc!r}")
        keeper.runtime.write(ActiveState="failed", SubState="failed", MainPID=0, Result="resources")
        keeper.report(f"fail resources {exc}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            (keeper.runtime.dir / "keeper.pid").unlink()
        with contextlib.suppress(FileNotFoundError):
            (keeper.runtime.dir / "notify").unlink()


def spawn_keeper(unit_id: str, block: bool) -> str:
    """Start the keeper (double fork so PID 1 adopts it); its report ('ok' or 'fail …')."""
    runtime = Runtime(unit_id)
    runtime.dir.mkdir(parents=True, exist_ok=True)
    (runtime.dir / "keeper.pid").unlink(missing_ok=True)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork() == 0:
                # A fresh interpreter, so `ps` shows what it is: python3 systemctl __keeper__ UNIT FD.
                os.set_inheritable(write_fd, True)
                argv = [sys.executable, os.path.abspath(__file__), KEEPER_VERB, unit_id, str(write_fd)]
                os.execv(sys.executable, argv)  # noqa: S606 - this very file
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    if not block:
        os.close(read_fd)
        return "ok"
    chunks = []
    while True:
        data = os.read(read_fd, 4096)
        if not data:
            break
        chunks.append(data)
    os.close(read_fd)
    return b"".join(chunks).decode().strip() or "fail resources (the keeper exited without a report)"


# ---------------------------------------------------------------------------------------------
# Verbs


@dataclass
class Options:
    quiet: bool = False
    now: bool = False
    no_block: bool = False
    all: bool = False
    value: bool = False
    legend: bool = True
    full: bool = False
    plain: bool = False
    properties: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    lines: int = 10
    signal: str = "SIGTERM"
    kill_whom: str = "all"
    scope: str = "system"


def loaded_unit(name: str, verb: str) -> Unit:
    unit = load_unit(name)
    if unit.load_state == "not-found":
        raise ShimError(f"Failed to {verb} {unit.name}: Unit {unit.name} not found.", EXIT_NOT_INSTALLED)
    if unit.load_state == "masked" and verb in {"start", "restart", "reload"}:
        raise ShimError(f"Failed to {verb} {unit.name}: Unit {unit.id} is masked.")
    return unit


def start_unit(unit: Unit, opts: Options) -> None:
    runtime = Runtime(unit.id)
    if unit.kind == "target":
        runtime.write(ActiveState="active", SubState="active")
        return
    if unit.kind != "service":
        raise ShimError(f"Failed to start {unit.id}: .{unit.kind} units are not supported by the test-bed shim.")
    state = runtime.current()
    if state["ActiveState"] in {"active", "activating", "reloading"} and (
        runtime.keeper() or state["SubState"] == "exited"
    ):
        return
    failed_condition = check_conditions(unit)
    if failed_condition:
        runtime.write(ActiveState="inactive", SubState="dead", ConditionResult="no", MainPID=0)
        with open(unit_log(unit.id), "ab") if log_dir().is_dir() else open(os.devnull, "wb") as log:
            _log_line(log, f"{unit.id} was skipped because of an unmet condition check ({failed_condition}).")
        return
    log_dir().mkdir(parents=True, exist_ok=True)
    report = spawn_keeper(unit.id, block=not opts.no_block)
    if report != "ok":
        result = report.split()[1] if len(report.split()) > 1 else "resources"
        reason = {
            "exit-code": "the control process exited with error code",
            "timeout": "a timeout was exceeded",
            "start-limit-hit": "start of the service was attempted too often",
            "protocol": "the service did not take the steps required by its unit configuration",
            "signal": "a fatal signal was delivered to the control process",
        }.get(result, "of a resource problem")
        raise ShimError(
            f"Job for {unit.id} failed because {reason}.\n"
            f'See "systemctl status {unit.id}" and "journalctl -xeu {unit.id}" for details.'
        )


def stop_unit(unit: Unit) -> None:
    runtime = Runtime(unit.id)
    keeper = runtime.keeper()
    state = runtime.current()
    if keeper:
        _kill(keeper, signal.SIGTERM)
        timeout = (service_config(unit).timeout_stop or 90) * 2 + 30 if unit.load_state == "loaded" else 120
        deadline = time.monotonic() + timeout
        while _pid_alive(keeper) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(keeper):
            raise ShimError(f"Failed to stop {unit.id}: the keeper (pid {keeper}) did not exit.")
    elif state["ActiveState"] == "active" and state["SubState"] == "exited" and unit.load_state == "loaded":
        env = service_environment(unit)
        for key in ("ExecStop", "ExecStopPost"):
            for cmd in _commands(unit, key):
                argv = resolve_command(cmd, env)
                with open(unit_log(unit.id), "ab") as log:
                    subprocess.run(argv, env=env, stdout=log, stderr=log, check=False)
        runtime.write(ActiveState="inactive", SubState="dead", Result="success")
    elif state["ActiveState"] == "active":
        runtime.write(ActiveState="inactive", SubState="dead", Result="success")
    state = runtime.current()
    if state["ActiveState"] in ACTIVE_STATES:
        runtime.write(ActiveState="inactive", SubState="dead", MainPID=0)


def reload_unit(unit: Unit) -> None:
    runtime = Runtime(unit.id)
    state = runtime.current()
    if state["ActiveState"] != "active":
        raise ShimError(f"Failed to reload {unit.id}: Unit {unit.id} is not active.")
    commands = _commands(unit, "ExecReload")
    if not commands:
        raise ShimError(f"Failed to reload {unit.id}: Job type reload is not applicable for unit {unit.id}.")
    env = {**service_environment(unit), "MAINPID": str(state.get("MainPID", 0))}
    with open(unit_log(unit.id), "ab") as log:
        for cmd in commands:
            proc = subprocess.run(resolve_command(cmd, env), env=env, stdout=log, stderr=log, check=False)
            if proc.returncode and not cmd.ignore_failure:
                raise ShimError(f"Job for {unit.id} failed because the control process exited with error code.")


def verb_start(names: list[str], opts: Options, verb: str) -> int:
    for name in names:
        unit = loaded_unit(name, "start" if verb == "start" else verb.split("-", maxsplit=1)[0])
        runtime = Runtime(unit.id)
        with runtime.lock():
            state = runtime.current()
            active = state["ActiveState"] in {"active", "activating", "reloading"}
            has_reload = bool(_commands(unit, "ExecReload"))
            if verb == "start":
                start_unit(unit, opts)
            elif verb in {"try-restart", "condrestart"}:
                if active:
                    stop_unit(unit)
                    start_unit(unit, opts)
            elif verb == "reload":
                reload_unit(unit)
            elif verb in {"reload-or-restart", "try-reload-or-restart", "force-reload"}:
                if active and has_reload and state["SubState"] == "running":
                    reload_unit(unit)
                elif active or verb == "reload-or-restart":
                    stop_unit(unit)
                    start_unit(unit, opts)
            else:  # restart
                stop_unit(unit)
                start_unit(unit, opts)
    return 0


def verb_stop(names: list[str], opts: Options) -> int:
    status = 0
    for name in names:
        unit = load_unit(name)
        if unit.load_state == "not-found" and not Runtime(unit.id).dir.exists():
            print(f"Failed to stop {unit.id}: Unit {unit.id} not loaded.", file=sys.stderr)
            status = EXIT_NOT_INSTALLED
            continue
        runtime = Runtime(unit.id)
        with runtime.lock():
            stop_unit(unit)
    return status


def verb_enable(names: list[str], opts: Options, verb: str) -> int:
    for name in names:
        unit = load_unit(name)
        if verb == "unmask":
            link = config_dir() / unit.name
            if link.is_symlink() and os.readlink(link) == "/dev/null":
                link.unlink()
                if not opts.quiet:
                    print(f'Removed "{link}".', file=sys.stderr)
            continue
        if verb == "mask":
            link = config_dir() / unit.name
            if os.path.lexists(link) and not _is_masked(link):
                raise ShimError(f"Failed to mask unit: File {link} already exists.")
            if not os.path.lexists(link):
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to("/dev/null")
                if not opts.quiet:
                    print(f"Created symlink {link} → /dev/null.", file=sys.stderr)
            if opts.now:
                verb_stop([unit.id], opts)
            continue
        if unit.load_state == "not-found":
            raise ShimError(f"Failed to {verb} unit: Unit file {unit.name} does not exist.")
        if verb in {"disable", "reenable"}:
            disable(unit, opts.quiet)
        if verb in {"enable", "reenable", "preset"}:
            enable(unit, opts.quiet)
        if opts.now:
            if verb == "disable":
                verb_stop([unit.id], opts)
            else:
                verb_start([unit.id], opts, "start" if verb == "enable" else "restart")
    return 0


def verb_is_enabled(names: list[str], opts: Options) -> int:
    status = 1
    for name in names:
        unit = load_unit(name)
        state = unit_file_state(unit)
        if not state:
            print(f"Failed to get unit file state for {unit.name}: No such file or directory", file=sys.stderr)
            continue
        if not opts.quiet:
            print(state)
        if state in {"enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "linked"}:
            status = 0
    return status


def verb_is_active(names: list[str], opts: Options, wanted: set[str]) -> int:
    status = EXIT_NOT_ACTIVE if "active" in wanted else 1
    for name in names:
        state = Runtime(load_unit(name).id).current()["ActiveState"]
        if not opts.quiet:
            print(state)
        if state in wanted:
            status = 0
    return status


def _bullet(state: dict) -> str:
    bullets = {"active": "●", "failed": "×", "activating": "●", "deactivating": "●", "reloading": "↻"}  # noqa: RUF001
    return bullets.get(state["ActiveState"], "○")


def _since(stamp: float | None) -> str:
    if not stamp:
        return ""
    ago = max(0, time.time() - stamp)
    if ago < 60:
        rel = f"{ago:.0f}s ago" if ago >= 1 else f"{ago * 1000:.0f}ms ago"
    elif ago < 3600:
        rel = f"{ago // 60:.0f}min {ago % 60:.0f}s ago"
    else:
        rel = f"{ago // 3600:.0f}h {ago % 3600 // 60:.0f}min ago"
    return f" since {_now_text(stamp)}; {rel}"


def status_text(unit: Unit, opts: Options) -> str:
    runtime = Runtime(unit.id)
    state = runtime.current()
    lines = [f"{_bullet(state)} {unit.id}" + (f" - {unit.description}" if unit.load_state == "loaded" else "")]
    if unit.load_state == "not-found":
        lines.append(f"     Loaded: not-found (Reason: Unit {unit.name} not found.)")
    elif unit.load_state == "masked":
        lines.append(f"     Loaded: masked (Reason: Unit {unit.id} is masked.)")
    else:
        file_state = unit_file_state(unit)
        lines.append(f"     Loaded: loaded ({unit.fragment}; {file_state}; preset: enabled)")
        dirs: dict[Path, list[str]] = {}
        for dropin in unit.dropins:
            dirs.setdefault(dropin.parent, []).append(dropin.name)
        label = "    Drop-In: "
        for directory, files in dirs.items():
            lines.append(f"{label}{directory}")
            lines.append("             └─" + ", ".join(files))
            label = "             "
    active, sub, result = state["ActiveState"], state["SubState"], state.get("Result", "success")
    since = _since(state.get("StateChangeTimestamp"))
    if active == "inactive" and sub == "dead" and not state.get("StateChangeTimestamp"):
        lines.append("     Active: inactive (dead)")
    elif active == "failed":
        lines.append(f"     Active: failed (Result: {result}){since}")
    elif result not in {"success", ""}:
        lines.append(f"     Active: {active} ({sub}) (Result: {result}){since}")
    else:
        lines.append(f"     Active: {active} ({sub}){since}")
    if state.get("ConditionResult") == "no":
        lines.append("  Condition: start condition unmet")
    pid = int(state.get("MainPID") or 0)
    if pid:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            comm = "?"
        lines.append(f"   Main PID: {pid} ({comm})")
    elif state.get("ExecMainPID"):
        code = {1: "exited", 2: "killed", 3: "dumped"}.get(int(state.get("ExecMainCode") or 0), "exited")
        lines.append(
            f"    Process: {state['ExecMainPID']} ExecStart (code={code}, status={state.get('ExecMainStatus', 0)})"
        )
        lines.append(f"   Main PID: {state['ExecMainPID']} (code={code}, status={state.get('ExecMainStatus', 0)})")
    tail = _tail(unit_log(unit.id), opts.lines)
    if tail:
        lines += ["", *tail]
    return "\n".join(lines)


def _tail(path: Path, count: int) -> list[str]:
    if count <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            data = handle.read().decode(errors="replace")
    except OSError:
        return []
    return data.splitlines()[-count:]


def verb_status(names: list[str], opts: Options) -> int:
    if not names:
        print(f"● {socket.gethostname()}\n    State: running\n    Units: kubeforge test-bed systemctl shim")
        return 0
    status = 0
    blocks = []
    for name in names:
        unit = load_unit(name)
        blocks.append(status_text(unit, opts))
        if unit.load_state == "not-found" and not Runtime(unit.id).dir.exists():
            print(f"Unit {unit.name} could not be found.", file=sys.stderr)
            status = max(status, EXIT_NO_UNIT)
        elif Runtime(unit.id).current()["ActiveState"] not in {"active", "reloading"}:
            status = max(status, EXIT_NOT_ACTIVE)
    print("\n\n".join(blocks))
    return status


def _exec_property(unit: Unit, key: str, state: dict) -> list[str]:
    values = []
    for cmd in _commands(unit, key):
        pid = state.get("ExecMainPID", 0) if key == "ExecStart" else 0
        code = {1: "exited", 2: "killed", 3: "dumped"}.get(int(state.get("ExecMainCode") or 0), "(null)")
        values.append(
            f"{{ path={cmd.path} ; argv[]={' '.join(cmd.argv)} ; "
            f"ignore_errors={'yes' if cmd.ignore_failure else 'no'} ; "
            f"start_time=[{_now_text(state.get('ExecMainStartTimestamp')) or 'n/a'}] ; "
            f"stop_time=[{_now_text(state.get('ExecMainExitTimestamp')) or 'n/a'}] ; pid={pid} ; code={code} ; "
            f"status={state.get('ExecMainStatus', 0)}/{state.get('ExecMainStatus', 0)} }}"
        )
    return values


def unit_properties(unit: Unit) -> list[tuple[str, str]]:
    state = Runtime(unit.id).current()
    props: list[tuple[str, str]] = []
    if unit.kind == "service" and unit.load_state == "loaded":
        config = service_config(unit)
        props += [
            ("Type", config.type),
            ("Restart", config.restart),
            ("NotifyAccess", "main" if config.type == "notify" else "none"),
            ("RestartUSec", format_timespan(config.restart_sec)),
            ("TimeoutStartUSec", format_timespan(config.timeout_start)),
            ("TimeoutStopUSec", format_timespan(config.timeout_stop)),
            ("RuntimeMaxUSec", "infinity"),
            ("WatchdogUSec", "0"),
            ("RemainAfterExit", "yes" if config.remain_after_exit else "no"),
        ]
    props += [
        ("MainPID", str(state.get("MainPID", 0))),
        ("ControlPID", "0"),
        ("Result", state.get("Result", "success")),
        ("NRestarts", str(state.get("NRestarts", 0))),
        ("ExecMainStartTimestamp", _now_text(state.get("ExecMainStartTimestamp"))),
        ("ExecMainExitTimestamp", _now_text(state.get("ExecMainExitTimestamp"))),
        ("ExecMainPID", str(state.get("ExecMainPID", 0))),
        ("ExecMainCode", str(state.get("ExecMainCode", 0))),
        ("ExecMainStatus", str(state.get("ExecMainStatus", 0))),
    ]
    if unit.load_state == "loaded":
        for key in ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"):
            props += [(key, value) for value in _exec_property(unit, key, state)]
        env = parse_assignments(unit.getlist("Service", "Environment"))
        props.append(("Environment", " ".join(f"{k}={v}" for k, v in env.items())))
        for spec in unit.getlist("Service", "EnvironmentFile"):
            optional = "yes" if spec.startswith("-") else "no"
            props.append(("EnvironmentFiles", f"{spec.lstrip('-')} (ignore_errors={optional})"))
        props += [
            ("WorkingDirectory", unit.get("Service", "WorkingDirectory")),
            ("KillMode", unit.get("Service", "KillMode", "control-group")),
            ("KillSignal", str(service_config(unit).kill_signal) if unit.kind == "service" else "15"),
            ("Requires", " ".join(unit.words("Unit", "Requires"))),
            ("Wants", " ".join(unit.words("Unit", "Wants"))),
            ("WantedBy", " ".join(unit.words("Install", "WantedBy"))),
            ("After", " ".join(unit.words("Unit", "After"))),
            ("Before", " ".join(unit.words("Unit", "Before"))),
            ("Documentation", " ".join(unit.words("Unit", "Documentation"))),
        ]
    props += [
        ("Slice", "system.slice" if unit.kind == "service" else ""),
        ("Id", unit.id),
        ("Names", " ".join(unit.names)),
        ("Description", unit.description if unit.load_state == "loaded" else unit.id),
        ("LoadState", unit.load_state),
        ("ActiveState", state["ActiveState"]),
        ("FreezerState", "running"),
        ("SubState", state["SubState"]),
        ("FragmentPath", str(unit.fragment) if unit.load_state == "loaded" else ""),
        ("DropInPaths", " ".join(str(p) for p in unit.dropins)),
        ("UnitFileState", unit_file_state(unit)),
        ("UnitFilePreset", "enabled" if unit.load_state == "loaded" else ""),
        ("StateChangeTimestamp", _now_text(state.get("StateChangeTimestamp"))),
        ("ActiveEnterTimestamp", _now_text(state.get("ActiveEnterTimestamp"))),
        ("ActiveExitTimestamp", _now_text(state.get("ActiveExitTimestamp"))),
        ("InactiveEnterTimestamp", _now_text(state.get("InactiveEnterTimestamp"))),
        ("InactiveExitTimestamp", _now_text(state.get("InactiveExitTimestamp"))),
        ("CanStart", "yes" if unit.load_state == "loaded" else "no"),
        ("CanStop", "yes" if unit.load_state == "loaded" else "no"),
        ("CanReload", "yes" if _commands(unit, "ExecReload") else "no"),
        ("CanIsolate", "no"),
        ("NeedDaemonReload", "no"),
        ("ConditionResult", "no" if state.get("ConditionResult") == "no" else "yes"),
        ("InvocationID", state.get("InvocationID", "")),
    ]
    if unit.load_state == "not-found":
        props.append(("LoadError", f'org.freedesktop.systemd1.NoSuchUnit "Unit {unit.name} not found."'))
    elif unit.load_state == "masked":
        props.append(("LoadError", f'org.freedesktop.systemd1.UnitMasked "Unit {unit.id} is masked."'))
    return props


def manager_properties() -> list[tuple[str, str]]:
    return [
        ("Version", VERSION),
        ("Features", "-PAM -AUDIT -SELINUX (kubeforge test-bed systemctl shim)"),
        ("Virtualization", ""),
        ("Architecture", os.uname().machine),
        ("SystemState", "running"),
        ("DefaultStandardOutput", "journal"),
    ]


def verb_show(names: list[str], opts: Options) -> int:
    wanted = [p for spec in opts.properties for p in spec.split(",") if p]
    blocks = []
    for props in [manager_properties()] if not names else [unit_properties(load_unit(n)) for n in names]:
        lines = []
        for key, value in props:
            if wanted and key not in wanted:
                continue
            if not wanted and not opts.all and value == "":
                continue
            lines.append(value if opts.value else f"{key}={value}")
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return 0


def verb_cat(names: list[str], opts: Options) -> int:
    for name in names:
        unit = load_unit(name)
        if unit.load_state != "loaded":
            raise ShimError(f"No files found for {unit.name}.")
        for path in [p for p in (unit.fragment, *unit.dropins) if p is not None]:
            print(f"# {path}")
            print(path.read_text())
    return 0


def _type_matches(name: str, opts: Options) -> bool:
    return not opts.types or any(name.endswith("." + t) for t in opts.types)


def verb_list_unit_files(patterns: list[str], opts: Options) -> int:
    rows = []
    for name in all_unit_names():
        if not _type_matches(name, opts) or (patterns and not any(fnmatch.fnmatch(name, p) for p in patterns)):
            continue
        state = unit_file_state(load_unit(name))
        if opts.states and state not in opts.states:
            continue
        rows.append((name, state, "enabled" if state not in {"static", "masked", "alias"} else "-"))
    width = max([len(r[0]) for r in rows] + [9]) + 1
    if opts.legend:
        print(f"{'UNIT FILE':<{width}} {'STATE':<15} VENDOR PRESET")
    for name, state, preset in rows:
        print(f"{name:<{width}} {state:<15} {preset}")
    if opts.legend:
        print(f"\n{len(rows)} unit files listed.")
    return 0 if rows else 1


def verb_list_units(patterns: list[str], opts: Options) -> int:
    rows = []
    names = set(all_unit_names())
    if state_root().is_dir():
        names |= {p.name for p in state_root().iterdir()}
    for name in sorted(names):
        if not _type_matches(name, opts) or (patterns and not any(fnmatch.fnmatch(name, p) for p in patterns)):
            continue
        unit = load_unit(name)
        if unit.id != name:
            continue
        state = Runtime(unit.id).current()
        listed = opts.all or state["ActiveState"] != "inactive"
        if not listed or (
            opts.states and state["ActiveState"] not in opts.states and state["SubState"] not in opts.states
        ):
            continue
        rows.append((name, unit.load_state, state["ActiveState"], state["SubState"], unit.description))
    width = max([len(r[0]) for r in rows] + [4]) + 1
    if opts.legend:
        print(f"  {'UNIT':<{width}} LOAD   ACTIVE   SUB     DESCRIPTION")
    for name, load, active, sub, description in rows:
        lead = "" if opts.plain else ("● " if active == "failed" or load != "loaded" else "  ")
        print(f"{lead}{name:<{width}} {load:<6} {active:<8} {sub:<7} {description}")
    if opts.legend:
        print(f"\n{len(rows)} loaded units listed.")
    return 0


def verb_kill(names: list[str], opts: Options) -> int:
    sig = opts.signal if opts.signal.startswith("SIG") else f"SIG{opts.signal}"
    signum = int(opts.signal) if opts.signal.isdigit() else int(getattr(signal, sig))
    for name in names:
        unit = loaded_unit(name, "kill")
        pid = int(Runtime(unit.id).current().get("MainPID") or 0)
        if not pid:
            raise ShimError(f"Failed to kill unit {unit.id}: No main process to kill")
        _killpg(pid, signum) if opts.kill_whom == "all" else _kill(pid, signum)
    return 0


def verb_reset_failed(names: list[str], opts: Options) -> int:
    targets = names or ([p.name for p in state_root().iterdir()] if state_root().is_dir() else [])
    for name in targets:
        runtime = Runtime(load_unit(name).id)
        if runtime.current()["ActiveState"] == "failed":
            runtime.write(ActiveState="inactive", SubState="dead", Result="success")
    return 0


def parse_args(argv: list[str]) -> tuple[Options, list[str]]:
    opts = Options()
    args: list[str] = []
    with_value = {
        "-p": "property",
        "-t": "type",
        "-n": "lines",
        "-s": "signal",
        "-o": "output",
        "-H": "host",
        "-M": "machine",
    }
    long_with_value = {
        "property",
        "type",
        "state",
        "lines",
        "signal",
        "kill-whom",
        "kill-who",
        "output",
        "host",
        "machine",
        "root",
        "job-mode",
        "legend",
        "what",
        "check-inhibitors",
        "timestamp",
        "when",
    }
    flags = {"q": "quiet", "l": "full", "a": "all", "f": "force", "r": "recursive", "i": "ignore-inhibitors"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            args += argv[i + 1 :]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in long_with_value and not eq:
                i += 1
                value = argv[i] if i < len(argv) else ""
            _set_option(opts, name, value)
        elif arg.startswith("-") and len(arg) > 1:
            if arg[:2] in with_value:
                value = arg[2:]
                if not value:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                _set_option(opts, with_value[arg[:2]], value)
            else:
                for letter in arg[1:]:
                    _set_option(opts, flags.get(letter, letter), "")
        else:
            args.append(arg)
        i += 1
    return opts, args


def _set_option(opts: Options, name: str, value: str) -> None:
    simple = {
        "quiet": "quiet",
        "now": "now",
        "no-block": "no_block",
        "all": "all",
        "value": "value",
        "full": "full",
        "plain": "plain",
    }
    if name in simple:
        setattr(opts, simple[name], True)
    elif name == "no-legend" or (name == "legend" and value in {"no", "false", "0"}):
        opts.legend = False
    elif name == "property":
        opts.properties.append(value)
    elif name == "type":
        opts.types += [t for t in value.split(",") if t]
    elif name == "state":
        opts.states += [s for s in value.split(",") if s]
    elif name == "lines":
        opts.lines = int(value) if value.isdigit() else 10
    elif name == "signal":
        opts.signal = value
    elif name in {"kill-whom", "kill-who"}:
        opts.kill_whom = value
    elif name in {"user", "global"}:
        opts.scope = name
    elif name in {"host", "machine", "root"}:
        raise ShimError(f"--{name} is not supported by the kubeforge test-bed systemctl shim.")


def main(argv: list[str] | None = None) -> int:
    program = Path(sys.argv[0]).name
    if program in {"shutdown", "reboot", "halt", "poweroff", "telinit", "runlevel"}:
        print(
            f"{program}: not supported on a kubeforge test-bed node (no systemd); use tools/nodes.py", file=sys.stderr
        )
        return 1
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [KEEPER_VERB] and len(argv) == 3:
        _keeper_process(argv[1], int(argv[2]))
        return 0
    try:
        opts, args = parse_args(argv)
        if "--version" in argv:
            print(f"systemd {VERSION} (kubeforge test-bed systemctl shim)")
            return 0
        if "--help" in argv or "-h" in argv:
            print(__doc__)
            return 0
        if opts.scope != "system":
            raise ShimError(
                "Failed to connect to bus: No medium found (only --system is supported by the test-bed shim)"
            )
        verb, names = (args[0], args[1:]) if args else ("list-units", [])
        return run_verb(verb, names, opts)
    except ShimError as exc:
        print(str(exc), file=sys.stderr)
        return exc.status
    except BrokenPipeError:
        return 0


def run_verb(verb: str, names: list[str], opts: Options) -> int:
    needs_names = {
        "start",
        "stop",
        "restart",
        "try-restart",
        "condrestart",
        "reload",
        "reload-or-restart",
        "try-reload-or-restart",
        "force-reload",
        "enable",
        "disable",
        "reenable",
        "preset",
        "mask",
        "unmask",
        "is-enabled",
        "is-active",
        "is-failed",
        "kill",
        "cat",
    }
    if verb in needs_names and not names:
        raise ShimError(f"Too few arguments.\nUsage: systemctl {verb} UNIT...")
    if verb == "start" or verb in {
        "restart",
        "try-restart",
        "condrestart",
        "reload",
        "reload-or-restart",
        "try-reload-or-restart",
        "force-reload",
    }:
        return verb_start(names, opts, verb)
    handlers = {
        "stop": verb_stop,
        "is-enabled": verb_is_enabled,
        "status": verb_status,
        "show": verb_show,
        "cat": verb_cat,
        "list-unit-files": verb_list_unit_files,
        "list-units": verb_list_units,
        "kill": verb_kill,
        "reset-failed": verb_reset_failed,
    }
    if verb in handlers:
        return handlers[verb](names, opts)
    if verb in {"enable", "disable", "reenable", "preset", "mask", "unmask"}:
        return verb_enable(names, opts, verb)
    if verb == "is-active":
        return verb_is_active(names, opts, {"active", "reloading"})
    if verb == "is-failed":
        return verb_is_active(names, opts, {"failed"})
    if verb in {"daemon-reload", "daemon-reexec"}:
        return 0
    if verb == "is-system-running":
        if not opts.quiet:
            print("running")
        return 0
    if verb == "show-environment":
        print(f"PATH={DEFAULT_PATH}")
        return 0
    raise ShimError(f"Unknown command verb '{verb}' (not implemented by the kubeforge test-bed systemctl shim).")


if __name__ == "__main__":
    sys.exit(main())
