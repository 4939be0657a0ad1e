# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What can go wrong, by what went wrong; every message names the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class KubeforgeError(Exception):
    """The base of every error the modules report as a plain failure (no traceback)."""


class InputError(KubeforgeError, ValueError):
    """A module argument, or a combination of them, that the CNI matrix does not allow."""


class ManifestError(KubeforgeError):
    """The manifest cannot be read or downloaded, fails its checksum, or is not the CNI's manifest."""


class LiveStateError(KubeforgeError):
    """The cluster holds something the modules will not build on (a broken net-conf.json, a pool mode
    calico-node rejects, node podCIDRs outside the pod network); it must be fixed by hand first."""


class ApiError(KubeforgeError):
    """An API failure with the HTTP status and the server's own message."""

    def __init__(self, message, status=None, reason=None):
        super(ApiError, self).__init__(message)
        self.status = status
        self.reason = reason


class Conflict(ApiError):
    """409: somebody else wrote the object since it was read; read it again and recompute."""


class WaitTimeout(KubeforgeError):
    """What was waited for did not happen in time; the message names what lags."""
