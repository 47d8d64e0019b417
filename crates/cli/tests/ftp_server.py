"""A real FTP server (pyftpdlib) for the time-lapse tests: serves DIR read-only on
127.0.0.1:PORT and prints "ready" once it listens.

  ftp_server.py DIR PORT [--user U --password P] [--drop NAME:COUNT]
                [--tls CERT KEY] [--no-mlsd]

--user: a login other than anonymous (a wrong password is refused with 530).
--drop: the first COUNT retrievals of NAME cut the session before any byte is sent,
        as a server that goes away mid-transfer.
--tls DIR: offer explicit TLS (AUTH TLS, RFC 4217) and require it, with a server
        certificate for 127.0.0.1 issued by a test CA made here; the CA's certificate
        is written to DIR/ca.pem for the client to trust.
--no-mlsd: answer MLSD with 500, as old servers do (the client lists with NLST).
Every RETR is logged to DIR/../ftp-retr.log, one name a line.
"""
import argparse
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def make_certificates(dir):
    """A CA, and a certificate for 127.0.0.1 it signs: (cert path, key path)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    later = now + datetime.timedelta(days=2)
    earlier = now - datetime.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("vidpipe test CA"))
        .issuer_name(name("vidpipe test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(earlier)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(earlier)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    os.makedirs(dir, exist_ok=True)
    with open(os.path.join(dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    cert_path, key_path = os.path.join(dir, "server.pem"), os.path.join(dir, "server.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("port", type=int)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--drop", action="append", default=[])
    p.add_argument("--tls")
    p.add_argument("--no-mlsd", action="store_true")
    a = p.parse_args()

    drops = {}
    for d in a.drop:
        name, count = d.rsplit(":", 1)
        drops[name] = int(count)
    log = os.path.join(os.path.dirname(os.path.abspath(a.dir)), "ftp-retr.log")

    authorizer = DummyAuthorizer()
    if a.user:
        authorizer.add_user(a.user, a.password, a.dir, perm="elr")
    else:
        authorizer.add_anonymous(a.dir, perm="elr")

    base = TLS_FTPHandler if a.tls else FTPHandler

    class Handler(base):
        def ftp_RETR(self, file):
            name = os.path.basename(file)
            with open(log, "a") as f:
                f.write(name + "\n")
            if drops.get(name, 0) > 0:
                drops[name] -= 1
                self.close()
                return
            return super().ftp_RETR(file)

        def ftp_MLSD(self, path):
            if a.no_mlsd:
                self.respond('500 Command "MLSD" not understood.')
                return
            return super().ftp_MLSD(path)

    Handler.authorizer = authorizer
    Handler.passive_ports = None
    if a.tls:
        Handler.certfile, Handler.keyfile = make_certificates(a.tls)
        Handler.tls_control_required = True
        Handler.tls_data_required = True
    server = FTPServer(("127.0.0.1", a.port), Handler)
    print("ready", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
