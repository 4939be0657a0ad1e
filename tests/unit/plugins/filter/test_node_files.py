"""node_info's reads of files and units (on a temporary directory) and the filters that compare them with what a
role would write: the pieces that decide whether a re-run may skip a write."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.kubeforge.cluster.plugins.filter.file_matches import file_matches
from ansible_collections.kubeforge.cluster.plugins.filter.files_differ import files_differ
from ansible_collections.kubeforge.cluster.plugins.modules import node_info
from ansible_collections.kubeforge.cluster.plugins.modules.node_info import parse_show, read_file, read_sysctl

CONTENT = "[plugins]\n"
SHA256 = hashlib.sha256(CONTENT.encode()).hexdigest()


def make_tree(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONTENT)
    config.chmod(0o644)
    (tmp_path / "dir").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(config)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    return {str(path): read_file(str(path), "sha256") for path in [*tmp_path.iterdir(), tmp_path / "absent"]}


def test_read_file_reports_checksum_mode_owner_and_type(tmp_path):
    files = make_tree(tmp_path)
    assert files[str(tmp_path / "config.toml")] == {
        "exists": True,
        "type": "file",
        "checksum": SHA256,
        "mode": "0644",
        "uid": os.getuid(),
        "gid": os.getgid(),
    }
    assert files[str(tmp_path / "dir")]["type"] == "directory"
    assert "checksum" not in files[str(tmp_path / "dir")]
    assert files[str(tmp_path / "link")]["type"] == "link"
    assert files[str(tmp_path / "dangling")] == {"exists": False}
    assert files[str(tmp_path / "absent")] == {"exists": False}


def test_file_matches_only_the_same_content_mode_and_type(tmp_path):
    files = make_tree(tmp_path)
    config = files[str(tmp_path / "config.toml")]
    assert file_matches(config, SHA256, "0644")
    assert file_matches(config, SHA256, "644")
    assert not file_matches(config, SHA256, "0600")
    assert not file_matches(config, hashlib.sha256(b"other").hexdigest(), "0644")
    assert file_matches(files[str(tmp_path / "dir")], mode="0700", type="directory")
    assert not file_matches(files[str(tmp_path / "dir")], mode="0755", type="directory")
    # A symlink is left to the task (copy and template follow it or replace it as they are told).
    assert not file_matches(files[str(tmp_path / "link")], SHA256, "0644")
    assert not file_matches(files[str(tmp_path / "absent")], SHA256)
    assert not file_matches(None)


def test_files_differ_names_each_path_that_would_change(tmp_path):
    files = make_tree(tmp_path)
    wanted = [
        {"path": "config.toml", "content": CONTENT},
        {"path": "dir", "type": "directory", "mode": "0700"},
        {"path": "absent", "content": ""},
    ]
    assert files_differ(wanted, files, base=str(tmp_path), mode="0644") == [str(tmp_path / "absent")]
    assert files_differ(wanted[:1], files, base=str(tmp_path), mode="0600") == [str(tmp_path / "config.toml")]
    edited = [{"path": str(tmp_path / "config.toml"), "content": CONTENT + "# edited\n", "mode": "0644"}]
    assert files_differ(edited, files) == [str(tmp_path / "config.toml")]


def test_parse_show_keys_each_block_by_the_unit_id():
    text = (
        "Id=kubelet.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nNeedDaemonReload=no\n\n"
        "Id=containerd.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\nNeedDaemonReload=no\n"
    )
    states = parse_show(text, ["containerd.service", "kubelet.service"])
    assert states["kubelet.service"]["ActiveState"] == "active"
    assert states["containerd.service"] == {
        "LoadState": "not-found",
        "ActiveState": "inactive",
        "UnitFileState": "",
        "NeedDaemonReload": "no",
    }


def test_read_sysctl_collapses_whitespace_and_knows_no_missing_key():
    assert read_sysctl("kernel.ostype") == "Linux"
    assert read_sysctl("net.ipv4.ip_local_port_range").count(" ") == 1
    assert read_sysctl("kernel.no_such_parameter") is None
    assert read_sysctl("kernel/ostype") == "Linux"


def test_the_checksum_cache_reads_a_file_again_only_when_it_changed(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(CONTENT)
    cache_file = tmp_path / "cache" / "checksums.json"
    reads = []
    original = node_info.checksum
    monkeypatch.setattr(node_info, "checksum", lambda path, algorithm: reads.append(path) or original(path, algorithm))

    def read():
        cache = node_info.load_cache(str(cache_file))
        result = read_file(str(config), "sha256", cache)
        node_info.save_cache(str(cache_file), cache)
        return result["checksum"]

    assert read() == SHA256
    assert read() == SHA256
    assert reads == [str(config)]
    # The same size, a new modification time: read again, and the new content is what counts.
    config.write_text(CONTENT.upper())
    os.utime(config, ns=(1, 1))
    assert read() == hashlib.sha256(CONTENT.upper().encode()).hexdigest()
    assert len(reads) == 2
    cache_file.write_text("not json")
    assert read() == hashlib.sha256(CONTENT.upper().encode()).hexdigest()
    assert len(reads) == 3
