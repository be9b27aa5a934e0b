#!/usr/bin/env python3
"""FTP server for the FTP connector tests: pyftpdlib (Debian python3-pyftpdlib) serving one folder
to one user on 127.0.0.1. Plain FTP, or FTPS with a certificate: explicit (AUTH TLS, TLS required
on control and data connections) or implicit (TLS from the first byte). Prints "READY <port>" once
listening (port 0 picks a free one)."""
import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--port", type=int, default=0)
p.add_argument("--user", default="admin")
p.add_argument("--password", default="admin")
p.add_argument("--cert", help="PEM with certificate and key: FTPS")
p.add_argument("--implicit", action="store_true", help="implicit TLS instead of AUTH TLS")
p.add_argument("--trace", action="store_true", help='print "CMD <command> <argument>" for every command received')
a = p.parse_args()

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
auth = DummyAuthorizer()
auth.add_user(a.user, a.password, a.dir, perm="elradfmwMT")
auth.add_anonymous(a.dir, perm="elr")

handler = FTPHandler
if a.cert:
    from pyftpdlib.handlers import TLS_FTPHandler

    from OpenSSL import SSL
    from pyftpdlib.handlers import TLS_DTPHandler

    class DataChannel(TLS_DTPHandler):
        # Clients that start TLS on the data connection before the transfer command (basic-ftp,
        # curl) send their ClientHello while pyftpdlib 1.5 expects silence and takes the readable
        # socket for a hang-up; let the handshake proceed.
        def readable(self):
            if self._ssl_accepting:
                return True
            return super().readable()

    class Explicit(TLS_FTPHandler):
        certfile = a.cert
        dtp_handler = DataChannel
        tls_control_required = True
        tls_data_required = True

    class Implicit(Explicit):
        # The control connection is TLS from the start: secure it before the greeting.
        def handle(self):
            self.secure_connection(self.ssl_context)

        def handle_ssl_established(self):
            FTPHandler.handle(self)
            self._ssl_established = True

    handler = Implicit if a.implicit else Explicit
    # Clients that resume the control connection's TLS session on the data connection (basic-ftp,
    # curl) are reset unless the context has a session id context; pyftpdlib 1.5 sets none.
    ctx = Explicit.get_ssl_context()
    ctx.set_session_id(b"tbgw-test-ftp")
    ctx.set_options(SSL.OP_NO_TICKET)
if a.trace:
    base = handler

    class Traced(base):
        def pre_process_command(self, line, cmd, arg):
            print("CMD", cmd, arg or "", flush=True)
            return super().pre_process_command(line, cmd, arg)

    handler = Traced
handler.authorizer = auth
handler.banner = "tb-gw test FTP server"

server = FTPServer(("127.0.0.1", a.port), handler)
print("READY", server.socket.getsockname()[1], flush=True)
server.serve_forever(handle_exit=True)
