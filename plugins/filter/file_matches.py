# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: file_matches
author:
  - kubeforge maintainers (@kubeforge)
short_description: Whether a file read by kubeforge.cluster.node_info is already what a task would write
version_added: 0.2.0
description:
  - True when the path exists with the given type, checksum and mode; a task guarded by
    C(when - not (... | kubeforge.cluster.file_matches(...))) then has nothing to do and is skipped without a
    module call of its own.
  - A checksum or mode left out is not compared.
options:
  _input:
    description: One entry of the RV(kubeforge.cluster.node_info#module:files) result (or V(none) for a path not read).
    type: dict
    required: true
  checksum:
    description: The checksum the file must have (the same algorithm node_info used).
    type: str
  mode:
    description: The mode the file must have, in octal (V(0644)).
    type: str
  type:
    description: V(file) or V(directory). A symlink never matches, so the task itself decides what to do with it.
    type: str
    default: file
"""

EXAMPLES = r"""
- name: Write the configuration only where it differs
  ansible.builtin.copy:
    dest: /etc/sysctl.d/99-kubernetes.conf
    content: "{{ wanted }}"
    mode: "0644"
  when: >-
    not (node.files['/etc/sysctl.d/99-kubernetes.conf']
         | kubeforge.cluster.file_matches(wanted | hash('sha256'), '0644'))
"""

RETURN = r"""
_value:
  description: Whether nothing would change.
  type: bool
"""


def file_matches(state, checksum=None, mode=None, type="file"):
    """node_info's entry for one path against what a task would write there."""
    if not state or not state.get("exists"):
        return False
    if state.get("type") != type:
        return False
    if checksum is not None and state.get("checksum") != checksum:
        return False
    return mode is None or state.get("mode") == "%04o" % int(str(mode), 8)


class FilterModule(object):
    def filters(self):
        return {"file_matches": file_matches}
