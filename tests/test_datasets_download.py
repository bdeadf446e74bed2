"""Download: local HTTP server on 127.0.0.1 (never the network): zip/gz, resume after truncation, bad md5, offline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import zipfile

import pytest

from spikerec.datasets import download as dl
from spikerec.datasets import load_events, synthesize
from spikerec.errors import DownloadError


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _handler(files: dict[str, bytes], log: list, truncate_once: set):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            name = self.path.lstrip("/")
            log.append((name, self.headers.get("Range")))
            if name not in files:
                self.send_error(404)
                return
            body, start = files[name], 0
            rng = self.headers.get("Range")
            if rng:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if name in truncate_once:  # send half, then drop the connection
                truncate_once.discard(name)
                self.wfile.write(body[start:start + (len(body) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@pytest.fixture()
def server(tmp_path):
    src = tmp_path / "src"
    synthesize("shd", src, n_train=30, n_test=10, seed=0)
    synthesize("ssc", src, n_train=20, n_valid=10, n_test=10, seed=0)
    files: dict[str, bytes] = {}
    for h5 in src.glob("*.h5"):
        raw = h5.read_bytes()
        files[h5.name + ".gz"] = gzip.compress(raw)
        zpath = tmp_path / (h5.name + ".zip")
        with zipfile.ZipFile(zpath, "w") as zf:
            zf.write(h5, h5.name)
        files[h5.name + ".zip"] = zpath.read_bytes()
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    files["md5sums.txt"] = "".join(f"{v}  {k}\n" for k, v in md5.items() if k.startswith("ssc")).encode()
    log: list = []
    truncate: set = set()
    httpd = _Server(("127.0.0.1", 0), _handler(files, log, truncate))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "md5": md5, "log": log, "truncate": truncate,
           "src": src, "files": files}
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("variant", ["zip", "gz"])
def test_download_and_decompress(server, tmp_path, variant):
    out = tmp_path / "data"
    paths = dl.download_dataset("shd", out, variant=variant, base_url=server["url"], md5s=server["md5"])
    for split in ("train", "test"):
        assert paths[split].read_bytes() == (server["src"] / f"shd_{split}.h5").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["shd_test.h5", "shd_train.h5"]  # archives and .part gone
    assert len(load_events(paths["train"])) == 30
    n = len(server["log"])
    dl.download_dataset("shd", out, variant=variant, base_url=server["url"], md5s=server["md5"])
    assert len(server["log"]) == n  # files present -> nothing requested


def test_resume_after_truncated_transfer(server, tmp_path):
    out = tmp_path / "data"
    server["truncate"].add("shd_train.h5.zip")
    with pytest.raises(DownloadError, match="interrupted.*resume"):
        dl.download_dataset("shd", out, base_url=server["url"], md5s=server["md5"])
    part = out / "shd_train.h5.zip.part"
    size = len(server["files"]["shd_train.h5.zip"])
    assert part.is_file() and 0 < part.stat().st_size < size and not (out / "shd_train.h5").exists()
    dl.download_dataset("shd", out, base_url=server["url"], md5s=server["md5"])
    assert ("shd_train.h5.zip", f"bytes={size // 2}-") in server["log"]  # resumed with a Range request
    assert (out / "shd_train.h5").read_bytes() == (server["src"] / "shd_train.h5").read_bytes()


def test_bad_md5_deletes_partial_file_and_names_url(server, tmp_path):
    out = tmp_path / "data"
    bad = {**server["md5"], "shd_train.h5.zip": "0" * 32}
    with pytest.raises(DownloadError, match="md5 mismatch") as err:
        dl.download_dataset("shd", out, base_url=server["url"], md5s=bad)
    assert server["url"] + "shd_train.h5.zip" in str(err.value)
    assert not any(out.glob("shd_train*"))


def test_ssc_uses_ssc_files_and_published_md5s(server, tmp_path):
    out = tmp_path / "data"
    # ssc gz checksums come from the host's md5sums.txt (no peer records them)
    dl.download_dataset("ssc", out, variant="gz", base_url=server["url"])
    requested = {name for name, _ in server["log"]}
    assert requested == {"md5sums.txt", "ssc_train.h5.gz", "ssc_valid.h5.gz", "ssc_test.h5.gz"}
    assert sorted(p.name for p in out.iterdir()) == ["ssc_test.h5", "ssc_train.h5", "ssc_valid.h5"]


def test_builtin_checksums_are_distinct_per_file():
    # guard against SpikingJelly's bug (SSC pointing at the SHD archives)
    assert len(set(dl.ARCHIVE_MD5.values())) == len(dl.ARCHIVE_MD5)
    assert all(name.split("_")[0] in ("shd", "ssc") for name in dl.ARCHIVE_MD5)


def test_offline_error_names_url_and_manual_steps(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here: connection refused, like being offline
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(DownloadError) as err:
        dl.download_dataset("shd", tmp_path, base_url=url, timeout=5)
    msg = str(err.value)
    assert f"{url}shd_train.h5.zip" in msg and "by hand" in msg and "--data" in msg
    assert "decompress it to shd_train.h5 " in msg  # the file the loader reads, not the archive


def test_cli_download(server, tmp_path, capsys):
    from spikerec.cli import main

    out = tmp_path / "data"
    assert main(["data", "download", "--dataset", "ssc", "--variant", "gz", "--data", str(out),
                 "--base-url", server["url"], "--json"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("{")
    assert (out / "ssc_valid.h5").is_file()
    assert main(["data", "download", "--dataset", "shd", "--data", str(out), "--base-url", server["url"]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "md5 mismatch" in err  # built-in SHD md5 vs the synthetic archive
