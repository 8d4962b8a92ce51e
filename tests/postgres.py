"""A throwaway PostgreSQL server for the tests of Dagster's instance on PostgreSQL (the database
production keeps Dagster's state in, RDS): Debian's server binaries, a cluster initialised in a
temporary folder, listening on a free port of 127.0.0.1 with its socket in that folder and TLS on
(the rendered dagster.yaml requires it, as RDS serves it), stopped and removed when the session
ends. `make test` installs the binaries where they are missing
(its `postgres` target); without them the tests that need the server fail, they never skip.

initdb refuses to run as root: as root (CI's containers) the server runs as the `postgres` OS user
the Debian package creates, in a folder it owns; otherwise as the current user."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BINARIES = "/usr/lib/postgresql/*/bin"
SUPERUSER = "lake_tests"
PASSWORD = "not-a-secret"  # a throwaway cluster's, reached over 127.0.0.1 only
DATABASE = "dagster"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    username: str
    password: str
    db_name: str

    def connect(self):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=self.db_name,
            sslmode="require",
        )


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder; a failure that says how to get one."""
    found = sorted(
        (Path(p) for p in glob.glob(BINARIES) if (Path(p) / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            f"PostgreSQL's server binaries are missing ({BINARIES}/pg_ctl): run `make test`, "
            "which installs Debian's postgresql package where it is missing (`make postgres`)",
            pytrace=False,
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, enough for libpq's sslmode=require (which
    encrypts without verifying, as against RDS without its CA bundle)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)  # the server refuses a key others can read
    return cert_file, key_file


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_server_user() + command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    # Not under pytest's tmp folders: those are private to the current user, and the server's
    # user must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="lake-postgres-"))
    data, password_file = folder / "data", folder / "password"
    password_file.write_text(PASSWORD + "\n")
    cert_file, key_file = _self_signed_certificate(folder)
    if os.getuid() == 0:
        for path in (folder, password_file, cert_file, key_file):
            shutil.chown(path, user="postgres", group="postgres")
    port = _free_port()
    _run(
        [
            str(binaries / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(password_file),
            "--auth-host",
            "scram-sha-256",  # over TCP with a password, as Dagster reaches RDS
            "--auth-local",
            "peer",
            "--encoding",
            "UTF8",
            "--no-sync",
        ]
    )
    # TCP connections without TLS are refused, so a client that does not ask for it fails.
    hba = data / "pg_hba.conf"
    hba.write_text(re.sub(r"^host(\s)", r"hostssl\1", hba.read_text(), flags=re.M))
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
        f"-c ssl=on -c ssl_cert_file={cert_file} -c ssl_key_file={key_file}"
    )
    _run(
        [str(binaries / "pg_ctl"), "start", "--pgdata", str(data), "--wait"]
        + ["--log", str(folder / "server.log"), "--options", options]
    )
    try:
        server = PostgresServer("127.0.0.1", port, SUPERUSER, PASSWORD, DATABASE)
        admin = PostgresServer("127.0.0.1", port, SUPERUSER, PASSWORD, "postgres").connect()
        admin.autocommit = True  # CREATE DATABASE runs outside a transaction
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        admin.close()
        yield server
    finally:
        _run([str(binaries / "pg_ctl"), "stop", "--pgdata", str(data), "--mode", "fast", "--wait"])
        shutil.rmtree(folder, ignore_errors=True)
