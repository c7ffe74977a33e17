"""Getting the public audio datasets onto disk: download, verify, extract, safely.

    ganlib.download.fetch("ljspeech", "data")   # -> Path("data/ljspeech"), holding LJSpeech-1.1/

`download` streams a URL to `path + ".part"`, resumes a partial download with an HTTP Range
request, checks the sha256 and only then renames the file into place. `extract` unpacks tar
(gz, bz2, xz) and zip archives all or nothing, after refusing any member that could write
outside the target folder (absolute paths, `..`, links, device files). `fetch` does both for
an entry of PUBLIC_DATASETS and returns at once when the set is already extracted.

Without network the download fails within seconds and says where to put the file by hand.

Notebook: 11_full_training.ipynb
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm


class DownloadError(ConnectionError):
    """A download could not be completed (no network, a server error, a cut connection);
    the message names the URL and where to put the file by hand."""


# The archives of the public sets the course uses. sha256 only where it is certain (the values
# torchaudio's dataset classes verify downloads against); None elsewhere, and `fetch` then asks
# for `sha256=` or an explicit `verify=False`. approx_size is for the reader, never checked.
PUBLIC_DATASETS: dict[str, dict] = {
    "ljspeech": {
        "description": "LJ Speech 1.1: 13,100 clips of one English speaker, 22.05 kHz, about 24 h",
        "homepage": "https://keithito.com/LJ-Speech-Dataset/",
        "archives": [{
            "url": "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2",
            "filename": "LJSpeech-1.1.tar.bz2", "approx_size": "2.6 GB",
            "sha256": "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5",
        }],
    },
    "vctk": {
        "description": "CSTR VCTK Corpus 0.92: 110 English speakers, 48 kHz FLAC",
        "homepage": "https://datashare.ed.ac.uk/handle/10283/3443",
        "archives": [{
            "url": "https://datashare.ed.ac.uk/bitstream/handle/10283/3443/VCTK-Corpus-0.92.zip",
            "filename": "VCTK-Corpus-0.92.zip", "approx_size": "11 GB",
            "sha256": "f96258be9fdc2cbff6559541aae7ea4f59df3fcaf5cf963aae5ca647357e359c",
        }],
    },
    "speech_commands": {
        "description": "Speech Commands v0.02: 105,829 one-second words, 16 kHz",
        "homepage": "https://arxiv.org/abs/1804.03209",
        "archives": [{
            "url": "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
            "filename": "speech_commands_v0.02.tar.gz", "approx_size": "2.3 GB",
            "sha256": "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        }],
    },
    "voicebank_demand": {
        "description": "VoiceBank-DEMAND (Valentini-Botinhao, 2017): clean and noisy speech, 48 kHz, "
                       "28-speaker training set and the 2-speaker test set",
        "homepage": "https://datashare.ed.ac.uk/handle/10283/2791",
        "archives": [
            {"url": f"https://datashare.ed.ac.uk/bitstream/handle/10283/2791/{filename}",
             "filename": filename, "approx_size": None, "sha256": None}
            for filename in ("clean_trainset_28spk_wav.zip", "noisy_trainset_28spk_wav.zip",
                             "clean_testset_wav.zip", "noisy_testset_wav.zip")
        ],
    },
    "nsynth": {
        "description": "NSynth: 305,979 four-second musical notes, 16 kHz, JSON metadata and WAV",
        "homepage": "https://magenta.tensorflow.org/datasets/nsynth",
        "archives": [
            {"url": f"http://download.magenta.tensorflow.org/datasets/nsynth/nsynth-{split}.jsonwav.tar.gz",
             "filename": f"nsynth-{split}.jsonwav.tar.gz", "approx_size": size, "sha256": None}
            for split, size in (("train", "22 GB"), ("valid", None), ("test", None))
        ],
    },
    "esc50": {
        "description": "ESC-50: 2,000 five-second environmental sounds in 50 classes, 44.1 kHz",
        "homepage": "https://github.com/karolpiczak/ESC-50",
        # the archive of a moving branch: no fixed checksum can exist
        "archives": [{
            "url": "https://github.com/karolpiczak/ESC-50/archive/master.zip",
            "filename": "ESC-50-master.zip", "approx_size": None, "sha256": None,
        }],
    },
}

_EXTRACTED_MARKER = ".{filename}.extracted"


# --- download -----------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks. Returns the hex digest (64 lower-case characters)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _by_hand(url: str, path: Path, sha256: str | None) -> str:
    check = (f"it must have sha256 {sha256} (check with `sha256sum {path}` or "
             f"ganlib.download.file_sha256('{path}'))" if sha256 else
             "no checksum is known for it, so check it against the publisher's")
    return (f"To do it by hand: download {url} on a machine with network and put the file at "
            f"{path}; {check}.")


def download(url: str, path: str | os.PathLike, sha256: str | None = None,
             chunk_size: int = 1 << 20, timeout: float = 10.0, progress: bool = True) -> Path:
    """Download `url` to `path`, resuming a partial download and verifying the sha256.

    Bytes go to `path + ".part"`; a `.part` left by an interrupted run is resumed with an HTTP
    Range request (from the start again if the server ignores Range). Only a complete, verified
    file is renamed to `path`. A `path` that already exists is kept when it matches `sha256`
    (or when no sha256 is given). `timeout` (seconds) bounds the connection and each read; there
    are no retries, so without network this fails at once.

    Returns `path` as a Path. Raises ValueError (naming the file, the expected and the actual
    hash) on a checksum mismatch, after deleting the download; DownloadError (naming the URL and
    where to put the file by hand) when the server cannot be reached or the transfer breaks.
    Notebook: 11_full_training.ipynb
    """
    path = Path(path)
    sha256 = sha256.lower() if sha256 else None
    if path.is_file() and (sha256 is None or file_sha256(path) == sha256):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    digest = _transfer(url, path, part, sha256, chunk_size, timeout, progress)
    if sha256 is not None and digest != sha256:
        part.unlink(missing_ok=True)
        raise ValueError(f"{path}: sha256 mismatch, expected {sha256} but the download from {url} "
                         f"has {digest}; the download was deleted")
    os.replace(part, path)
    return path


def _transfer(url, path, part, sha256, chunk_size, timeout, progress, restarted=False) -> str:
    """Stream `url` into `part` (appending when the server honours Range). Returns its sha256."""
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ganlib-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset and not restarted:  # the .part may already be complete
            error.close()
            if sha256 is not None and file_sha256(part) == sha256:
                return sha256
            part.unlink()
            return _transfer(url, path, part, sha256, chunk_size, timeout, progress, restarted=True)
        raise DownloadError(f"could not download {url}: HTTP {error.code} {error.reason}. "
                            f"{_by_hand(url, path, sha256)}") from error
    except (urllib.error.URLError, OSError) as error:  # DNS, refused, timeout, TLS
        reason = getattr(error, "reason", error)
        raise DownloadError(f"could not reach {url} ({reason}); is there a network? "
                            f"{_by_hand(url, path, sha256)}") from error
    with response:
        resumed = offset and response.status == 206 and \
            response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        digest = hashlib.sha256()
        if resumed:
            with open(part, "rb") as file:
                while chunk := file.read(chunk_size):
                    digest.update(chunk)
        else:  # a fresh start, or a server that ignored Range and sent the whole file
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = offset
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=path.name, disable=not progress)
        try:
            with open(part, "ab" if resumed else "wb") as file:
                while chunk := response.read(chunk_size):
                    file.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                file.flush()
                os.fsync(file.fileno())
        except (OSError, socket.timeout) as error:
            raise DownloadError(f"the download of {url} broke off after {received} bytes ({error}); "
                                f"run again to resume from {part}. {_by_hand(url, path, sha256)}") from error
        finally:
            bar.close()
    if total is not None and received != total:
        raise DownloadError(f"the download of {url} stopped at {received} of {total} bytes; run again "
                            f"to resume from {part}. {_by_hand(url, path, sha256)}")
    return digest.hexdigest()


# --- extract ------------------------------------------------------------------------------
def _unsafe_name(name: str) -> str | None:
    """Why a member name could land outside the target folder, or None if it cannot."""
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(unified).parts:
        return "a '..' component"
    return None


def _check_member(archive: Path, target: Path, name: str, kind: str) -> None:
    """Raise ValueError unless `name` is a plain file or folder that stays inside `target`."""
    reason = _unsafe_name(name)
    if reason is None and kind not in ("file", "dir"):
        reason = f"a {kind} (only files and folders are extracted)"
    if reason is None:
        resolved = os.path.realpath(os.path.join(target, name.replace("\\", "/")))
        if os.path.commonpath([resolved, os.path.realpath(target)]) != os.path.realpath(target):
            reason = f"a path that resolves to {resolved}, outside {target}"
    if reason is not None:
        raise ValueError(f"refusing to extract {archive}: member {name!r} is {reason}; "
                         "nothing was extracted")


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.isfile():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return f"symlink (to {member.linkname!r})"
    if member.islnk():
        return f"hard link (to {member.linkname!r})"
    return "device file or FIFO"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the creator recorded none
    if file_type == stat.S_IFLNK:
        return "symlink"
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "device file or FIFO"
    return "dir" if info.is_dir() else "file"


def _write_member(source, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as file:  # a later duplicate member wins, as with tar
        shutil.copyfileobj(source, file, 1 << 20)


def extract(archive: str | os.PathLike, target_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Unpack a tar (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) or zip archive into `target_dir`.

    Every member is checked before anything is written: absolute paths, `..` components,
    names resolving outside `target_dir`, symlinks and hard links, device files and FIFOs are
    refused with a ValueError naming the archive and the member. The archive is unpacked into a
    temporary folder beside `target_dir`, then renamed into place (each top-level entry, when
    `target_dir` already exists), so a crash never leaves a half-extracted tree. A top-level
    entry already in `target_dir` raises FileExistsError unless `overwrite=True` replaces it.

    Returns `target_dir` as a Path.
    Notebook: 11_full_training.ipynb
    """
    archive, target = Path(archive), Path(target_dir)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix.lower() == ".zip" or (zipfile.is_zipfile(archive) and not tarfile.is_tarfile(archive)):
        opened = zipfile.ZipFile(archive)
        members = [(info.filename, _zip_kind(info), info) for info in opened.infolist()]
    elif tarfile.is_tarfile(archive):
        opened = tarfile.open(archive)
        members = [(member.name, _tar_kind(member), member) for member in opened.getmembers()]
    else:
        raise ValueError(f"{archive} is neither a tar nor a zip archive")
    with opened:
        for name, kind, _ in members:
            _check_member(archive, target, name, kind)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
        try:
            for name, kind, member in members:
                destination = staging / name.replace("\\", "/")
                if kind == "dir":
                    destination.mkdir(parents=True, exist_ok=True)
                elif isinstance(opened, zipfile.ZipFile):
                    with opened.open(member) as source:
                        _write_member(source, destination)
                else:
                    with opened.extractfile(member) as source:
                        _write_member(source, destination)
            _move_into_place(staging, target, archive, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _move_into_place(staging: Path, target: Path, archive: Path, overwrite: bool) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    entries = sorted(staging.iterdir())
    clashes = [entry.name for entry in entries if (target / entry.name).exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"extracting {archive} into {target} would replace {clashes}; "
                              "pass overwrite=True or remove them")
    for entry in entries:
        existing = target / entry.name
        if existing.is_dir() and not existing.is_symlink():
            shutil.rmtree(existing)
        elif existing.exists() or existing.is_symlink():
            existing.unlink()
        os.rename(entry, existing)


# --- fetch --------------------------------------------------------------------------------
def fetch(name: str, root: str | os.PathLike, sha256: str | dict | None = None, verify: bool = True,
          progress: bool = True) -> Path:
    """Download (unless already there and verified) and extract a PUBLIC_DATASETS entry.

    Archives are kept in `root`; their contents go to `root/name`. A marker file per archive
    records a finished extraction, so a second call returns at once. `sha256` overrides the
    entry's checksum (a string for a one-archive set, else {filename: sha256}); entries without
    a known checksum need `sha256=` or an explicit `verify=False`.

    Returns the folder `root/name`.
    Notebook: 11_full_training.ipynb
    """
    if name not in PUBLIC_DATASETS:
        raise KeyError(f"no dataset {name!r}; choose one of {sorted(PUBLIC_DATASETS)}")
    archives = PUBLIC_DATASETS[name]["archives"]
    root = Path(root)
    target = root / name
    markers = [target / _EXTRACTED_MARKER.format(filename=a["filename"]) for a in archives]
    if all(marker.is_file() for marker in markers):
        return target
    if isinstance(sha256, str):
        if len(archives) != 1:
            raise ValueError(f"{name} has {len(archives)} archives; pass sha256 as "
                             "{filename: sha256}")
        sha256 = {archives[0]["filename"]: sha256}
    checksums = {a["filename"]: (sha256 or {}).get(a["filename"], a["sha256"]) for a in archives}
    missing = [filename for filename, checksum in checksums.items() if checksum is None]
    if missing and verify:
        raise ValueError(f"no sha256 is known for {missing} of {name}: pass sha256= with the hash "
                         "you trust, or verify=False to download without checking")
    for archive, marker in zip(archives, markers):
        if marker.is_file():
            continue
        path = download(archive["url"], root / archive["filename"], checksums[archive["filename"]],
                        progress=progress)
        extract(path, target, overwrite=True)
        marker.touch()
    return target
