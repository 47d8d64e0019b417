"""A real FTP server (pyftpdlib) for the time-lapse tests: serves DIR read-only on
127.0.0.1:PORT and prints "ready" once it listens.

  ftp_server.py DIR PORT [--user U --password P] [--drop NAME:COUNT]
                [--tls CERT KEY] [--no-mlsd]

--user: a login other than anonymous (a wrong password is refused with 530).
--drop: the first COUNT retrievals of NAME cut the session before any byte is sent,
        as a server that goes away mid-transfer.
--tls:  offer explicit TLS (AUTH TLS, RFC 4217) with this certificate and key.
--no-mlsd: answer MLSD with 500, as old servers do (the client lists with NLST).
Every RETR is logged to DIR/../ftp-retr.log, one name a line.
"""
import argparse
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("port", type=int)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--drop", action="append", default=[])
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
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
        Handler.certfile = a.tls[0]
        Handler.keyfile = a.tls[1]
        Handler.tls_control_required = True
        Handler.tls_data_required = True
    server = FTPServer(("127.0.0.1", a.port), Handler)
    print("ready", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
