#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_info
short_description: Read in one call what a node has - files, systemd units and sysctls
version_added: 0.1.0
description:
  - Reads the checksum, mode and owner of files, the state of systemd units and the values of sysctls, so that
    a role can compare them with what it would write and skip the writes that would change nothing.
  - One module call per host instead of one per file; on a re-run that is where the roles' time goes.
  - Changes nothing on the node; the one file it may write is its own checksum cache, O(checksum_cache).
author:
  - kubeforge maintainers (@kubeforge)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module reads; in check mode it does not write its checksum cache either.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  files:
    description: Paths to read. A path that does not exist is reported with RV(files.exists=false).
    type: list
    elements: path
    default: []
  checksum_algorithm:
    description: The checksum of regular files.
    type: str
    choices: [sha1, sha256]
    default: sha256
  checksum_cache:
    description:
      - A JSON file that keeps each checksum with the file's device, inode, size, modification and change time,
        as git's index does; a file whose five are unchanged is not read again. Meant for large files that
        seldom change, such as release binaries on the controller.
      - The only file the module writes, and not in check mode; it reports RV(ignore:changed=false) all the same,
        since a cache is no state of the node. A cache that cannot be read is rebuilt.
    type: path
  units:
    description: systemd units to read, with C(systemctl show).
    type: list
    elements: str
    default: []
  sysctls:
    description:
      - Kernel parameters to read from C(/proc/sys), in dotted form (C(net.ipv4.ip_forward)), or with slashes where a
        part has a dot of its own (C(net/ipv4/conf/eth0.100/rp_filter)).
    type: list
    elements: str
    default: []
seealso:
  - module: ansible.builtin.stat
"""

EXAMPLES = r"""
- name: Read the containerd configuration and unit
  kubeforge.cluster.node_info:
    files: [/etc/containerd/config.toml]
    units: [containerd.service]
    sysctls: [net.ipv4.ip_forward]
  register: node

- name: Write the configuration only where it differs
  ansible.builtin.template:
    src: config.toml.j2
    dest: /etc/containerd/config.toml
    mode: "0644"
  when: >-
    node.files['/etc/containerd/config.toml'].checksum
    != lookup('ansible.builtin.template', 'config.toml.j2') | hash('sha256')
"""

RETURN = r"""
files:
  description: Per path given, what is there.
  returned: always
  type: dict
  contains:
    exists:
      description: Whether the path exists (a dangling symlink does not).
      type: bool
    type:
      description: C(file), C(directory), C(link) or C(other); absent when the path does not exist.
      type: str
    checksum:
      description: The checksum of a regular file (or of the file a symlink points to); absent otherwise.
      type: str
    mode:
      description: The permission bits in octal, as a string of four digits (C(0644)).
      type: str
    uid:
      description: The owner's user id.
      type: int
    gid:
      description: The owner's group id.
      type: int
  sample:
    /etc/containerd/config.toml: {"exists": true, "type": "file", "checksum": "9f86d0…", "mode": "0644", "uid": 0}
units:
  description:
    - Per unit given, C(LoadState), C(ActiveState), C(UnitFileState) and C(NeedDaemonReload) as C(systemctl show)
      prints them.
  returned: always
  type: dict
  sample:
    containerd.service: {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"}
sysctls:
  description:
    - Per kernel parameter given, its value (whitespace collapsed); null when the kernel has none.
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": "1"}
"""

import hashlib
import json
import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState", "NeedDaemonReload")
CHUNK = 1 << 20


def read_file(path, algorithm, cache=None):
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    kind = os.lstat(path)
    result = {
        "exists": True,
        "type": "link"
        if stat.S_ISLNK(kind.st_mode)
        else "file"
        if stat.S_ISREG(info.st_mode)
        else "directory"
        if stat.S_ISDIR(info.st_mode)
        else "other",
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
    }
    if stat.S_ISREG(info.st_mode):
        key = [algorithm, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
        cached = (cache or {}).get(path)
        if cached and cached.get("key") == key:
            result["checksum"] = cached["checksum"]
        else:
            result["checksum"] = checksum(path, algorithm)
            if cache is not None:
                cache[path] = {"key": key, "checksum": result["checksum"]}
    return result


def checksum(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_cache(path):
    try:
        with open(path, encoding="utf-8") as handle:
            cache = json.load(handle)
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def save_cache(path, cache):
    """Atomically, so that two runs at once leave one whole cache; without files that are gone."""
    cache = {name: entry for name, entry in cache.items() if os.path.exists(name)}
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=".checksums.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(cache, out)
    os.replace(scratch, path)


def read_sysctl(key):
    try:
        # As sysctl(8): a key with a slash is a path already (net/ipv4/conf/eth0.100/rp_filter).
        path = key if "/" in key else key.replace(".", "/")
        with open(os.path.join("/proc/sys", path), encoding="utf-8") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return None


def parse_show(text, units):
    """`systemctl show` prints one block per unit, separated by a blank line; Id names the unit as asked."""
    states = {}
    for block in text.strip().split("\n\n"):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        unit = properties.pop("Id", None)
        if unit in units:
            states[unit] = properties
    return states


def read_units(module, units):
    if not units:
        return {}
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command([systemctl, "show", "--property=" + ",".join(UNIT_PROPERTIES), "--", *units])
    if rc != 0:
        module.fail_json(msg="systemctl show failed: %s" % (err.strip() or out.strip()), rc=rc)
    return parse_show(out, units)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="path", default=[]),
            checksum_algorithm=dict(type="str", choices=["sha1", "sha256"], default="sha256"),
            checksum_cache=dict(type="path"),
            units=dict(type="list", elements="str", default=[]),
            sysctls=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    algorithm = module.params["checksum_algorithm"]
    cache_path = module.params["checksum_cache"]
    cache = load_cache(cache_path) if cache_path else None
    before = dict(cache or {})
    files = {path: read_file(path, algorithm, cache) for path in module.params["files"]}
    if cache_path and not module.check_mode and cache != before:
        try:
            save_cache(cache_path, cache)
        except OSError as error:
            module.warn("could not write the checksum cache %s: %s" % (cache_path, error))
    module.exit_json(
        changed=False,
        files=files,
        units=read_units(module, module.params["units"]),
        sysctls={key: read_sysctl(key) for key in module.params["sysctls"]},
    )


if __name__ == "__main__":
    main()
