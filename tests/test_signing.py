"""Signed ledger heads: keygen, runs that sign, and verify naming each way a signature can fail."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import cli_env, run_cli, write_config

from evidentia.signing import (
    SigningError,
    Statement,
    fingerprint,
    generate_key_pair,
    load_private_key,
    load_public_key,
    sign_ledger_head,
)
from evidentia.store.ledger import line_hash
from evidentia.store.readme import STORE_README

CONFIG = "collectors:\n  - {id: echo, plugin: test.echo, params: {count: 2, content: '${NONCE:-a}'}}\n"


def keygen(folder: Path, name: str = "evidentia-signing") -> tuple[Path, Path]:
    done = run_cli("keygen", "--out", str(folder), "--name", name, cwd=folder.parent)
    assert done.returncode == 0, done.stderr
    return folder / f"{name}.key", folder / f"{name}.pub"


def collect(tmp: Path, key: Path | None, nonce: str = "a") -> None:
    env = cli_env(NONCE=nonce, **({"EVIDENTIA_SIGNING_KEY": str(key)} if key else {}))
    done = run_cli("collect", "-c", str(tmp / "collectors.yaml"), "--force", cwd=tmp, env=env)
    assert done.returncode == 0, done.stderr


def verify(store: Path, *extra: str) -> tuple[int, dict]:
    done = run_cli("verify", str(store), "--json", *extra, cwd=store.parent)
    return done.returncode, json.loads(done.stdout)


def messages(result: dict) -> list[str]:
    return [
        f"{d['kind']}{'' if d['fatal'] else ' (warning)'}: {d['where']}: {d['message']}"
        for d in result["discrepancies"]
    ]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A store filled by one run that signed with a fresh key: (folder, private key, public key)."""
    tmp = tmp_path_factory.mktemp("signed")
    private, public = keygen(tmp / "keys")
    write_config(tmp, CONFIG)
    collect(tmp, private)
    return tmp, private, public


