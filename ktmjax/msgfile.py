"""Files of arrays and plain values in msgpack (the deployable policy, the world model):
written whole or not at all, read back with their format, version and dtype checked.
`flax.serialization.msgpack_restore` builds arrays and nothing else (never pickle)."""
import os

import flax.serialization


def write(path: str, raw: bytes) -> int:
    """Writes `raw` to `path`, replacing an old file only once complete; returns its bytes."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)
    return len(raw)


def restore(raw: bytes, source: str, fmt: str, version: int, dtypes, kind: str) -> dict:
    """The dict stored in `raw` (read from `source`), which must name format `fmt`,
    `version` and one of `dtypes`; ValueError naming `kind` (e.g. "policy") otherwise."""
    try:
        data = flax.serialization.msgpack_restore(raw)
    except Exception as e:   # msgpack raises several kinds of errors on bytes it cannot read
        raise ValueError(f"{source} is not a ktmjax {kind} file ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{source} is not a ktmjax {kind} file")
    if data.get("version") != version or data.get("dtype") not in dtypes:
        raise ValueError(f"{source}: {kind} format version {data.get('version')} / dtype "
                         f"{data.get('dtype')!r} is not one this ktmjax reads")
    return data
