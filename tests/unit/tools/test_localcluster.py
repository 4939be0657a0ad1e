"""The test bed's pure parts: input validation and stopping only the processes it started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from localcluster import ClusterError, ClusterSpec, LocalCluster, node_names, validate_spec


@pytest.mark.parametrize(
    ("pod_cidr", "nodes", "message"),
    [
        ("10.244.0.0/33", 3, "is not a network CIDR"),
        ("10.244.0.1/16", 3, "is not a network CIDR"),
        ("fd00::/64", 3, "must be IPv4"),
        ("10.244.0.0/24", 3, "/22 or larger"),
        ("10.96.0.0/16", 3, "overlaps the service CIDR"),
        ("10.244.0.0/22", 5, "NODES=5"),
        ("10.244.0.0/16", 0, "NODES=0"),
    ],
)
def test_bad_spec_is_refused_with_a_message(pod_cidr, nodes, message):
    with pytest.raises(ClusterError, match=message):
        validate_spec(ClusterSpec(pod_cidr=pod_cidr, nodes=nodes))


def test_good_spec_passes():
    validate_spec(ClusterSpec(pod_cidr="192.168.0.0/16", nodes=3))


def test_first_node_is_the_control_plane():
    assert node_names(3) == ["kf-control-plane", "kf-worker-1", "kf-worker-2"]


def test_down_leaves_a_reused_pid_alone(tmp_path):
    # A PID file whose process is not the binary we started (the PID was reused) must not be killed.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cluster = LocalCluster(state_dir=tmp_path / "state", bin_dir=tmp_path / "bin")
        (cluster.pids).mkdir(parents=True)
        (cluster.state_dir / "bin-dir").write_text(str(tmp_path / "bin"))
        (cluster.pids / "1-etcd.pid").write_text(str(stranger.pid))
        assert cluster.down() == []
        assert stranger.poll() is None
        assert not cluster.state_dir.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_down_stops_its_own_process(tmp_path):
    # argv[0] of the child is sys.executable, so record the interpreter as "our binary".
    interpreter = Path(sys.executable)
    own = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    cmdline = Path(f"/proc/{own.pid}/cmdline")
    for _ in range(100):  # right after exec the kernel may not show the new argv yet
        if cmdline.read_bytes().startswith(sys.executable.encode() + b"\0"):
            break
        time.sleep(0.02)
    try:
        cluster = LocalCluster(state_dir=tmp_path / "state")
        cluster.pids.mkdir(parents=True)
        (cluster.state_dir / "bin-dir").write_text(str(interpreter.parent))
        (cluster.pids / f"1-{interpreter.name}.pid").write_text(str(own.pid))
        assert cluster.down() == [interpreter.name]
        own.wait(timeout=5)
        assert not Path(f"/proc/{own.pid}").exists()
    finally:
        if own.poll() is None:
            own.kill()
            own.wait()
