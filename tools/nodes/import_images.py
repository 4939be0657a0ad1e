#!/usr/bin/python3
"""containerd.service's ExecStartPost= on a kubeforge test-bed node: imports the test bed's images.

There is no registry here, so every docker-archive tar of /var/lib/kubeforge-images (tools/images.py)
is imported into the node's containerd, once per containerd root (the stamp
/var/lib/containerd/.kubeforge-images.json), before `systemctl start containerd` returns, as pulls
would make the images present on a real host. tools/nodes/init.py installs it in the node's /usr
overlay with the drop-in that runs it; its log is /var/log/kubeforge-images.log.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGES = Path("/var/lib/kubeforge-images")
CONTAINERD_SOCK = "/run/containerd/containerd.sock"
STAMP = Path("/var/lib/containerd/.kubeforge-images.json")
LOCK = Path("/run/kubeforge-images.lock")
LOG = Path("/var/log/kubeforge-images.log")
TIMEOUT = 60


def containerd_answers() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(CONTAINERD_SOCK)
        except OSError:
            return False
    return True


def import_pending(ctr: str, out) -> list[str]:
    """Import the tars not yet in this containerd root; the names of those that failed."""
    try:
        done = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        done = {}
    failed = []
    for tar in sorted(IMAGES.glob("*.tar")):
        info = tar.stat()
        key = f"{info.st_size}:{int(info.st_mtime)}"
        if done.get(tar.name) == key:
            continue
        began = time.monotonic()
        proc = subprocess.run(
            [ctr, "-a", CONTAINERD_SOCK, "-n", "k8s.io", "images", "import", str(tar)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        stamp = time.strftime("%F %T")
        if proc.returncode == 0:
            done[tar.name] = key
            STAMP.write_text(json.dumps(done, indent=1))
            out.write(f"{stamp} imported {tar.name} in {time.monotonic() - began:.1f}s: {proc.stdout.strip()}\n")
        else:
            failed.append(tar.name)
            out.write(f"{stamp} import of {tar.name} failed ({proc.returncode}): {proc.stderr.strip()}\n")
    return failed


def main() -> int:
    deadline = time.monotonic() + TIMEOUT
    with open(LOG, "a", buffering=1) as out:
        while not (shutil.which("ctr", path=DEFAULT_PATH) and containerd_answers()):
            if time.monotonic() > deadline:
                out.write(f"{time.strftime('%F %T')} containerd's socket or ctr missing after {TIMEOUT}s\n")
                print(f"kubeforge test bed: containerd's socket or ctr missing after {TIMEOUT}s", file=sys.stderr)
                return 1
            time.sleep(0.2)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            failed = import_pending(shutil.which("ctr", path=DEFAULT_PATH), out)
    if failed:
        print(f"kubeforge test bed: images NOT imported: {', '.join(failed)} (see {LOG})", file=sys.stderr)
        return 1
    print(f"kubeforge test bed: the images of {IMAGES} are imported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
