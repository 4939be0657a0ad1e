"""The connection from a kubeconfig: a plain one read directly, as the kubernetes client reads it; any other
through the kubernetes client."""

from __future__ import annotations

import base64
import datetime
import ssl

import pytest
import yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils import kubeconfig
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    Connection,
    client_connection,
    connect,
    plain_connection,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@pytest.fixture(scope="module")
def pem():
    """(certificate, key) PEM of a self-signed CA: the cluster's CA and the user's certificate alike."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubeforge-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data):
    return base64.b64encode(data).decode()


def write(tmp_path, cluster, user, context_extra=None, name="config"):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": dict({"cluster": "c", "user": "u"}, **(context_extra or {}))}],
        "current-context": "ctx",
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_plain_kubeconfig_with_a_client_certificate_verifies_the_server_by_its_ca(tmp_path, pem, monkeypatch):
    cert, key = pem
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(kubeconfig.tempfile, "tempdir", str(scratch))
    path = write(
        tmp_path,
        {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(cert)},
        {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
    )
    connection = plain_connection(path)
    assert isinstance(connection, Connection)
    assert connection.host == "https://127.0.0.1:6443"
    assert connection.authorization() is None
    context = connection.transport.ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()] == [
        {"commonName": "kubeforge-test-ca"}
    ]
    assert list(scratch.iterdir()) == []  # the key was written for ssl to load, and removed


def test_files_are_read_relative_to_the_kubeconfig_and_a_token_is_a_bearer_header(tmp_path, pem, monkeypatch):
    (tmp_path / "ca.crt").write_bytes(pem[0])
    path = write(tmp_path, {"server": "https://k8s.test:6443", "certificate-authority": "ca.crt"}, {"token": "t0k"})
    monkeypatch.chdir("/")
    connection = plain_connection(path)
    assert connection.authorization() == "Bearer t0k"
    context = connection.transport.ssl_context
    assert len(context.get_ca_certs()) == 1


def test_the_kubernetes_client_makes_the_same_host_and_header_of_a_plain_kubeconfig(tmp_path, pem):
    path = write(
        tmp_path, {"server": "https://k8s.test:6443/", "certificate-authority-data": b64(pem[0])}, {"token": "t"}
    )
    plain, theirs = plain_connection(path), client_connection(path)
    assert (
        (plain.host, plain.authorization())
        == (theirs.host, theirs.authorization())
        == ("https://k8s.test:6443", "Bearer t")
    )


def test_insecure_skip_tls_verify_verifies_nothing_as_with_the_kubernetes_client(tmp_path):
    path = write(tmp_path, {"server": "https://k8s.test:6443", "insecure-skip-tls-verify": True}, {"token": "t"})
    context = plain_connection(path).transport.ssl_context
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_the_kubeconfig_variable_names_the_file_when_no_kubeconfig_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", write(tmp_path, {"server": "http://127.0.0.1:8080"}, {"token": "env"}))
    assert plain_connection().authorization() == "Bearer env"


@pytest.mark.parametrize(
    "cluster, user",
    [
        ({}, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}}),
        ({}, {"auth-provider": {"name": "oidc"}}),
        ({}, {"tokenFile": "/var/run/token"}),
        ({}, {"username": "admin", "password": "secret"}),
        ({"proxy-url": "http://proxy:3128"}, {"token": "t"}),
        ({"tls-server-name": "kubernetes"}, {"token": "t"}),
        ({"certificate-authority-data": "not base64!"}, {"token": "t"}),
        ({"certificate-authority-data": b64(b"not a certificate")}, {"token": "t"}),
    ],
    ids=["exec", "auth-provider", "tokenFile", "basic auth", "proxy", "tls-server-name", "bad base64", "bad CA"],
)
def test_a_kubeconfig_that_is_not_plain_is_left_to_the_kubernetes_client(tmp_path, cluster, user):
    path = write(tmp_path, dict({"server": "https://k8s.test:6443"}, **cluster), user)
    assert plain_connection(path) is None


def test_several_files_a_missing_file_or_context_are_left_to_the_kubernetes_client(tmp_path, monkeypatch):
    path = write(tmp_path, {"server": "https://k8s.test:6443"}, {"token": "t"})
    assert plain_connection(path + ":" + path) is None
    assert plain_connection(str(tmp_path / "missing")) is None
    assert plain_connection(path, context="other") is None
    monkeypatch.setenv("KUBECONFIG", path + ":" + path)
    assert plain_connection() is None


def test_connect_takes_the_kubernetes_client_only_for_what_it_does_not_read(tmp_path, monkeypatch):
    theirs = Connection("https://theirs", None)
    monkeypatch.setattr(kubeconfig, "client_connection", lambda _kubeconfig, _context: theirs)
    plain = write(tmp_path, {"server": "https://k8s.test:6443"}, {"token": "t"}, name="plain")
    other = write(tmp_path, {"server": "https://k8s.test:6443"}, {"exec": {"command": "x"}}, name="exec")
    assert connect(plain).host == "https://k8s.test:6443"
    assert connect(other) is theirs


def test_a_kubeconfig_neither_reads_is_the_input_error_it_always_was(tmp_path):
    with pytest.raises(
        InputError, match=r"^cannot load the kubeconfig .*/missing: .*; pass kubeconfig= \(and context=\)"
    ):
        connect(str(tmp_path / "missing"))
