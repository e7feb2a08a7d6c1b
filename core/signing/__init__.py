"""Ed25519 signatures over the ledger head: who filed this evidence, not only whether it changed.

The hash chain shows any edit to a recorded line or file, but not the removal of the newest lines
with their files, nor who wrote the chain. A signature over the head closes both: `keys` makes and
reads the key pair, `statements` says exactly which bytes are signed and files them beside the
ledger, and `check` verifies them against the ledger for `evidentia verify`.
"""

from .check import SignatureState, check_signatures, load_signature_folder
from .keys import SigningError, fingerprint, generate_key_pair, load_private_key, load_public_key
from .statements import SIG_DIR, Statement, sign_ledger_head, sign_store

__all__ = [
    "SIG_DIR",
    "SignatureState",
    "SigningError",
    "Statement",
    "check_signatures",
    "fingerprint",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "load_signature_folder",
    "sign_ledger_head",
    "sign_store",
]
