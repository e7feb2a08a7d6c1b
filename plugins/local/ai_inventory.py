"""`local.ai_inventory`: the models, datasets and prompts in a folder, with digests and load risk.

An asset register (P5) and documentation of data, models and prompts (P8) start from knowing which
files exist and that they are the ones that were reviewed: hence a SHA-256 per file. Supply-chain
security (P7) adds one question per model file: does loading it run code? Pickle-based formats do
(unpickling calls arbitrary callables), so a tampered or untrusted file compromises the loader.

Format decisions (`executes_code_on_load`):

- true, pickle-based: `.pkl` `.pickle` `.joblib` (pickle); `.pt` `.pth` `.ckpt` `.bin` (PyTorch
  `torch.save`, a zip of pickles; `torch.load(weights_only=True)`, the default from torch 2.6,
  restricts it, but the file format itself still carries pickle). Any pickle file is listed as a
  model, whatever it holds, because loading it is the risk. `.bin` is ambiguous (firmware, old
  GGML files); exclude folders where it is not a PyTorch model.
- null, depends on content: `.h5` `.hdf5` `.keras`: Keras Lambda layers store Python bytecode that
  runs on load unless the loader's `safe_mode` refuses it; a listing cannot tell.
- false, data only: `.safetensors` `.onnx` `.gguf` `.ggml` `.tflite` `.pb` `.mlmodel` `.msgpack`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from ._fs import EXCLUDE_SCHEMA, Excluder, file_facts, walk_files

# suffix -> (format, executes_code_on_load)
MODEL_FORMATS: dict[str, tuple[str, bool | None]] = {
    ".pkl": ("pickle", True),
    ".pickle": ("pickle", True),
    ".joblib": ("joblib", True),
    ".pt": ("pytorch", True),
    ".pth": ("pytorch", True),
    ".ckpt": ("pytorch-checkpoint", True),
    ".bin": ("pytorch-bin", True),
    ".h5": ("keras-hdf5", None),
    ".hdf5": ("keras-hdf5", None),
    ".keras": ("keras", None),
    ".safetensors": ("safetensors", False),
    ".onnx": ("onnx", False),
    ".gguf": ("gguf", False),
    ".ggml": ("ggml", False),
    ".tflite": ("tflite", False),
    ".pb": ("tensorflow-protobuf", False),
    ".mlmodel": ("coreml", False),
    ".msgpack": ("flax-msgpack", False),
}
DATASET_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".arrow": "arrow",
    ".feather": "feather",
    ".tfrecord": "tfrecord",
    ".avro": "avro",
    ".orc": "orc",
    ".npy": "numpy",
    ".npz": "numpy",
}
KINDS = ("model", "dataset", "prompt")
COMPRESSION = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
PROMPT_SUFFIXES = {".prompty": "prompty", ".prompt": "prompt"}
PROMPT_FOLDER = "prompts"
PROMPT_FOLDER_FORMATS = {
    ".md": "markdown",
    ".txt": "text",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".jinja": "jinja",
    ".jinja2": "jinja",
    ".j2": "jinja",
}


def classify(rel: str) -> tuple[str, str, bool | None] | None:
    """(kind, format, executes_code_on_load) for an AI asset path, or None for other files."""
    path = PurePosixPath(rel)
    suffixes = [s.lower() for s in path.suffixes]
    if not suffixes:
        return None
    last = suffixes[-1]
    if last in MODEL_FORMATS:
        fmt, executes = MODEL_FORMATS[last]
        return "model", fmt, executes
    data_suffix, compression = last, ""
    if last in COMPRESSION and len(suffixes) > 1:
        data_suffix, compression = suffixes[-2], "+" + COMPRESSION[last]
    if data_suffix in DATASET_FORMATS:
        return "dataset", DATASET_FORMATS[data_suffix] + compression, False
    if last in PROMPT_SUFFIXES:
        return "prompt", PROMPT_SUFFIXES[last], False
    if last in PROMPT_FOLDER_FORMATS and (".prompt" in suffixes[:-1] or PROMPT_FOLDER in path.parent.parts):
        return "prompt", PROMPT_FOLDER_FORMATS[last], False
    return None


def _finding(rel: str, fmt: str, executes: bool | None) -> Finding | None:
    """The load-risk finding for a model file: high when it surely runs code, medium if it may."""
    if executes:
        return Finding(
            "unsafe-model-format",
            f"{rel} is a {fmt} file: loading it runs code embedded in it; prefer safetensors, "
            "or verify its digest against a trusted source before every load",
            "high",
            subject=rel,
        )
    if executes is None:
        return Finding(
            "model-format-may-execute-code",
            f"{rel} is a {fmt} file: Lambda layers in it run code on load unless safe_mode refuses them",
            "medium",
            subject=rel,
        )
    return None


class AiInventoryCollector(Collector):
    name = "local.ai_inventory"
    version = "1"
    description = (
        "Inventory of model, dataset and prompt files with size, SHA-256 and modification time, "
        "flagging model formats that execute code when loaded (pickle)."
    )
    principles = ("P5", "P7", "P8")
    kind = "snapshot"
    permissions = ("read access to the folders scanned",)
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "paths": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "default": ["."],
                "description": "Folders (or files) to scan, relative to the config file's folder.",
            },
            "exclude": EXCLUDE_SCHEMA,
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        paths = list(ctx.params.get("paths", ["."]))
        records, findings = self._scan(ctx, paths)
        for record in records:
            if record["kind"] == "model":
                found = _finding(record["path"], record["format"], record["executes_code_on_load"])
                findings.extend([found] if found else [])
        counts = {f"{k}s": sum(1 for r in records if r["kind"] == k) for k in KINDS}
        yield Artefact.json(
            "inventory",
            {"paths": paths, "assets": records},
            source=str(ctx.base_dir),
            findings=findings,
            summary={
                **counts,
                "executes_code_on_load": sum(1 for r in records if r["executes_code_on_load"]),
                "bytes": sum(r["size"] for r in records),
            },
        )

    def _scan(self, ctx: CollectContext, paths: list[str]) -> tuple[list[dict[str, Any]], list[Finding]]:
        """Hash every AI asset under the paths once (overlapping paths list a file once)."""
        excluder = Excluder(ctx.params.get("exclude", EXCLUDE_SCHEMA["default"]))
        assets: dict[str, dict[str, Any]] = {}
        findings: list[Finding] = []
        for raw in paths:
            root = ctx.path(raw)
            ctx.record_call(f"list and hash AI asset files under {root}")
            if not root.exists():
                findings.append(Finding("path-not-found", f"{raw} does not exist", subject=raw))
                continue
            for path, rel, _ in walk_files(root, ctx.base_dir, excluder):
                kind = classify(rel)
                if kind is None or rel in assets:
                    continue
                ctx.check_cancelled()
                facts = file_facts(path)
                assets[rel] = {
                    "path": rel,
                    "kind": kind[0],
                    "format": kind[1],
                    "executes_code_on_load": kind[2],
                    "size": facts.size,
                    "sha256": facts.sha256,
                    "modified": facts.modified,
                }
        return [assets[k] for k in sorted(assets)], findings
