#!/usr/bin/python3
"""journalctl for kubeforge test-bed nodes: a TEST-BED STAND-IN on hosts without systemd-journald.

Installed by tools/nodes/init.py as /usr/bin/journalctl inside a node. It prints the logs that the
systemctl stand-in (tools/nodes/systemctl.py) writes to /var/log/kubeforge-units/<unit>.log: a
unit's stdout/stderr plus its start/stop messages. Supported: -u/--unit (repeatable), -n/--lines,
-f/--follow, -e (last 1000 lines), and, accepted and ignored, -x -b -q -a --no-pager --no-hostname
-o/--output --since/--until. Without -u it prints every unit's log, one after the other.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

LOG_DIR = Path("/var/log/kubeforge-units")
SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".slice", ".scope")


def unit_file(name: str) -> Path:
    if not name.endswith(SUFFIXES):
        name += ".service"
    return LOG_DIR / f"{name}.log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="journalctl", add_help=True)
    parser.add_argument("-u", "--unit", action="append", default=[])
    parser.add_argument("-n", "--lines", default=None)
    parser.add_argument("-f", "--follow", action="store_true")
    parser.add_argument("-e", "--pager-end", action="store_true")
    for flag in ("-x", "-b", "-q", "-a", "-k"):
        parser.add_argument(flag, action="store_true")
    for flag in ("--no-pager", "--no-hostname", "--catalog", "--boot", "--quiet", "--all", "--utc"):
        parser.add_argument(flag, action="store_true")
    for option in ("-o", "--output", "--since", "--until", "-S", "-U", "-p", "--priority", "-t"):
        parser.add_argument(option, default=None)
    args, _ = parser.parse_known_args(argv)
    paths = [unit_file(u) for u in args.unit] if args.unit else sorted(LOG_DIR.glob("*.log"))
    count = int(args.lines) if args.lines and args.lines.isdigit() else (1000 if args.pager_end else None)
    if not any(p.exists() for p in paths):
        print("-- No entries --")
        if not args.follow:
            return 0
    for path in paths:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines[-count:] if count is not None else lines:
            print(line)
    sys.stdout.flush()
    if args.follow:
        offsets = {p: (p.stat().st_size if p.exists() else 0) for p in paths}
        try:
            while True:
                time.sleep(0.5)
                for path in paths:
                    if not path.exists():
                        continue
                    with open(path, "rb") as handle:
                        handle.seek(offsets[path])
                        data = handle.read()
                        offsets[path] = handle.tell()
                    if data:
                        sys.stdout.write(data.decode(errors="replace"))
                        sys.stdout.flush()
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
