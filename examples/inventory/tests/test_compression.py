import gzip
import zlib


def test_zlib_round_trip():
    payload = b"inventory " * 100
    assert zlib.decompress(zlib.compress(payload)) == payload
    assert zlib.crc32(payload) == zlib.crc32(payload)


def test_gzip_round_trip():
    assert gzip.decompress(gzip.compress(b"stock")) == b"stock"
