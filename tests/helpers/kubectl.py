"""kubectl against the local cluster, for test set-up and assertions (the collection itself uses the API)."""

from __future__ import annotations

import json
import subprocess
from typing import Any


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str):
        self.base = [binary, "--kubeconfig", kubeconfig]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)
