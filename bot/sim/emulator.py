"""An in-process AWS emulator (moto's server) on loopback, for the demo and offline runs.

It is a real HTTP endpoint, so the tools talk to it through boto3 exactly as they
talk to AWS; only the endpoint URL and throwaway credentials differ.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

EMULATOR_CREDENTIALS = {
    "aws_access_key_id": "emulator",
    "aws_secret_access_key": "emulator",
}


def emulator_session(region: str) -> boto3.session.Session:
    """A session with throwaway credentials, so no real profile is ever picked up."""
    return boto3.session.Session(region_name=region, **EMULATOR_CREDENTIALS)


def reset_emulator(url: str) -> None:
    """Forget everything the emulator holds (moto keeps its state per process)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the loopback emulator
        pass


@contextmanager
def running_emulator() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 (a free port) and yield its URL."""
    from moto.server import ThreadedMotoServer  # heavy import, only when an emulator is wanted

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
