"""A C2SP tlog-witness, written for the tests from the specification text (c2sp.org/tlog-witness).

It serves ``POST /add-checkpoint`` on loopback and follows the spec's checks in order: body
syntax (400), known origin (404), a signature by a configured log key (403), old size <= size
(400), old size == the latest cosigned size (409, ``text/x.tlog.size``), the consistency
proof (422), equal sizes need equal roots (409); then it persists the new checkpoint and
answers with its cosignature line(s). The check-and-update is atomic (one lock). Only the
primitives (Ed25519, SHA-256, base64) come from outside; the note and checkpoint parsing and
the RFC 6962 consistency verification are its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.server
import struct
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EM_DASH = "\u2014"


def key_id(name: str, sigtype: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sigtype]) + pub).digest()[:4]


def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    name, kid, blob = vkey.split("+", 2)
    raw = base64.b64decode(blob)
    return name, bytes.fromhex(kid), raw[1:]


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def verify_consistency(n1: int, n2: int, proof: list[bytes], r1: bytes, r2: bytes) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if n1 > n2 or n1 == 0:
        return False
    if n1 == n2:
        return not proof and r1 == r2
    if not proof:
        return False
    if n1 & (n1 - 1) == 0:
        proof = [r1, *proof]
    fn, sn = n1 - 1, n2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == r1 and sr == r2 and sn == 0


@dataclass
class Witness:
    name: str
    private: Ed25519PrivateKey
    logs: dict[str, list[str]]  # origin -> trusted log vkeys (type 0x01)
    state: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: float | None = None  # fixed timestamp for tests, else the wall clock

    @property
    def public(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def vkey(self) -> str:
        kid = key_id(self.name, 0x04, self.public).hex()
        return f"{self.name}+{kid}+{base64.b64encode(bytes([0x04]) + self.public).decode()}"

    def add_checkpoint(self, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for one add-checkpoint request."""
        try:
            text = body.decode("utf-8")
            head, sep, note = text.partition("\n\n")
            if not sep:
                raise ValueError("no empty line")
            lines = head.split("\n")
            if not lines[0].startswith("old "):
                raise ValueError("no old line")
            old_s = lines[0][4:]
            if not old_s.isdigit() or (old_s != "0" and old_s.startswith("0")):
                raise ValueError("bad old size")
            old = int(old_s)
            proof = [base64.b64decode(p, validate=True) for p in lines[1:]]
            if len(proof) > 63 or any(len(p) != 32 for p in proof):
                raise ValueError("bad proof")
            cut = note.rfind("\n\n")
            ctext, sigs = note[: cut + 1], note[cut + 2 :].split("\n")[:-1]
            origin, size_s, root_b64, *_ = ctext.split("\n")
            size = int(size_s)
            root = base64.b64decode(root_b64, validate=True)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return 400, "text/plain", b"malformed request\n"
        if origin not in self.logs:
            return 404, "text/plain", b"unknown log\n"
        keys = {}
        for vk in self.logs[origin]:
            name, kid, pub = parse_vkey(vk)
            keys[(name, kid)] = pub
        verified = False
        for line in sigs:
            if not line.startswith(EM_DASH + " "):
                continue
            name, _, blob_b64 = line[2:].partition(" ")
            blob = base64.b64decode(blob_b64)
            pub = keys.get((name, blob[:4]))
            if pub is None:
                continue  # signatures from unknown keys are ignored
            try:
                Ed25519PublicKey.from_public_bytes(pub).verify(blob[4:], ctext.encode())
                verified = True
            except Exception:
                pass
        if not verified:
            return 403, "text/plain", b"no trusted signature\n"
        if old > size:
            return 400, "text/plain", b"old size above checkpoint size\n"
        with self.lock:
            latest_size, latest_root = self.state.get(origin, (0, b""))
            if old != latest_size:
                return 409, "text/x.tlog.size", f"{latest_size}\n".encode()
            if old == size:
                if old and root != latest_root:
                    return 409, "text/plain", b"different root at the same size\n"
            elif old == 0:
                if proof:
                    return 422, "text/plain", b"proof must be empty from size 0\n"
            elif not verify_consistency(old, size, proof, latest_root, root):
                return 422, "text/plain", b"consistency proof does not verify\n"
            self.state[origin] = (size, root)
            ts = int(self.clock if self.clock is not None else time.time())
            msg = f"cosignature/v1\ntime {ts}\n".encode() + ctext.encode()
            sig = self.private.sign(msg)
            kid = key_id(self.name, 0x04, self.public)
            blob = base64.b64encode(kid + struct.pack(">Q", ts) + sig).decode()
            return 200, "text/plain", f"{EM_DASH} {self.name} {blob}\n".encode()


def serve(witness: Witness) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/add-checkpoint":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            status, ctype, body = witness.add_checkpoint(self.rfile.read(length))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
