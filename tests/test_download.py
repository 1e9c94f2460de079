"""Downloads are checked against their pinned SHA-256 on every read of the cache (issue 12.7).

A fake ``urlopen`` stands in for the network: no test downloads anything.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import socket
import urllib.error

import pytest

import avengers.assets.download as download
import avengers.outcomes.routerdc as rdc
from avengers.errors import OutcomeError

GOOD = json.dumps([{"question": "What is 1+1?", "scores": {"m1": 1.0, "m2": 0.0}}]).encode()
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


class FakeNet:
    """urlopen replacement: serves `payload`, or raises / breaks off as told; counts calls."""

    def __init__(self, payload: bytes = GOOD, error: BaseException | None = None, read_error: BaseException | None = None):
        self.payload, self.error, self.read_error, self.calls = payload, error, read_error, []

    def __call__(self, url, timeout):
        self.calls.append(url)
        if self.error is not None:
            raise self.error
        if self.read_error is None:
            return io.BytesIO(self.payload)
        err = self.read_error

        class Broken(io.BytesIO):
            def read(self, n=-1):
                data = super().read(n)
                if not data:
                    raise err
                return data

        return Broken(self.payload[: len(self.payload) // 2])


@pytest.fixture
def net(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(rdc.SHA256, "humaneval_test", GOOD_SHA)
    fake = FakeNet()
    monkeypatch.setattr(download.urllib.request, "urlopen", fake)
    return fake


def _cfg(**kw):
    return {"root": None, "download": True, **kw}


def test_good_cache_is_read_without_network_and_checked_every_time(net):
    p = rdc.locate("humaneval_test", _cfg())
    assert p.read_bytes() == GOOD and len(net.calls) == 1
    assert rdc.locate("humaneval_test", _cfg()) == p and len(net.calls) == 1  # from the cache
    assert rdc.locate("humaneval_test", _cfg(download=False)) == p


def test_tampered_cache_is_downloaded_again(net):
    """The issue's case: a cached humaneval file edited to all-correct scores was trusted."""
    p = rdc.locate("humaneval_test", _cfg())
    tampered = GOOD.replace(b'"m2": 0.0', b'"m2": 1.0')
    p.write_bytes(tampered)
    assert rdc.locate("humaneval_test", _cfg()) == p
    assert p.read_bytes() == GOOD and len(net.calls) == 2
    assert (p.parent / (p.name + ".bad")).read_bytes() == tampered  # kept aside for inspection


def test_tampered_cache_is_refused_when_downloads_are_off(net):
    p = rdc.locate("humaneval_test", _cfg())
    p.write_bytes(b"[]")
    with pytest.raises(OutcomeError) as info:
        rdc.locate("humaneval_test", _cfg(download=False))
    msg = str(info.value)
    assert str(p) in msg and f"expected {GOOD_SHA}" in msg and "data.download=true" in msg
    assert not p.exists() and len(net.calls) == 1
    # the next run says the file is missing, and fetching again repairs the cache
    with pytest.raises(OutcomeError, match="downloads are off"):
        rdc.locate("humaneval_test", _cfg(download=False))
    assert rdc.locate("humaneval_test", _cfg()).read_bytes() == GOOD


def test_wrong_download_is_never_cached(net):
    net.payload = GOOD + b" "
    with pytest.raises(OutcomeError, match=f"expected {GOOD_SHA}; nothing was cached"):
        rdc.locate("humaneval_test", _cfg())
    assert not (rdc.cache_dir() / "humaneval_test.json").exists()


def test_unpinned_file_is_refused(net):
    cfg = _cfg(extra_files={"gsm8k-extra": {"benchmark": "gsm8k", "scoring": "rate"}})
    with pytest.raises(OutcomeError) as info:
        rdc.locate("gsm8k-extra", cfg)
    assert "no pinned SHA-256" in str(info.value) and "sha256: <hex>" in str(info.value)
    assert net.calls == []
    # an unpinned file already in the cache (written by an older version) is not read either
    cached = rdc.cache_dir() / "gsm8k-extra.json"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(GOOD)
    with pytest.raises(OutcomeError, match="no pinned SHA-256 to check it against"):
        rdc.locate("gsm8k-extra", cfg)
    # pinned in its extra_files entry, it is checked and used
    cached.unlink()
    cfg["extra_files"]["gsm8k-extra"]["sha256"] = GOOD_SHA
    assert rdc.locate("gsm8k-extra", cfg).read_bytes() == GOOD and len(net.calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        http.client.IncompleteRead(b"partial", 100),
        http.client.BadStatusLine("HTTP/1.1 ???"),
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        urllib.error.URLError("Name or service not known"),
        socket.timeout("timed out"),
        ConnectionResetError(104, "Connection reset by peer"),
        ValueError("unknown url type"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("where", ["open", "read"])
def test_network_errors_give_one_clear_message(net, error, where):
    if where == "open":
        net.error = error
    else:
        net.read_error = error
    with pytest.raises(OutcomeError) as info:
        rdc.locate("humaneval_test", _cfg())
    msg = str(info.value)
    assert msg.startswith("Downloading https://") and type(error).__name__ in msg
    assert "nothing was cached" in msg and "AVENGERS_DATA_DIR" in msg
    assert not (rdc.cache_dir() / "humaneval_test.json").exists()


def test_mot_cache_is_checked_on_read(tmp_path, monkeypatch):
    import avengers.outcomes.mot as mot

    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeNet()
    monkeypatch.setattr(download.urllib.request, "urlopen", fake)
    monkeypatch.setitem(mot.RELEASE, "GPT4_date_cot1.json", ("GPT4_result/date_cot1.json", GOOD_SHA))
    cfg = {"root": str(tmp_path / "empty")}
    p = mot.locate("GPT4_date_cot1.json", cfg)
    p.write_bytes(b"tampered")
    assert mot.locate("GPT4_date_cot1.json", cfg).read_bytes() == GOOD and len(fake.calls) == 2
    p.write_bytes(b"tampered")
    with pytest.raises(OutcomeError, match="changed after it was downloaded"):
        mot.locate("GPT4_date_cot1.json", {**cfg, "download": False})
