"""The test bed's systemctl stand-in (tools/nodes/systemctl.py): its pure parts.

Unit files, drop-ins, environment files and command-line expansion must behave as systemd's do,
because the units the roles write (kubelet.service + 10-kubeadm.conf, containerd.service) are run
by this stand-in on the test-bed nodes and by systemd on real hosts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("kf_systemctl", REPO / "tools" / "nodes" / "systemctl.py")
shim = importlib.util.module_from_spec(_spec)
sys.modules["kf_systemctl"] = shim  # dataclasses look their module up there
_spec.loader.exec_module(shim)

KUBELET_UNIT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBECONFIG_ARGS = (
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
)
KUBEADM_DROPIN = f"""\
# The drop-in of the Kubernetes packages
[Service]
Environment="KUBELET_KUBECONFIG_ARGS={KUBECONFIG_ARGS}"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty file-system root for the stand-in: unit dirs, /run and /var/log live under it."""
    monkeypatch.setattr(shim, "ROOT", tmp_path)
    for name in shim.UNIT_DIR_NAMES:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- unit files and drop-ins ------------------------------------------------------------------


def test_unit_file_syntax_sections_comments_and_continuations():
    text = "# c\n; c\n[Unit]\nDescription = a \\\n  b\n[Service]\nExecStart=/bin/x \\\n# skipped\n  --y\n"
    assert shim.parse_unit_text(text) == [
        ("Unit", "Description", "a  b"),
        ("Service", "ExecStart", "/bin/x  --y"),
    ]


def test_list_settings_accumulate_an_empty_value_resets_and_scalars_take_the_last():
    settings = shim.apply_entries(
        [
            ("Service", "ExecStart", "/a"),
            ("Service", "Environment", "A=1"),
            ("Service", "Restart", "no"),
            ("Service", "ExecStart", ""),
            ("Service", "ExecStart", "/b"),
            ("Service", "Environment", "B=2"),
            ("Service", "Restart", "always"),
        ]
    )
    assert settings[("Service", "ExecStart")] == ["/b"]
    assert settings[("Service", "Environment")] == ["A=1", "B=2"]
    assert settings[("Service", "Restart")] == "always"


def test_etc_wins_over_lib_and_dropins_apply_in_file_name_order(root):
    write(root / "lib/systemd/system/kubelet.service", "[Service]\nExecStart=/lib/kubelet\n")
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    write(root / "lib/systemd/system/kubelet.service.d/20-extra.conf", "[Service]\nRestartSec=3\n")
    # the same file name in a lower-priority directory is masked by /etc's
    write(root / "lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "[Service]\nRestartSec=99\n")
    unit = shim.load_unit("kubelet", root)
    assert unit.load_state == "loaded"
    assert unit.id == "kubelet.service"
    assert unit.fragment == root / "etc/systemd/system/kubelet.service"
    assert [p.name for p in unit.dropins] == ["10-kubeadm.conf", "20-extra.conf"]
    assert unit.dropins[0].parent.parent.name == "system" and "etc" in unit.dropins[0].parts
    assert unit.get("Service", "RestartSec") == "3"
    assert [c.argv[0] for v in unit.getlist("Service", "ExecStart") for c in shim.parse_exec(v)] == [
        "/usr/local/bin/kubelet"
    ]
    assert unit.words("Unit", "After") == ["network-online.target", "containerd.service"]
    assert shim.service_config(unit).start_limit_interval == 0
    assert shim.service_config(unit).restart_sec == 3


def test_kubeadm_dropin_expands_to_the_kubelet_command_line(root):
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    write(
        root / "var/lib/kubelet/kubeadm-flags.env",
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock '
        '--node-ip=198.18.0.11 --pod-infra-container-image=registry.k8s.io/pause:3.10.2"\n',
    )
    write(root / "etc/default/kubelet", "KUBELET_EXTRA_ARGS=\n")
    unit = shim.load_unit("kubelet.service", root)
    env = shim.service_environment(unit)
    (cmd,) = shim.parse_exec(unit.getlist("Service", "ExecStart")[-1])
    assert shim.resolve_command(cmd, env) == [
        "/usr/local/bin/kubelet",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        "--node-ip=198.18.0.11",
        "--pod-infra-container-image=registry.k8s.io/pause:3.10.2",
    ]


def test_environment_files_are_optional_with_a_dash_and_reread_on_every_start(root):
    write(root / "etc/systemd/system/x.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/x.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    unit = shim.load_unit("x", root)
    assert "KUBELET_KUBEADM_ARGS" not in shim.service_environment(unit)  # both files missing: fine
    write(root / "var/lib/kubelet/kubeadm-flags.env", "KUBELET_KUBEADM_ARGS=--v=2\n")
    assert shim.service_environment(unit)["KUBELET_KUBEADM_ARGS"] == "--v=2"
    write(root / "etc/systemd/system/y.service", "[Service]\nEnvironmentFile=/etc/missing\nExecStart=/bin/true\n")
    with pytest.raises(shim.ShimError, match="/etc/missing"):
        shim.service_environment(shim.load_unit("y", root))


def test_environment_file_overrides_environment(root):
    write(root / "etc/default/x", "A=from-file\n")
    write(
        root / "etc/systemd/system/x.service",
        "[Service]\nEnvironment=A=inline B=kept\nEnvironmentFile=/etc/default/x\n",
    )
    env = shim.service_environment(shim.load_unit("x", root))
    assert env["A"] == "from-file"
    assert env["B"] == "kept"
    assert env["PATH"] == shim.DEFAULT_PATH


def test_alias_masked_template_and_missing_units(root):
    lib = root / "lib/systemd/system"
    write(
        lib / "ssh.service", "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n"
    )
    (root / "etc/systemd/system/sshd.service").symlink_to(lib / "ssh.service")
    alias = shim.load_unit("sshd", root)
    assert (alias.id, alias.names, alias.load_state) == ("ssh.service", ["ssh.service", "sshd.service"], "loaded")

    write(lib / "masked-by-etc.service", "[Service]\nExecStart=/bin/true\n")
    (root / "etc/systemd/system/masked-by-etc.service").symlink_to("/dev/null")
    assert shim.load_unit("masked-by-etc", root).load_state == "masked"
    write(lib / "empty.service", "")
    assert shim.load_unit("empty", root).load_state == "masked"

    write(lib / "getty@.service", "[Service]\nExecStart=/sbin/agetty %I\n")
    instance = shim.load_unit("getty@tty1.service", root)
    assert instance.load_state == "loaded"
    assert instance.getlist("Service", "ExecStart") == ["/sbin/agetty tty1"]

    missing = shim.load_unit("nosuch", root)
    assert (missing.id, missing.load_state, missing.fragment) == ("nosuch.service", "not-found", None)


# -- words, expansion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a  b\tc", ["a", "b", "c"]),
        ('"a b" c', ["a b", "c"]),
        ('\'a $B\' "c\\"d"', ["a $B", 'c"d']),
        ('x"y z"w', ["xy zw"]),
        (r"a\ b \x41", ["a b", "A"]),
        ("", []),
    ],
)
def test_split_words_unquotes_like_systemd(text, words):
    assert shim.split_words(text) == words


def test_dollar_var_as_a_word_splits_and_braces_do_not():
    env = {"ARGS": "--a=1   --b='x y'", "ONE": "one two", "EMPTY": ""}
    words = ["/bin/p", "$ARGS", "${ONE}", "--o=${ONE}", "$EMPTY", "${EMPTY}", "$NOPE", "a$ONE", "$$x", "${NOPE:-d}"]
    assert shim.expand_argv(words, env) == [
        "/bin/p",
        "--a=1",
        "--b=x y",  # the value's own quotes are honoured when $VAR is split
        "one two",  # ${VAR}: exactly one argument, whitespace kept
        "--o=one two",
        "",  # ${EMPTY}: still one (empty) argument; $EMPTY and $NOPE: none
        "a$ONE",  # $VAR inside a word is not expanded (only ${VAR} is)
        "$x",  # $$ is a literal $
        "d",
    ]


def test_exec_prefixes():
    (cmd,) = shim.parse_exec("-/sbin/modprobe overlay")
    assert (cmd.path, cmd.argv, cmd.ignore_failure, cmd.expand) == (
        "/sbin/modprobe",
        ["/sbin/modprobe", "overlay"],
        True,
        True,
    )
    (cmd,) = shim.parse_exec("@/bin/busybox sh -c true")
    assert (cmd.path, cmd.argv) == ("/bin/busybox", ["sh", "-c", "true"])
    (cmd,) = shim.parse_exec(":/bin/echo $HOME")
    assert not cmd.expand
    assert shim.resolve_command(cmd, {"HOME": "/root"}) == ["/bin/echo", "$HOME"]
    assert [c.argv for c in shim.parse_exec("/bin/a 1 ; /bin/b 2")] == [["/bin/a", "1"], ["/bin/b", "2"]]


def test_env_file_syntax():
    text = (
        "# comment\n"
        "; comment\n"
        "A=plain value  \n"
        'B="double \\"quoted\\" $x"\n'
        "C='single \\n kept'\n"
        "D=con\\\n"
        "tinued\n"
        "  E = spaced\n"
        "not an assignment\n"
        "1BAD=x\n"
    )
    assert shim.parse_env_file(text) == {
        "A": "plain value",
        "B": 'double "quoted" $x',
        "C": "single \\n kept",
        "D": "continued",
        "E": "spaced",
    }


def test_environment_assignments_with_quotes():
    assert shim.parse_assignments(['"A=one two" B=3', "C='x y'", "junk"]) == {"A": "one two", "B": "3", "C": "x y"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10), ("10s", 10), ("100ms", 0.1), ("1min 30s", 90), ("2h", 7200), ("", 5), ("infinity", None)],
)
def test_timespans(text, seconds):
    assert shim.parse_timespan(text, 5) == seconds


def test_specifiers():
    unit = shim.Unit(name="getty@tty1.service", id="getty@tty1.service", names=[], instance="tty1")
    assert unit.specifiers("%n %N %p %i %t %%") == "getty@tty1.service getty@tty1 getty tty1 /run %"


# -- enablement and queries, through the command line -------------------------------------------


def systemctl(capsys, *args: str) -> tuple[int, str, str]:
    code = shim.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_enable_disable_is_enabled_and_static(root, capsys):
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/static.service", "[Service]\nExecStart=/bin/true\n")
    assert systemctl(capsys, "is-enabled", "kubelet")[:2] == (1, "disabled\n")
    code, _, err = systemctl(capsys, "enable", "kubelet.service")
    assert code == 0
    link = root / "etc/systemd/system/multi-user.target.wants/kubelet.service"
    assert link.is_symlink()
    assert Path(os.readlink(link)) == root / "etc/systemd/system/kubelet.service"
    assert "Created symlink" in err
    assert systemctl(capsys, "is-enabled", "kubelet")[:2] == (0, "enabled\n")
    assert systemctl(capsys, "enable", "kubelet")[0] == 0  # again: nothing to do
    assert systemctl(capsys, "disable", "kubelet")[0] == 0
    assert not os.path.lexists(link)
    assert systemctl(capsys, "is-enabled", "static")[:2] == (0, "static\n")
    code, out, err = systemctl(capsys, "is-enabled", "nosuch")
    assert (code, out) == (1, "")
    assert "No such file or directory" in err


def test_mask_and_unmask(root, capsys):
    write(root / "lib/systemd/system/x.service", KUBELET_UNIT)
    assert systemctl(capsys, "mask", "x")[0] == 0
    assert systemctl(capsys, "is-enabled", "x")[:2] == (1, "masked\n")
    code, _, err = systemctl(capsys, "start", "x")
    assert code == 1
    assert "masked" in err
    assert systemctl(capsys, "unmask", "x")[0] == 0
    assert systemctl(capsys, "is-enabled", "x")[:2] == (1, "disabled\n")


def test_status_of_an_unknown_unit_says_not_found(root, capsys):
    code, out, err = systemctl(capsys, "status", "kubelet")
    assert code == 4
    assert "Loaded: not-found" in out
    assert "could not be found" in err
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    code, out, _ = systemctl(capsys, "status", "kubelet")
    assert code == 3
    assert f"Loaded: loaded ({root}/etc/systemd/system/kubelet.service; disabled; preset: enabled)" in out
    assert "Drop-In:" in out and "10-kubeadm.conf" in out
    assert "Active: inactive (dead)" in out
    assert systemctl(capsys, "is-active", "kubelet")[:2] == (3, "inactive\n")


def test_show_gives_what_ansible_systemd_service_parses(root, capsys):
    systemd_service = pytest.importorskip("ansible.modules.systemd_service")
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    code, out, _ = systemctl(capsys, "show", "kubelet")
    assert code == 0
    status = systemd_service.parse_systemctl_show(out.split("\n"))
    assert status["Id"] == "kubelet.service"
    assert status["Names"] == "kubelet.service"
    assert status["LoadState"] == "loaded"
    assert status["ActiveState"] == "inactive"
    assert status["SubState"] == "dead"
    assert status["UnitFileState"] == "disabled"
    assert status["MainPID"] == "0"
    assert status["ExecMainPID"] == "0"
    assert status["Restart"] == "always"
    assert status["ExecStart"].startswith("{ path=/usr/local/bin/kubelet ;")
    assert "LoadError" not in status
    assert status["DropInPaths"].endswith("kubelet.service.d/10-kubeadm.conf")

    code, out, _ = systemctl(capsys, "show", "nosuch")
    missing = systemd_service.parse_systemctl_show(out.split("\n"))
    assert code == 0
    assert missing["LoadState"] == "not-found"
    assert "NoSuchUnit" in missing["LoadError"]

    assert systemctl(capsys, "show", "kubelet", "-p", "ActiveState", "--value")[1] == "inactive\n"
    assert (
        systemctl(capsys, "show", "kubelet", "--property=Id,LoadState")[1] == "Id=kubelet.service\nLoadState=loaded\n"
    )


def test_list_unit_files_and_units(root, capsys):
    write(root / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write(root / "lib/systemd/system/multi-user.target", "[Unit]\nDescription=Multi-User System\n")
    code, out, _ = systemctl(capsys, "list-unit-files", "--type", "service", "--no-legend")
    assert code == 0
    assert out.split() == ["kubelet.service", "disabled", "enabled"]
    assert systemctl(capsys, "list-unit-files", "nomatch*")[0] == 1
    code, out, _ = systemctl(capsys, "list-units", "--type", "service", "--all", "--plain", "--no-legend")
    assert out.split()[:4] == ["kubelet.service", "loaded", "inactive", "dead"]


def test_user_scope_and_reboot_are_refused(root, capsys, monkeypatch):
    code, _, err = systemctl(capsys, "--user", "status", "x")
    assert code == 1
    assert "only --system" in err
    monkeypatch.setattr(shim.sys, "argv", ["/sbin/reboot"])
    assert shim.main([]) == 1
    assert "not supported" in capsys.readouterr().err


def test_daemon_reload_and_version(root, capsys):
    assert systemctl(capsys, "daemon-reload")[0] == 0
    assert systemctl(capsys, "--version")[1].startswith("systemd 252")
