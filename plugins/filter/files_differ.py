# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: files_differ
author:
  - kubeforge maintainers (@kubeforge)
short_description: The files a role would write that kubeforge.cluster.node_info found otherwise
version_added: 0.2.0
description:
  - Compares each wanted file with what M(kubeforge.cluster.node_info) read on the node, as
    P(kubeforge.cluster.file_matches#filter) does, and returns the paths that would change.
options:
  _input:
    description:
      - The wanted files, each with C(path) and any of C(content) (its sha256 is compared), C(checksum), C(mode)
        and C(type) (V(file) unless given).
    type: list
    elements: dict
    required: true
  files:
    description: The RV(kubeforge.cluster.node_info#module:files) result.
    type: dict
    required: true
  base:
    description: The directory that relative C(path)s are in.
    type: str
  mode:
    description: The mode of the entries that do not give one.
    type: str
"""

EXAMPLES = r"""
- name: Skip writing when the node has it all
  ansible.builtin.include_tasks: render.yml
  when: wanted | kubeforge.cluster.files_differ(node.files) | length > 0
"""

RETURN = r"""
_value:
  description: The paths that are missing or differ, in the order given.
  type: list
  elements: str
"""

import hashlib
import posixpath

from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.kubeforge.cluster.plugins.filter.file_matches import file_matches


def files_differ(wanted, files, base=None, mode=None):
    """The paths of `wanted` (entries of path and content or checksum, mode, type) that `files` shows otherwise."""
    differ = []
    for entry in wanted:
        path = entry["path"] if base is None else posixpath.join(base, entry["path"])
        checksum = entry.get("checksum")
        if checksum is None and entry.get("content") is not None:
            checksum = hashlib.sha256(to_bytes(entry["content"], errors="surrogate_or_strict")).hexdigest()
        if not file_matches(files.get(path), checksum, entry.get("mode", mode), entry.get("type", "file")):
            differ.append(path)
    return differ


class FilterModule(object):
    def filters(self):
        return {"files_differ": files_differ}
