# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig of a cluster admin.
      - Defaults to the E(KUBECONFIG) environment variable, then C(~/.kube/config).
      - On a kubeadm control plane node that is C(/etc/kubernetes/admin.conf).
    type: path
  context:
    description:
      - The kubeconfig context to use; defaults to its current context.
    type: str
requirements:
  - python >= 3.8
  - kubernetes >= 24.2.0 (the Python client, on the host that runs the module)
  - PyYAML
"""
