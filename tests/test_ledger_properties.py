"""Property tests: whatever is filed verifies, and any single change to a signed folder is detected.

The store is signed, as a keyed nightly run leaves it: in an unsigned store the last ledger line has
no successor whose `prev` pins it, so a change to one of its fields that names no file (a date, a
key) is undetectable by design; the signature over the head is what pins it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from evidentia.catalog import load_builtin
from evidentia.collector import Artefact, Period
from evidentia.signing.keys import fingerprint
from evidentia.signing.statements import sign_store
from evidentia.store.local import LocalStore
from evidentia.store.records import Provenance, file_artefact, file_catalog_if_changed, file_run_record
from evidentia.store.verify import verify_store

CATALOG = load_builtin()
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)
PRINCIPLES = list(CATALOG.principles)
SIGNING_KEY = Ed25519PrivateKey.generate()

filing = st.tuples(
    st.text(min_size=1, max_size=30),  # artefact name: anything, including '../' and unicode
    st.binary(max_size=200),  # content
    st.lists(st.sampled_from(PRINCIPLES), min_size=1, max_size=3, unique=True),
    st.sampled_from(["inv", "changes", "a.b-c_d"]),
)


def build(root: Path, filings: list[tuple[str, bytes, list[str], str]]) -> None:
    with LocalStore(root, batch_size=3) as store:
        file_catalog_if_changed(store, CATALOG, NOW)
        for i, (name, content, principles, instance) in enumerate(filings):
            at = NOW + dt.timedelta(seconds=i // 2)
            prov = Provenance(
                instance=instance,
                collector="t.x",
                collector_version="1",
                plugin="p",
                plugin_version="0",
                tool_version="0",
                run_id="r",
                kind="snapshot",
                collected_at=at,
                period=Period(at - dt.timedelta(days=1), at),
                calls=[],
                params={},
                stale_after_seconds=60,
            )
            file_artefact(
                store, CATALOG, Artefact(name=name, content=content, extension="bin"), principles, prov
            )
        # as a keyed run ends: its run record promises the signature, then the head is signed
        file_run_record(store, {"instances": []}, "r", NOW, fingerprint(SIGNING_KEY.public_key()))
        store.flush()
        sign_store(store, SIGNING_KEY, NOW)


def evidence_files(root: Path) -> list[Path]:
    """Every file that is evidence or protects it. Not the shipped public key: verify is given the
    owner's key, as an auditor proving origin is, so the folder's copy is only a convenience."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and ".evidentia" not in p.parts
        and p.name != "README.md"
        and not (p.parent.name == "signatures" and p.suffix == ".pub")
    )


@settings(max_examples=40, deadline=None)
@given(filings=st.lists(filing, min_size=1, max_size=8))
def test_whatever_is_filed_verifies_and_stays_inside_the_store(filings: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        build(root, filings)
        result = verify_store(root, public_key=SIGNING_KEY.public_key())
        assert result.ok and result.discrepancies == []
        for path in root.rglob("*"):
            assert path.resolve().is_relative_to(root.resolve())


@settings(max_examples=60, deadline=None)
@given(
    filings=st.lists(filing, min_size=1, max_size=5),
    pick=st.integers(min_value=0),
    offset=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_anywhere_is_detected(
    filings: list, pick: int, offset: int, flip: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        build(root, filings)
        files = evidence_files(root)
        victim = files[pick % len(files)]
        data = bytearray(victim.read_bytes())
        if not data:
            data = bytearray(b"\x00")  # an empty artefact gains a byte instead
        else:
            data[offset % len(data)] ^= flip
        if victim.stat().st_nlink > 1:  # break the hard link so only this copy changes
            victim.unlink()
        victim.write_bytes(bytes(data))
        assert not verify_store(root, public_key=SIGNING_KEY.public_key()).ok, (
            f"undetected change to {victim.relative_to(root)}"
        )


@settings(max_examples=30, deadline=None)
@given(filings=st.lists(filing, min_size=2, max_size=6), pick=st.integers(min_value=0))
def test_any_deleted_file_is_detected(filings: list, pick: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        build(root, filings)
        files = evidence_files(root)
        victim = files[pick % len(files)]
        if victim.name == "ledger.jsonl":
            shutil.copy(victim, victim.with_suffix(".bak"))
        victim.unlink()
        assert not verify_store(root, public_key=SIGNING_KEY.public_key()).ok
