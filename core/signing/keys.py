"""Ed25519 key pairs: made once by `evidentia keygen`, read by runs (private) and verify (public).

PEM throughout (PKCS#8 private, SubjectPublicKeyInfo public), because stock OpenSSL 3 reads exactly
these files: an auditor can check a signature with `openssl pkeyutl` and no Evidentia at all. The
fingerprint is the SHA-256 of the public key's DER encoding, which `openssl pkey -pubin -outform DER
| sha256sum` reproduces. Error messages name the file, never its bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import EvidentiaError

DEFAULT_NAME = "evidentia-signing"
MAX_KEY_BYTES = 64 * 1024


class SigningError(EvidentiaError):
    """A key that cannot be made, read or used; the message names the file and what is wrong."""


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the SubjectPublicKeyInfo DER: what statements name the signer by."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_pair(out_dir: Path, name: str = DEFAULT_NAME) -> tuple[Path, Path]:
    """Write `<name>.key` (mode 0600) and `<name>.pub` into `out_dir`; never overwrite either.

    A key overwritten by accident would orphan every signature made with it, so an existing file
    is an error, checked for both files before either is written.
    """
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError(
                f"{path} already exists; refusing to overwrite a key",
                hint="choose another --out folder or --name",
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_exclusive(private_path, private, 0o600)
    write_exclusive(public_path, public_pem(key.public_key()), 0o644)
    return private_path, public_path


def write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` (never widened by the umask afterwards), fsynced; fail if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise SigningError(f"{what} {path} is too large to be a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise SigningError(f"{what} {path} is a folder, not a key file") from None
    except PermissionError:
        raise SigningError(f"{what} {path} cannot be read (permission denied)") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS#8 PEM Ed25519 private key (what `evidentia keygen` writes)."""
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningError(
            f"signing key {path} is encrypted; runs need an unencrypted key",
            hint="protect it with file permissions (0600) or a secret store instead of a passphrase",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        hint = "pass the private key (.key), not the public one" if b"PUBLIC KEY" in data else None
        raise SigningError(f"signing key {path} is not a PEM private key", hint=hint) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(
            f"signing key {path} is not an Ed25519 key", hint="make one with `evidentia keygen --out DIR`"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM SubjectPublicKeyInfo Ed25519 public key (the `.pub` from `evidentia keygen`)."""
    data = _read_key_file(path, "public key")
    if b"PRIVATE KEY" in data:
        raise SigningError(
            f"{path} holds a private key; verify needs only the public one",
            hint="pass the .pub file written beside it by `evidentia keygen`",
        )
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"public key {where} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"public key {where} is not an Ed25519 key")
    return key
