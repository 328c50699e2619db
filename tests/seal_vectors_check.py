#!/usr/bin/env python3
"""Independent check of the seal-v1 test vectors (docs/integrity.md §8) with
Python's hashlib and the `cryptography` package: leaf and chain hashes, RFC
6962 Merkle roots and audit paths, C2SP key ids and verifier keys, Ed25519
signatures of the checkpoint notes and their SHA-256.

Usage: seal_vectors_check.py VECTORS_JSON   (exit 0 ok, 1 mismatch, 3 missing package)
"""

import base64
import hashlib
import json
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError as e:
    print(f"missing Python package: {e.name} (pip install cryptography)", file=sys.stderr)
    sys.exit(3)


def sha(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def leaf(canonical: str) -> bytes:
    return sha(b"\x00", canonical.encode())


def mth(leaves):
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01", mth(leaves[:k]), mth(leaves[k:]))


def path(leaves, m):
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(leaves[:k], m) + [mth(leaves[k:])]
    return path(leaves[k:], m - k) + [mth(leaves[:k])]


def main() -> int:
    v = json.load(open(sys.argv[1]))
    problems = []

    def check(what, expected, actual):
        if expected != actual:
            problems.append(f"{what}: expected {expected}, computed {actual}")

    for case in v["canonical"]:
        check(f"leaf of {case['name']}", case["leaf"], leaf(case["canonical"]).hex())
        # JCS output is parseable JSON with the same meaning as the input.
        check(f"meaning of {case['name']}", json.loads(case["input"]), json.loads(case["canonical"]))

    chain = v["chain"]
    head = sha(b"\x02", b"auditfed-chain-v1", b"\x00", chain["id"].encode())
    check("genesis", chain["genesis"], head.hex())
    for e in chain["events"]:
        lf = leaf(e["canonical"])
        head = sha(b"\x02", head, lf)
        check(f"leaf {e['seq']}", e["leaf"], lf.hex())
        check(f"chain {e['seq']}", e["chain"], head.hex())

    for tree in v["merkle"]:
        leaves = [leaf('{"i":%d}' % i) for i in range(tree["size"])]
        check(f"leaves of size {tree['size']}", tree["leaves"], [x.hex() for x in leaves])
        check(f"root of size {tree['size']}", tree["root"], mth(leaves).hex())
        for i, p in enumerate(tree["audit_paths"]):
            check(f"path {i} of size {tree['size']}", p, [x.hex() for x in path(leaves, i)])

    keys = {}
    for k in v["keys"]:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["seed"]))
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = sha(k["name"].encode(), b"\n", b"\x01", public)[:4]
        encoded = base64.b64encode(b"\x01" + public).decode()
        vkey = f"{k['name']}+{key_id.hex()}+{encoded}"
        check(f"verifier key {k['name']}", k["verifier_key"], vkey)
        keys[(k["name"], key_id)] = Ed25519PublicKey.from_public_bytes(public)

    for i, cp in enumerate(v["checkpoints"]):
        note = cp["note"]
        check(f"note {i} sha256", cp["note_sha256"], sha(note.encode()).hex())
        text, sigs = note.split("\n\n", 1)
        text += "\n"
        for line in sigs.strip("\n").split("\n"):
            _, name, sig = line.split(" ")
            raw = base64.b64decode(sig)
            public = keys.get((name, raw[:4]))
            if public is None:
                problems.append(f"note {i}: signed by unknown key {name}+{raw[:4].hex()}")
                continue
            try:
                public.verify(raw[4:], text.encode())
            except Exception:
                problems.append(f"note {i}: signature of {name} does not verify")

    for p in problems:
        print(p)
    print(f"seal-v1 vectors: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
