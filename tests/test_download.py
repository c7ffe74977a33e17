"""ganlib.download against a local HTTP server on 127.0.0.1: download, resume, checksums,
safe extraction of hostile archives, fetch, and a fast, helpful failure without network."""
import hashlib
import io
import os
import socket
import stat
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ganlib import download as dl

CONTENTS = {"corpus/a.txt": b"first file\n", "corpus/sub/b.bin": bytes(range(256)) * 40}


class Server:
    """Serves bytes from a dict (path -> bytes), honouring `Range: bytes=N-` unless told not to,
    and records every request's Range header."""

    def __init__(self):
        self.files, self.ranges, self.honour_range = {}, [], True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = server.files.get(self.path)
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                if body is None:
                    self.send_error(404)
                    return
                start = int(requested[len("bytes="):].split("-")[0]) if requested else 0
                if requested and server.honour_range:
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tar_bytes(members, mode="w:gz"):
    """members: list of (TarInfo, bytes or None)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def good_tar(mode="w:gz"):
    return tar_bytes([(tarfile.TarInfo(name), data) for name, data in CONTENTS.items()], mode)


def zip_bytes(members):
    """members: list of (name or ZipInfo, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def assert_contents(folder):
    for name, data in CONTENTS.items():
        assert (folder / name).read_bytes() == data


@pytest.mark.parametrize("kind", ["tar.gz", "tar.bz2", "tar.xz", "zip"])
def test_a_good_archive_is_downloaded_verified_and_extracted(tmp_path, server, kind):
    data = zip_bytes(CONTENTS.items()) if kind == "zip" else good_tar("w:" + kind.split(".")[1])
    server.files[f"/set.{kind}"] = data
    path = dl.download(server.url(f"set.{kind}"), tmp_path / f"set.{kind}", sha256=sha(data), progress=False)
    assert path.read_bytes() == data and not (tmp_path / f"set.{kind}.part").exists()
    assert dl.extract(path, tmp_path / "out") == tmp_path / "out"
    assert_contents(tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", f"set.{kind}"]  # no staging left
    # already there and verified: no second request
    dl.download(server.url(f"set.{kind}"), path, sha256=sha(data), progress=False)
    assert len(server.ranges) == 1


def test_a_corrupted_download_is_deleted_and_named_with_both_hashes(tmp_path, server):
    good = good_tar()
    server.files["/set.tar.gz"] = good[:-10] + b"corrupted!"
    path = tmp_path / "set.tar.gz"
    with pytest.raises(ValueError) as error:
        dl.download(server.url("set.tar.gz"), path, sha256=sha(good), progress=False)
    message = str(error.value)
    assert "set.tar.gz" in message and sha(good) in message and sha(server.files["/set.tar.gz"]) in message
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part


@pytest.mark.parametrize("honour_range", [True, False])
def test_a_partial_download_is_resumed_with_a_range_request(tmp_path, server, honour_range):
    data = good_tar()
    server.files["/set.tar.gz"], server.honour_range = data, honour_range
    path = tmp_path / "set.tar.gz"
    half = len(data) // 2
    (tmp_path / "set.tar.gz.part").write_bytes(data[:half])
    dl.download(server.url("set.tar.gz"), path, sha256=sha(data), chunk_size=1000, progress=True)
    assert server.ranges == [f"bytes={half}-"]
    assert path.read_bytes() == data and dl.file_sha256(path) == sha(data)
    assert not (tmp_path / "set.tar.gz.part").exists()


def test_a_complete_part_file_is_finished_after_a_416(tmp_path, server):
    data = good_tar()
    server.files["/set.tar.gz"] = data
    (tmp_path / "set.tar.gz.part").write_bytes(data)
    path = dl.download(server.url("set.tar.gz"), tmp_path / "set.tar.gz", sha256=sha(data), progress=False)
    assert path.read_bytes() == data and server.ranges == [f"bytes={len(data)}-"]


def hostile_tars(outside):
    absolute = tarfile.TarInfo(str(outside / "absolute_evil.txt"))
    symlink = tarfile.TarInfo("corpus/passwd")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hardlink = tarfile.TarInfo("corpus/hard")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "/etc/passwd"
    device = tarfile.TarInfo("corpus/null")
    device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
    good = tarfile.TarInfo("corpus/a.txt")  # a harmless member first: it must not be written either
    return {
        "dotdot": [(good, b"ok"), (tarfile.TarInfo("../evil.txt"), b"evil")],
        "nested_dotdot": [(good, b"ok"), (tarfile.TarInfo("corpus/../../evil.txt"), b"evil")],
        "absolute": [(good, b"ok"), (absolute, b"evil")],
        "symlink": [(good, b"ok"), (symlink, None)],
        "hardlink": [(good, b"ok"), (hardlink, None)],
        "device": [(good, b"ok"), (device, None)],
    }


@pytest.mark.parametrize("case", ["dotdot", "nested_dotdot", "absolute", "symlink", "hardlink", "device"])
def test_a_hostile_tar_is_refused_before_anything_is_written(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    members = hostile_tars(outside)[case]
    archive = outside / "hostile.tar"
    archive.write_bytes(tar_bytes(members, "w"))
    parent = outside / "data"
    parent.mkdir()
    before = sorted(os.listdir(outside)), sorted(os.listdir(parent))
    with pytest.raises(ValueError) as error:
        dl.extract(archive, parent / "target")
    assert str(archive) in str(error.value) and members[-1][0].name in str(error.value)
    assert (sorted(os.listdir(outside)), sorted(os.listdir(parent))) == before
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("case", ["dotdot", "absolute", "backslash", "symlink"])
def test_a_hostile_zip_is_refused_before_anything_is_written(tmp_path, case):
    symlink = zipfile.ZipInfo("corpus/passwd")
    symlink.external_attr = (stat.S_IFLNK | 0o777) << 16
    name = {"dotdot": "../evil.txt", "absolute": "/tmp/ganlib_evil.txt", "backslash": "..\\evil.txt",
            "symlink": symlink}[case]
    archive = tmp_path / "hostile.zip"
    archive.write_bytes(zip_bytes([("corpus/a.txt", b"ok"), (name, b"/etc/passwd")]))
    parent = tmp_path / "data"
    parent.mkdir()
    with pytest.raises(ValueError) as error:
        dl.extract(archive, parent / "target")
    assert str(archive) in str(error.value) and "corpus/a.txt" not in str(error.value)
    assert os.listdir(parent) == [] and sorted(os.listdir(tmp_path)) == ["data", "hostile.zip"]


def test_extracting_next_to_existing_contents_needs_overwrite(tmp_path):
    archive = tmp_path / "set.tar"
    archive.write_bytes(good_tar("w"))
    dl.extract(archive, tmp_path / "out")
    (tmp_path / "out" / "corpus" / "a.txt").write_bytes(b"changed")
    with pytest.raises(FileExistsError, match="corpus"):
        dl.extract(archive, tmp_path / "out")
    dl.extract(archive, tmp_path / "out", overwrite=True)
    assert_contents(tmp_path / "out")


def test_without_network_download_fails_fast_and_says_where_to_put_the_file(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url, path, checksum = f"http://127.0.0.1:{port}/x", tmp_path / "x.tar.gz", "ab" * 32
    start = time.monotonic()
    with pytest.raises(dl.DownloadError) as error:
        dl.download(url, path, sha256=checksum, progress=False)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert url in message and str(path) in message and checksum in message
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def local_set(server, monkeypatch):
    data = good_tar()
    server.files["/set.tar.gz"] = data
    entry = {"description": "a test set", "homepage": "", "archives": [
        {"url": server.url("set.tar.gz"), "filename": "set.tar.gz", "approx_size": None, "sha256": None}]}
    monkeypatch.setitem(dl.PUBLIC_DATASETS, "local", entry)
    return data


def test_fetch_needs_a_checksum_or_an_explicit_verify_false(tmp_path, server, local_set):
    with pytest.raises(ValueError, match="verify=False"):
        dl.fetch("local", tmp_path)
    assert server.ranges == [] and list(tmp_path.iterdir()) == []
    folder = dl.fetch("local", tmp_path, verify=False, progress=False)
    assert folder == tmp_path / "local"
    assert_contents(folder)


def test_fetch_downloads_verifies_extracts_and_then_returns_at_once(tmp_path, server, local_set):
    with pytest.raises(ValueError, match="mismatch"):
        dl.fetch("local", tmp_path, sha256="0" * 64, progress=False)
    folder = dl.fetch("local", tmp_path, sha256=sha(local_set), progress=False)
    assert_contents(folder)
    server.close()  # a second call touches neither the network nor the archive
    (tmp_path / "set.tar.gz").unlink()
    assert dl.fetch("local", tmp_path, sha256=sha(local_set), progress=False) == folder


def test_the_public_table_is_well_formed():
    for name, entry in dl.PUBLIC_DATASETS.items():
        assert entry["archives"] and entry["homepage"].startswith("https://")
        for archive in entry["archives"]:
            assert archive["url"].startswith(("http://", "https://"))
            assert archive["url"].rsplit("/", 1)[1] in (archive["filename"], "master.zip")
            assert archive["sha256"] is None or len(archive["sha256"]) == 64
    with pytest.raises(ValueError, match="sha256="):
        dl.fetch("esc50", "/nonexistent/never/written")
