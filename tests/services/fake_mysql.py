"""A hostile MySQL server on 127.0.0.1 for the client-file tests: it speaks enough of the protocol for
PyMySQL to connect, and answers chosen statements with a LOAD DATA LOCAL request for a file of its
choosing, recording whatever the client sends back."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

# CLIENT_LONG_PASSWORD | FOUND_ROWS | LONG_FLAG | CONNECT_WITH_DB | LOCAL_FILES | PROTOCOL_41 |
# TRANSACTIONS | SECURE_CONNECTION | MULTI_RESULTS | PLUGIN_AUTH
CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000
AUTOCOMMIT = 0x0002


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _ok(seq: int) -> bytes:
    return _packet(seq, b"\x00\x00\x00" + struct.pack("<HH", AUTOCOMMIT, 0))


@dataclass
class FakeMySQL:
    """``demand``: statement prefix → the file name the server asks the client for when it sees it."""

    demand: dict[str, str]
    received: dict[str, bytes] = field(default_factory=dict)  # file name → bytes the client sent
    queries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"mysql://someone@127.0.0.1:{self.port}/bdml"

    def _read(self, conn: socket.socket) -> tuple[int, bytes]:
        header = self._exactly(conn, 4)
        length = int.from_bytes(header[:3], "little")
        return header[3], self._exactly(conn, length)

    @staticmethod
    def _exactly(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            salt = b"abcdefghijklmnopqrst"
            greeting = (
                b"\x0a5.7.0-fake\x00"
                + struct.pack("<I", 1)
                + salt[:8]
                + b"\x00"
                + struct.pack("<H", CAPABILITIES & 0xFFFF)
                + bytes([45])
                + struct.pack("<H", AUTOCOMMIT)
                + struct.pack("<H", CAPABILITIES >> 16)
                + bytes([21])
                + b"\x00" * 10
                + salt[8:]
                + b"\x00"
                + b"mysql_native_password\x00"
            )
            conn.sendall(_packet(0, greeting))
            self._read(conn)  # the client's handshake response: any password will do
            conn.sendall(_ok(2))
            try:
                while True:
                    _, payload = self._read(conn)
                    if payload[:1] == b"\x01":  # COM_QUIT
                        return
                    query = payload[1:].decode(errors="replace")
                    self.queries.append(query)
                    wanted = next((f for prefix, f in self.demand.items() if query.startswith(prefix)), None)
                    if wanted is None:
                        conn.sendall(_ok(1))
                        continue
                    conn.sendall(_packet(1, b"\xfb" + wanted.encode()))
                    data, seq = b"", 2
                    while True:
                        seq, chunk = self._read(conn)
                        if not chunk:
                            break
                        data += chunk
                    self.received[wanted] = data
                    conn.sendall(_ok(seq + 1))
            except ConnectionError:
                return

    def close(self) -> None:
        self.sock.close()
