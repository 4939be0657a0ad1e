# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: version_conflicts
author:
  - kubeforge maintainers (@kubeforge)
short_description: Installed programs whose version is not the pinned one
version_added: 0.2.0
description:
  - Reads lines C(<program> <path> <what the program prints as its version>) and returns one message per
    program whose first C(X.Y.Z) differs from the pinned version.
options:
  _input:
    description: The lines.
    type: list
    elements: str
    required: true
  pinned:
    description: Program name to pinned version (without a leading V(v)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse another kubelet
  ansible.builtin.assert:
    that: "installed | kubeforge.cluster.version_conflicts({'kubelet': '1.36.3'}) | length == 0"
  vars:
    installed: ['kubelet /usr/bin/kubelet Kubernetes v1.35.2']
"""

RETURN = r"""
_value:
  description:
    - One message per conflict, such as C(kubelet 1.35.2 is installed at /usr/bin/kubelet, this play pins 1.36.3).
  type: list
  elements: str
"""

import re

VERSION = re.compile(r"(\d+\.\d+\.\d+)")


def version_conflicts(lines, pinned):
    conflicts = []
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0] not in pinned:
            continue
        program, path = parts[0], parts[1]
        found = VERSION.search(parts[2] if len(parts) == 3 else "")
        wanted = str(pinned[program]).lstrip("v")
        if found is None:
            conflicts.append("%s at %s does not tell its version; this play pins %s" % (program, path, wanted))
        elif found.group(1) != wanted:
            conflicts.append("%s %s is installed at %s, this play pins %s" % (program, found.group(1), path, wanted))
    return conflicts


class FilterModule(object):
    def filters(self):
        return {"version_conflicts": version_conflicts}