@pytest.fixture
def store(signed: tuple[Path, Path, Path], tmp_path: Path) -> Path:
    """A private copy of the signed store, free to tamper with."""
    copy = tmp_path / "evidence"
    shutil.copytree(signed[0] / "evidence", copy)
    return copy


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path: Path) -> None:
    private, public = keygen(tmp_path / "keys")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    again = run_cli("keygen", "--out", str(tmp_path / "keys"), cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists; refusing to overwrite a key" in again.stderr
    assert private.read_bytes() == before
    assert "PRIVATE KEY" not in again.stdout + again.stderr


def test_a_signed_run_verifies_with_the_owners_key_and_a_truncated_tail_is_named(
    signed: tuple[Path, Path, Path], store: Path
) -> None:
    public = signed[2]
    code, result = verify(store, "--public-key", str(public))
    assert code == 0, messages(result)
    lines = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    sig = result["signature"]
    assert sig["state"] == "valid" and sig["origin"] == "public key given"
    assert sig["signed_seq"] == len(lines) and sig["signed_head"] == line_hash(lines[-1])
    assert result["discrepancies"] == []

    (store / "ledger.jsonl").write_bytes(b"".join(lines[:-1]))  # drop the run record's line
    out = run_cli("verify", str(store), "--public-key", str(public), cwd=store.parent)
    assert out.returncode == 1
    assert f"truncated: ledger.jsonl line {len(lines)}: signed in signatures/" in out.stdout
    assert f"the ledger ends at line {len(lines) - 1}: lines were removed after signing" in out.stdout


def test_the_shipped_key_proves_integrity_only_and_says_so(store: Path) -> None:
    code, result = verify(store)
    assert code == 0
    assert result["signature"]["state"] == "valid"
    assert result["signature"]["origin"].startswith("public key shipped in the folder")
    [warning] = messages(result)
    assert warning.startswith("signature (warning): signatures: checked with the public key shipped")
    assert "not who signed it" in warning


def test_a_signature_by_another_key_is_named_as_the_wrong_key(store: Path, tmp_path: Path) -> None:
    _, other = keygen(tmp_path / "other")
    code, result = verify(store, "--public-key", str(other))
    assert code == 1
    assert result["signature"]["state"] == "invalid"
    [problem] = [m for m in messages(result) if m.startswith("signature:")]
    assert "not by the given public key" in problem and "(wrong key" in problem


@pytest.mark.parametrize("target", ["signature", "statement", "non-canonical statement", "shipped key"])
def test_a_tampered_signature_or_statement_is_named(
    signed: tuple[Path, Path, Path], store: Path, target: str
) -> None:
    [statement] = sorted((store / "signatures").glob("*.json"))
    sig = statement.with_suffix(".sig")
    if target == "signature":
        sig.write_bytes(bytes([sig.read_bytes()[0] ^ 1]) + sig.read_bytes()[1:])
        expected = "the signature does not match the statement: one of the two was altered"
    elif target == "statement":  # still canonical, still the right head: only the time is moved
        statement.write_bytes(statement.read_bytes().replace(b'"signed_at":"2', b'"signed_at":"1'))
        expected = "the signature does not match the statement: one of the two was altered"
    elif target == "non-canonical statement":
        statement.write_bytes(statement.read_bytes().replace(b'"seq":', b'"seq": '))
        expected = "not a valid signed-head statement: not in canonical form"
    else:  # an attacker re-signs with their own key and ships it under the owner's key name
        [shipped] = (store / "signatures").glob("key-*.pub")
        shipped.write_bytes(keygen(store.parent / "attacker")[1].read_bytes())
        expected = "not the one its name says"
    for extra in ((), ("--public-key", str(signed[2]))):
        code, result = verify(store, *extra)
        assert code == 1, (target, extra)
        assert any(expected in m for m in messages(result) if m.startswith("signature:")), messages(result)
        if target != "shipped key":
            assert result["signature"]["state"] == "invalid"


def test_unsigned_lines_are_a_warning_until_the_next_signed_run_and_no_signature_is_rewritten(
    signed: tuple[Path, Path, Path], store: Path
) -> None:
    _, private, public = signed
    work = store.parent
    write_config(work, CONFIG)
    first = {p.name: p.read_bytes() for p in (store / "signatures").iterdir()}
    signed_lines = len((store / "ledger.jsonl").read_bytes().splitlines())
    collect(work, None, nonce="b")  # a run without the key: like one stopped before it signed
    total = len((store / "ledger.jsonl").read_bytes().splitlines())
    code, result = verify(store, "--public-key", str(public))
    assert code == 0
    assert messages(result) == [
        f"unsigned (warning): ledger.jsonl lines {signed_lines + 1}-{total}: not covered by a signature: "
        "filed by a run without a signing key, or one stopped before it signed (the next signed run "
        "covers them); their origin is not proven"
    ]
    assert result["signature"]["signed_seq"] == signed_lines and result["signature"]["ledger_seq"] == total
    collect(work, private, nonce="c")
    code, result = verify(store, "--public-key", str(public))
    assert code == 0 and result["discrepancies"] == []
    now = {p.name: p.read_bytes() for p in (store / "signatures").iterdir()}
    assert {k: now[k] for k in first} == first, "earlier signatures are kept byte for byte"
    assert len([n for n in now if n.endswith(".json")]) == 2


def test_an_interrupted_signing_and_a_removed_statement_are_told_apart(store: Path) -> None:
    [statement] = sorted((store / "signatures").glob("*.json"))
    orphan = store / "signatures" / "0000000099-20991231T000000Z.sig"
    shutil.copyfile(statement.with_suffix(".sig"), orphan)  # the .sig lands first, then a crash
    code, result = verify(store)
    assert code == 0
    assert any(m.startswith(f"interrupted (warning): signatures/{orphan.name}") for m in messages(result))
    statement.with_suffix(".sig").unlink()
    code, result = verify(store)
    assert code == 1
    assert any(
        m == f"signature: signatures/{statement.name}: has no {statement.stem}.sig beside it (removed?)"
        for m in messages(result)
    )


def test_the_public_key_option_on_an_unsigned_store_fails(
    tmp_path: Path, signed: tuple[Path, Path, Path]
) -> None:
    write_config(tmp_path, CONFIG)
    collect(tmp_path, None)
    code, result = verify(tmp_path / "evidence")
    assert code == 0 and result["signature"]["state"] == "unsigned" and result["discrepancies"] == []
    code, result = verify(tmp_path / "evidence", "--public-key", str(signed[2]))
    assert code == 1
    assert "the store holds no signature" in " ".join(messages(result))


def test_signing_key_in_the_config_and_its_errors(tmp_path: Path, signed: tuple[Path, Path, Path]) -> None:
    shutil.copytree(signed[0] / "keys", tmp_path / "keys")
    cfg = write_config(tmp_path, "signing_key: keys/evidentia-signing.key\n" + CONFIG)
    done = run_cli("collect", "-c", str(cfg), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "evidence" / "signatures").glob("*.json"))) == 1
    bad = write_config(tmp_path, "signing_key: keys/evidentia-signing.pub\n" + CONFIG, "bad.yaml")
    refused = run_cli("check", "-c", str(bad), cwd=tmp_path)
    assert refused.returncode == 2
    assert f"{bad}:1: key 'signing_key': signing key" in refused.stderr
    assert "pass the private key (.key), not the public one" in refused.stderr
    env = cli_env(EVIDENTIA_SIGNING_KEY=str(tmp_path / "missing.key"))
    missing = run_cli("collect", "-c", str(write_config(tmp_path, CONFIG, "env.yaml")), cwd=tmp_path, env=env)
    assert missing.returncode == 2
    assert (
        f"environment variable EVIDENTIA_SIGNING_KEY: signing key {tmp_path}/missing.key does not exist"
        in (missing.stderr)
    )
    assert "PRIVATE KEY" not in refused.stderr + missing.stderr


def needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: the stock-tools procedure cannot run")


def test_stock_openssl_verifies_the_statement_and_the_readme_procedure_catches_truncation(
    signed: tuple[Path, Path, Path], store: Path
) -> None:
    needs("openssl", "jq", "sha256sum", "bash")
    public = signed[2]
    [statement] = sorted((store / "signatures").glob("*.json"))

    def openssl(message: Path) -> subprocess.CompletedProcess[str]:
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin"]
        cmd += ["-in", str(message), "-sigfile", str(statement.with_suffix(".sig"))]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    assert openssl(statement).returncode == 0
    forged = store.parent / "forged.json"
    forged.write_bytes(statement.read_bytes().replace(b'"seq":', b'"seq":1'))
    assert openssl(forged).returncode != 0
    forged.unlink()

    assert (store / "README.md").read_text() == STORE_README  # what the auditor finds in the folder
    script = STORE_README.split("from inside this folder:", 1)[1]
    script = "\n".join(line[4:] for line in script.splitlines())

    def stock() -> subprocess.CompletedProcess[str]:
        env = {**cli_env(), "KEY": str(public)}
        return subprocess.run(
            ["bash", "-c", script], cwd=store, env=env, capture_output=True, text=True, timeout=60
        )

    clean = stock()
    assert clean.returncode == 0 and clean.stdout == "" and clean.stderr == "", clean
    lines = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    (store / "ledger.jsonl").write_bytes(b"".join(lines[:-1]))
    dirty = stock()
    assert f"lines after {len(lines)} are unsigned, or were removed" in dirty.stdout
    assert f"ledger line {len(lines)} is not the line signed in signatures/{statement.name}" in dirty.stdout
    (store / "ledger.jsonl").write_bytes(b"".join(lines))
    for path in (store / "signatures").glob("0*"):
        path.unlink()
    removed = stock()
    assert (
        removed.stdout == f"ledger line {len(lines)} is a run record whose signature is missing (removed?)\n"
    )


def test_a_removed_signature_is_caught_by_the_run_record_that_promised_it(
    signed: tuple[Path, Path, Path], store: Path
) -> None:
    """Deleting the newest signature used to leave a mere 'unsigned' warning: the run record names its key."""
    public = signed[2]
    lines = (store / "ledger.jsonl").read_bytes().splitlines()
    record = json.loads(lines[-1])
    fp = load_public_key(public)
    assert record["type"] == "run" and record["signing_key_sha256"] == fingerprint(fp)
    for path in (store / "signatures").glob("0*"):
        path.unlink()
    for extra in ((), ("--public-key", str(public))):
        code, result = verify(store, *extra)
        assert code == 1, messages(result)
        assert f"signature: ledger.jsonl line {len(lines)}: the record of a run that signed with key " in (
            "\n".join(messages(result))
        )
        assert "its signature was removed" in "\n".join(messages(result))


