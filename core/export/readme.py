"""The README written into every audit pack: what it holds and how to verify it without us."""

from __future__ import annotations

from typing import Any

PACK_README = """\
# Audit pack (Evidentia)

Evidence filed between {start} (included) and {end} (excluded), {filters}.
Ledger lines {first_seq} to {last_seq} of the evidence store; {entries} of them have their files here.
Signature: {signature}.

## What is here
- `PNN-<principle>/<instance>/...`, `catalog/`, `runs/`: evidence at the paths the store filed it under:
  what was filed in the window, each snapshot in force at its start (the last one filed before it),
  the catalogue in force, and the run records. Each artefact has its `.meta.json` provenance beside it.
- `ledger.jsonl`: the store's ledger lines {first_seq}-{last_seq}, unchanged. Lines whose files are not
  here (outside the window or the filters) are kept because each line's `prev` is the SHA-256 of the
  line before: the segment must be whole to chain. Its first line links to the store's earlier lines.
- `pack.json`: the window, the filters, the segment, and every entry whose files are here, with why.
- `signatures/`: Ed25519 signatures over ledger heads in the segment, and the signer's public key.
- `index.html` (open it in a browser) and `index.json`: the evidence portal for the window.
- `SHA256SUMS`: the SHA-256 of every other file. The README and portal are generated: only this list
  covers them. The evidence is covered by the ledger, and the ledger by the signature.

## Verifying
With Evidentia: `evidentia verify pack.zip --public-key OWNER.pub` (or the unzipped folder). Without
`--public-key` the key in `signatures/` is used, which proves integrity but not who signed.

With stock tools (bash, sha256sum, jq, openssl 3), after `unzip pack.zip -d pack && cd pack`; set
KEY=OWNER.pub to check against the owner's key rather than the one shipped here:

```sh
# 1. every file is listed in SHA256SUMS and intact, and nothing else is present
sha256sum -c --quiet SHA256SUMS
comm -13 <(cut -c67- SHA256SUMS | sort) <(find . -type f ! -path ./SHA256SUMS | sed 's|^./||' | sort)

# 2. every evidence file has the SHA-256 its ledger line records (files left out of the pack are skipped)
jq -r 'select(.paths) | .sha256 as $h | .paths[] | "\\($h)  \\(.)"' ledger.jsonl \\
  | sha256sum -c --quiet --ignore-missing
jq -r 'select(.meta_paths) | .meta_sha256 as $h | .meta_paths[] | "\\($h)  \\(.)"' ledger.jsonl \\
  | sha256sum -c --quiet --ignore-missing

# 3. the chain: the first line's "prev" links to the store's earlier lines, each next one to the line before
prev=$(jq -r .segment.prev pack.json)
while IFS= read -r line; do
  [ "$(printf '%s' "$line" | jq -r .prev)" = "$prev" ] || echo "chain broken before: $line"
  prev=$(printf '%s\\n' "$line" | sha256sum | cut -d' ' -f1)
done < ledger.jsonl
[ "$prev" = "$(jq -r .segment.head pack.json)" ] || echo "the segment does not end at its head"

# 4. the newest signature covers the segment's last line, and verifies
s=$(ls signatures/*.json 2>/dev/null | sort | tail -n 1)
if [ -n "$s" ]; then
  seq=$(jq -r .seq "$s"); first=$(jq -r .segment.first_seq pack.json)
  [ "$seq" -eq "$(jq -r .segment.last_seq pack.json)" ] || echo "the newest signature covers line $seq only"
  [ "$(sed -n "$((seq - first + 1))p" ledger.jsonl | sha256sum | cut -d' ' -f1)" = "$(jq -r .head "$s")" ] \\
    || echo "ledger line $seq is not the line signed in $s"
  openssl pkeyutl -verify -pubin -inkey "${{KEY:-signatures/key-$(jq -r .key_sha256 "$s").pub}}" -rawin \\
    -in "$s" -sigfile "${{s%.json}}.sig" > /dev/null || echo "signature does not verify: $s"
else
  echo "unsigned pack: origin not proven"
fi

# 5. a run record naming its signing key ("signing_key_sha256") has a signature at or after it
p=$(jq -r 'select(.signing_key_sha256) | .seq' ledger.jsonl | tail -n 1)
if [ -n "$p" ] && {{ [ -z "$s" ] || [ "$(jq -r .seq "$s")" -lt "$p" ]; }}; then
  echo "ledger line $p is a run record whose signature is missing (removed?)"
fi
```

Each step prints nothing when all is well (step 4 prints a note for an unsigned pack). A statement
`signatures/*.json` is the exact message signed: one JSON line naming the ledger line (`seq`) and its
SHA-256 (`head`); since each line hashes the one before, signing the head signs every line up to it.
"""


def pack_readme(manifest: dict[str, Any]) -> str:
    window, filters, seg = manifest["window"], manifest["filters"], manifest["segment"]
    picked = [*filters["principles"], *filters["controls"]]
    signature = manifest["signature"]
    signed = {
        "signed": f"the newest statement covers the segment's last line, {signature['covers_seq']}",
        "partly signed": "only earlier lines are signed: the store was not signed after the window's end",
        "unsigned": "none: the store was not signed when these lines were filed",
    }[signature["state"]]
    return PACK_README.format(
        start=window["from"],
        end=window["to"],
        filters=f"for {', '.join(picked)}" if picked else "for every principle and control",
        first_seq=seg["first_seq"],
        last_seq=seg["last_seq"],
        entries=len(manifest["entries"]),
        signature=signed,
    )
