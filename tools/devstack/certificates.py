"""The cluster profile's TLS: a certificate authority of its own and the nodes' certificate, made with the JDK's
`keytool` (Java is already what the brokers run on), kept in the run directory and reused while all four files
are there (valid for VALID_DAYS; delete the directory to make a new set).

- `ca.p12` holds the CA's key; `ca.pem` its certificate, which every client trusts (`CITYWATCH_KAFKA_SSL_CAFILE`).
- `node.p12` holds the nodes' key and certificate (CN `citywatch-kafka`, for 127.0.0.1 and localhost), signed by the
  CA: the brokers' identity towards clients and, on the controller listener, towards each other.
- `truststore.p12` holds the CA certificate for the brokers.
- `store-password` (0600) unlocks the three stores.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.kafka_security import write_private

NODE_NAME = "CN=citywatch-kafka"
"""The nodes' certificate subject: their principal on the controller listener (`User:CN=citywatch-kafka`)."""
CA_NAME = "CN=citywatch local cluster CA"
VALID_DAYS = 825
ADDRESSES = "SAN=ip:127.0.0.1,dns:localhost"


class CertificateError(RuntimeError):
    """keytool refused; the message has its output."""


@dataclass(frozen=True)
class ClusterTls:
    directory: Path

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.directory / "node.p12"

    @property
    def truststore(self) -> Path:
        return self.directory / "truststore.p12"

    @property
    def password_file(self) -> Path:
        return self.directory / "store-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def complete(self) -> bool:
        return all(p.exists() for p in (self.ca_pem, self.keystore, self.truststore, self.password_file))


def cluster_tls(directory: Path) -> ClusterTls:
    """The CA and the node certificate in `directory`, made the first time."""
    tls = ClusterTls(directory)
    if tls.complete():
        return tls
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.iterdir():  # half of a set from an interrupted run is no use
        leftover.unlink()
    write_private(tls.password_file, secrets.token_urlsafe(24))
    ca_store, csr, signed = directory / "ca.p12", directory / "node.csr", directory / "node.pem"

    def keytool(*args: str | Path) -> None:
        done = subprocess.run(["keytool", *map(str, args)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CertificateError(f"keytool {args[0]} failed: {done.stdout}{done.stderr}")

    store = ("-storetype", "PKCS12", "-storepass", tls.password)
    key = ("-keyalg", "RSA", "-keysize", "2048", "-validity", str(VALID_DAYS))
    keytool("-genkeypair", "-alias", "ca", "-dname", CA_NAME, "-ext", "bc:c", *key, "-keystore", ca_store, *store)
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", ca_store, *store, "-file", tls.ca_pem)
    keytool(
        "-genkeypair", "-alias", "node", "-dname", NODE_NAME, "-ext", ADDRESSES, *key, "-keystore", tls.keystore, *store
    )
    keytool("-certreq", "-alias", "node", "-keystore", tls.keystore, *store, "-file", csr)
    keytool(
        "-gencert", "-alias", "ca", "-keystore", ca_store, *store, "-infile", csr, "-outfile", signed, "-rfc",
        "-ext", ADDRESSES, "-ext", "KU=digitalSignature,keyEncipherment", "-ext", "EKU=serverAuth,clientAuth",
        "-validity", str(VALID_DAYS),
    )  # fmt: skip
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", tls.ca_pem, "-keystore", tls.keystore, *store)
    keytool("-importcert", "-noprompt", "-alias", "node", "-file", signed, "-keystore", tls.keystore, *store)
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", tls.ca_pem, "-keystore", tls.truststore, *store)
    csr.unlink()
    return tls
