"""Read what an offline W&B run wrote, without uploading it: the run's transaction log
(`offline-run-*/run-<id>.wandb`, a LevelDB-style log of protobuf records). wandb >= 0.19 keeps
the summary there (files/wandb-summary.json appears only once a run is synced)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BLOCK = 32768  # the log's block size; a record header is 7 bytes (crc32, length, type)


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            continue
        buf += chunk
        if kind in (1, 4):  # FULL, or LAST of a record split over blocks
            rec = pb.Record()
            rec.ParseFromString(buf)
            buf = b""
            yield rec


@dataclass
class OfflineRun:
    group: str = ""
    job_type: str = ""
    name: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {type, files}
    exit_code: int | None = None


def read_run(run_dir: Path) -> OfflineRun:
    (log,) = Path(run_dir).glob("run-*.wandb")
    out = OfflineRun()
    for rec in records(log):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.group, out.job_type, out.name = rec.run.run_group, rec.run.job_type, rec.run.display_name
        elif kind == "summary":
            for item in rec.summary.update:
                key = item.key or "/".join(item.nested_key)
                out.summary[key] = json.loads(item.value_json)
        elif kind == "artifact":
            out.artifacts[rec.artifact.name] = {"type": rec.artifact.type,
                                                "files": sorted(e.path for e in rec.artifact.manifest.contents)}
        elif kind == "exit":
            out.exit_code = rec.exit.exit_code
    return out


def offline_runs(root: Path) -> list[OfflineRun]:
    return [read_run(d) for d in sorted(Path(root).rglob("offline-run-*")) if d.is_dir()]
