"""The README written into every store, so an auditor can find their way without us."""

STORE_README = """\
# Evidence store (Evidentia)

This folder is an evidence store written by Evidentia. Nothing in it is ever rewritten or deleted:
a correction is a new filing.

## Layout
- `PNN-<principle>/<instance>/<UTC time>--<name>.<ext>`: one artefact, filed under every ETSI EN 304 223
  principle it supports (the same bytes, hard-linked or copied into each principle folder).
  `<...>.meta.json` beside it: provenance (source, the exact API calls or commands, period or instant,
  collector and version, collected-at), SHA-256, size, media type, principles, mapped ISO/IEC 27001:2022
  and SOC 2 controls, and findings.
- `catalog/`: the catalogue (principles and control mappings) in force when evidence was filed.
- `runs/`: one record per `evidentia collect` run: what ran, what failed, requests made, durations.
- `ledger.jsonl`: the append-only, hash-chained record of every filing, one JSON object per line.
- `signatures/` (when runs sign): `<seq>-<UTC time>.json` is the exact message a run signed, one JSON
  line naming a ledger line (`seq`) and its SHA-256 (`head`); `<same>.sig` is its Ed25519 signature;
  `key-<SHA-256>.pub` the signer's public key. Signing a line signs every line before it (each line's
  `prev` hashes the one before). Lines after the newest signature are unsigned: not proven.
- `.evidentia/`: the tool's lock, staging area and request caches (e.g. ETags); not evidence.

## Verifying
With Evidentia: `evidentia verify <this folder> --public-key OWNER.pub` (exit 0 intact; 1 with one
line per discrepancy). Without `--public-key` the key in `signatures/` is used: that proves the folder
is unchanged since it was signed, not who signed it (whoever rewrote it could replace that key too).

With stock tools (bash, sha256sum, jq; openssl 3 for a signed store; set KEY=OWNER.pub to check
against the owner's key rather than the one shipped here), from inside this folder:

    # 1. every file the ledger records has the recorded SHA-256 (artefacts and metadata records)
    jq -r 'select(.paths) | .sha256 as $h | .paths[] | "\\($h)  \\(.)"' ledger.jsonl \\
      | sha256sum -c --quiet
    jq -r 'select(.meta_paths) | .meta_sha256 as $h | .meta_paths[] | "\\($h)  \\(.)"' ledger.jsonl \\
      | sha256sum -c --quiet

    # 2. the chain: each line's "prev" is the SHA-256 of the previous line, newline included
    prev=0000000000000000000000000000000000000000000000000000000000000000
    while IFS= read -r line; do
      [ "$(printf '%s' "$line" | jq -r .prev)" = "$prev" ] || echo "chain broken before: $line"
      prev=$(printf '%s\\n' "$line" | sha256sum | cut -d' ' -f1)
    done < ledger.jsonl

    # 3. no file is present that the ledger does not record (besides README.md, ledger.jsonl, the
    #    portal index.html and index.json, signatures/ and .evidentia/)
    comm -13 <(jq -r '(.paths // [])[], (.meta_paths // [])[]' ledger.jsonl | sort -u) \\
             <(find . -type f ! -path './.evidentia/*' ! -path './signatures/*' ! -path ./ledger.jsonl \\
               ! -path ./README.md ! -path ./index.html ! -path ./index.json | sed 's|^./||' | sort)

    # 4. if signed: the newest signature covers the last ledger line, and verifies
    s=$(ls signatures/*.json 2>/dev/null | sort | tail -n 1)
    if [ -n "$s" ]; then
      seq=$(jq -r .seq "$s")
      [ "$seq" -eq "$(wc -l < ledger.jsonl)" ] || echo "lines after $seq are unsigned, or were removed"
      [ "$(sed -n "${seq}p" ledger.jsonl | sha256sum | cut -d' ' -f1)" = "$(jq -r .head "$s")" ] \\
        || echo "ledger line $seq is not the line signed in $s"
      openssl pkeyutl -verify -pubin -inkey "${KEY:-signatures/key-$(jq -r .key_sha256 "$s").pub}" \\
        -rawin -in "$s" -sigfile "${s%.json}.sig" > /dev/null || echo "signature does not verify: $s"
    fi

    # 5. a run record naming its signing key ("signing_key_sha256") has a signature at or after it
    p=$(jq -r 'select(.signing_key_sha256) | .seq' ledger.jsonl | tail -n 1)
    if [ -n "$p" ] && { [ -z "$s" ] || [ "$(jq -r .seq "$s")" -lt "$p" ]; }; then
      echo "ledger line $p is a run record whose signature is missing (removed?)"
    fi
"""
