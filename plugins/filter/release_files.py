# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: release_files
author:
  - kubeforge maintainers (@kubeforge)
short_description: Where each release file comes from, and its name
version_added: 0.2.0
description:
  - For each entry C({name, version, ...}) adds C(url) and C(checksum_url), the URL templates of that name with
    C({version}) and C({arch}) filled in, and C(file), the URL's last part, which is also the file's name in a
    local directory of release files.
options:
  _input:
    description: Entries with C(name) and C(version) (without a leading V(v)).
    type: list
    elements: dict
    required: true
  urls:
    description: Name to URL template.
    type: dict
    required: true
  checksum_urls:
    description: Name to the URL template of the checksum file published beside it.
    type: dict
    required: true
  arch:
    description: The architecture as release files name it (V(amd64), V(arm64)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The kubeadm download for this host
  ansible.builtin.debug:
    msg: >-
      {{ [{'name': 'kubeadm', 'version': '1.36.3'}] | kubeforge.cluster.release_files(
         {'kubeadm': 'https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubeadm'},
         {'kubeadm': 'https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubeadm.sha256'}, 'amd64') }}
"""

RETURN = r"""
_value:
  description: The entries with C(url), C(checksum_url) and C(file) added.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError


def _fill(template, version, arch):
    return str(template).replace("{version}", version).replace("{arch}", str(arch))


def release_files(entries, urls, checksum_urls, arch):
    filled = []
    for entry in entries:
        name, version = entry["name"], str(entry["version"])
        if version.startswith("v"):
            raise AnsibleFilterError("%s version %r: give it without the leading 'v'" % (name, version))
        if name not in urls or name not in checksum_urls:
            raise AnsibleFilterError("no URL (or checksum URL) for %s: add it to node_install_urls" % name)
        url = _fill(urls[name], version, arch)
        filled.append(
            dict(entry, url=url, checksum_url=_fill(checksum_urls[name], version, arch), file=url.rsplit("/", 1)[-1])
        )
    return filled


class FilterModule(object):
    def filters(self):
        return {"release_files": release_files}