def test_the_shipped_key_mode_names_every_key_that_signed(
    signed: tuple[Path, Path, Path], store: Path, tmp_path: Path
) -> None:
    """An attacker who re-signs with their own key and ships it is 'valid' in shipped mode, but named."""
    attacker = generate_key_pair(tmp_path / "attacker")[0]
    lines = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    moment = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
    staging = store / ".evidentia" / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    sign_ledger_head(store, staging, len(lines), line_hash(lines[-1]), load_private_key(attacker), moment)
    theirs = fingerprint(load_private_key(attacker).public_key())
    code, result = verify(store)
    assert code == 0 and result["signature"]["key_sha256"] == theirs
    [warning] = [m for m in messages(result) if "different keys" in m]
    assert f"signed with 2 different keys: sha256:{fingerprint(load_public_key(signed[2]))}" in warning
    assert f"sha256:{theirs} (newest signed line {len(lines)})" in warning
    code, result = verify(store, "--public-key", str(signed[2]))
    assert code == 1 and any(
        f"signed by key sha256:{theirs}, not by the given" in m for m in messages(result)
    )


def test_a_passphrase_key_and_a_public_key_as_signing_key_are_refused_clearly(
    tmp_path: Path, signed: tuple[Path, Path, Path]
) -> None:
    encrypted = tmp_path / "locked.key"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hunter2"),
    )
    encrypted.write_bytes(pem)
    cfg = write_config(tmp_path, CONFIG)
    for key, expected in (
        (encrypted, f"signing key {encrypted} is encrypted; runs need an unencrypted key"),
        (signed[2], "pass the private key (.key), not the public one"),
    ):
        done = run_cli("check", "-c", str(cfg), cwd=tmp_path, env=cli_env(EVIDENTIA_SIGNING_KEY=str(key)))
        assert done.returncode == 2 and expected in done.stderr, done.stderr
        assert "PRIVATE KEY" not in done.stderr and "PUBLIC KEY" not in done.stderr


def test_keygen_under_a_permissive_umask_never_exposes_the_private_key(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        private, public = generate_key_pair(tmp_path / "keys")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    with pytest.raises(SigningError, match="already exists; refusing to overwrite a key"):
        generate_key_pair(tmp_path / "keys")


def test_a_ledger_swapped_for_a_link_is_named(store: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "ledger-elsewhere.jsonl"
    shutil.move(store / "ledger.jsonl", elsewhere)
    (store / "ledger.jsonl").symlink_to(elsewhere)
    code, result = verify(store)
    assert code == 1 and "ledger: ledger.jsonl: is a link, not the store's ledger" in messages(result)


@pytest.mark.parametrize(
    "forge",
    [
        lambda b: b.replace(b'{"head"', b'{"seq":1,"head"'),  # a duplicate key: json keeps the last
        lambda b: b.replace(b'"statement"', b'"\\u0073tatement"'),  # the same text, escaped
        lambda b: b.replace(b'{"head"', b'{"extra":1,"head"'),  # a field nobody signs for
        lambda b: b.rstrip(b"\n"),  # no newline
        lambda b: b"\xef\xbb\xbf" + b,  # a byte-order mark
        lambda b: b.replace(b'"version":1', b'"version":1.0'),
        lambda b: b.replace(b'00Z"', b'00"'),  # a signed_at with no zone: not a moment at all
    ],
    ids=["duplicate key", "escaped", "extra field", "no newline", "bom", "float version", "naive time"],
)
def test_a_statement_in_any_but_the_canonical_form_is_refused(forge: object) -> None:
    """Two encodings of one claim must never both verify: only the exact canonical bytes parse."""
    good = Statement(seq=3, head="a" * 64, signed_at="2026-11-23T20:46:00Z", key_sha256="b" * 64)
    assert Statement.decode(good.encode()) == good
    with pytest.raises(ValueError):
        Statement.decode(forge(good.encode()))  # type: ignore[operator]
