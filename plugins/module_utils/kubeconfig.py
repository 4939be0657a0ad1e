# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to the API server from a kubeconfig: the server, its transport, the Authorization header.

A plain kubeconfig (a server, its CA, a client certificate or a token) is read here directly: importing the
`kubernetes` package would cost each module run about 0.13 s and 20 MB. Any other (exec and auth-provider
plugins, proxies, tokenFile, several files in KUBECONFIG) and any broken one goes through the kubernetes
client as before, which also reports its errors.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import shutil
import ssl
import tempfile

try:
    from importlib.util import find_spec
except ImportError:  # pragma: no cover - Python 2
    find_spec = None

try:
    import yaml

    # Found, not imported: the kubernetes client is imported only for a kubeconfig this file does not read.
    HAS_KUBERNETES = find_spec is not None and find_spec("kubernetes") is not None
    KUBERNETES_IMPORT_ERROR = None if HAS_KUBERNETES else ImportError("No module named 'kubernetes'")
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import load_yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils.transport import HttpTransport, PoolTransport

# The keys a plain kubeconfig may have; any other sends the kubeconfig through the kubernetes client.
PLAIN_CONTEXT_KEYS = frozenset(["cluster", "user", "namespace", "extensions"])
PLAIN_CLUSTER_KEYS = frozenset(
    ["server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "extensions"]
)
PLAIN_USER_KEYS = frozenset(
    ["client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "extensions"]
)


class Connection:
    """What the adapter needs of a kubeconfig: the server, the transport to it (transport.py), and the
    Authorization header of each request (None without one)."""

    def __init__(self, host, transport, authorization=None):
        self.host = host
        self.transport = transport
        self._authorization = authorization or (lambda: None)

    def authorization(self):
        return self._authorization()


def connect(kubeconfig=None, context=None):
    """A Connection from the kubeconfig: read directly when it is a plain one, else by the kubernetes client."""
    connection = plain_connection(kubeconfig, context)
    return connection if connection is not None else client_connection(kubeconfig, context)


def client_connection(kubeconfig=None, context=None):
    from kubernetes import config as kube_config  # noqa: PLC0415 - 0.13 s, only when needed

    try:
        api = kube_config.new_client_from_config(config_file=kubeconfig, context=context)
    except (kube_config.ConfigException, OSError, TypeError) as exc:
        raise InputError(
            "cannot load the kubeconfig %s%s: %s; pass kubeconfig= (and context=) or set KUBECONFIG"
            % (kubeconfig or "(default)", " context %s" % context if context else "", exc)
        ) from None
    config = api.configuration

    def authorization():
        # The client keeps a kubeconfig's token as "BearerToken" (asking for "authorization" alone finds none);
        # this runs the refresh hook first, where exec and OIDC auth plugins renew tokens.
        return config.get_api_key_with_prefix("BearerToken", alias="authorization")

    return Connection(config.host, PoolTransport(config.host, api.rest_client.pool_manager), authorization)


def plain_connection(kubeconfig=None, context=None):
    """The Connection of a plain kubeconfig, as the kubernetes client would make it; None for any other (or a
    broken one: the kubernetes client then reports it as it always did)."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    if os.pathsep in path:
        return None  # several files, merged
    path = os.path.expanduser(path)
    try:
        with open(path) as handle:
            config = load_yaml(handle)
        name = context or config["current-context"]
        found = [c["context"] for c in config["contexts"] if c["name"] == name]
        if len(found) != 1 or set(found[0]) - PLAIN_CONTEXT_KEYS:
            return None
        clusters = [c["cluster"] for c in config["clusters"] if c["name"] == found[0]["cluster"]]
        users = [u["user"] for u in config.get("users") or [] if u["name"] == found[0].get("user")]
        cluster, user = clusters[0] if len(clusters) == 1 else None, (users[0] or {}) if len(users) == 1 else {}
        if cluster is None or set(cluster) - PLAIN_CLUSTER_KEYS or set(user) - PLAIN_USER_KEYS:
            return None
        return _plain_connection(cluster, user, os.path.dirname(os.path.abspath(path)))
    # OSError takes in ssl.SSLError (a bad certificate), ValueError binascii.Error (bad base64).
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, yaml.YAMLError):
        return None


def _plain_connection(cluster, user, base):
    host = cluster["server"].rstrip("/")
    token = user.get("token")
    header = ("Bearer %s" % token) if token else None
    if not host.startswith("https"):
        return Connection(host, HttpTransport(host), lambda: header)
    # What the kubernetes client does with these keys: data before file, files relative to the kubeconfig's
    # directory, the system's CAs without one, no verification with insecure-skip-tls-verify.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # TLS 1.2 or later, the server's name checked
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _file_or_data(cluster, "certificate-authority", base)
        if ca is None:
            context.load_default_certs()
        else:
            context.load_verify_locations(cadata=ca.decode("ascii"))
    cert, key = _file_or_data(user, "client-certificate", base), _file_or_data(user, "client-key", base)
    if cert is not None:
        _load_cert_chain(context, cert, key)
    return Connection(host, HttpTransport(host, context), lambda: header)


def _file_or_data(obj, key, base):
    if obj.get(key + "-data"):
        return base64.b64decode(obj[key + "-data"], validate=True)
    if obj.get(key):
        with open(os.path.join(base, os.path.expanduser(obj[key])), "rb") as handle:
            return handle.read()
    return None


def _load_cert_chain(context, cert, key):
    """ssl loads a certificate and its key from files only: written to a private directory, removed at once."""
    directory = tempfile.mkdtemp(prefix="kubeforge-")
    try:
        path = os.path.join(directory, "client.pem")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(cert.rstrip(b"\n") + b"\n" + (key or b""))
        context.load_cert_chain(path, password=lambda: "")  # an encrypted key fails here, never prompts
    finally:
        shutil.rmtree(directory, ignore_errors=True)
