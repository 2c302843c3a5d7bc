"""Standard MIDI File container checks, before any parser sees the bytes.

A file is accepted when it starts with an ``MThd`` header of length >= 6 and
every chunk that the header promises is present in full. ``RIFF``/``RMID``
wrapped MIDI is unwrapped. The parser (symusic) is lenient about truncation, so
this walk is what turns a cut-off download into a ``truncated`` failure instead
of a silently shortened piece.
"""

import struct

from captune.extractors.errors import BadInput

_MAGIC_NAMES = {
    b"RIFF": "a RIFF file (WAV?)",
    b"fLaC": "a FLAC file",
    b"OggS": "an Ogg file",
    b"ID3": "an MP3 file",
    b"PK\x03\x04": "a ZIP archive",
    b"<?xm": "an XML file",
    b"%PDF": "a PDF file",
}


def _describe(data: bytes) -> str:
    for magic, name in _MAGIC_NAMES.items():
        if data.startswith(magic):
            return name
    return f"bytes starting {data[:4]!r}"


def unwrap_rmid(data: bytes) -> bytes:
    """The SMF inside a RIFF RMID file, or ``data`` unchanged."""
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        pos = 12
        while pos + 8 <= len(data):
            cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            if cid == b"data":
                return data[pos + 8:pos + 8 + size]
            pos += 8 + size + (size & 1)
    return data


def check_smf(data: bytes) -> bytes:
    """Return the Standard MIDI File bytes in ``data`` or raise :class:`BadInput`."""
    if not data:
        raise BadInput("empty_file", "the file has 0 bytes")
    data = unwrap_rmid(data)
    if data[:4] != b"MThd":
        raise BadInput("not_midi", f"no MThd header: {_describe(data)}")
    if len(data) < 14:
        raise BadInput("truncated", f"header cut off at {len(data)} bytes")
    header_len, _fmt, ntracks, _division = struct.unpack(">IHHH", data[4:14])
    if header_len < 6:
        raise BadInput("not_midi", f"MThd length {header_len} < 6")
    if ntracks == 0:
        raise BadInput("no_notes", "the header declares 0 tracks")
    pos, found = 8 + header_len, 0
    while found < ntracks:
        if pos + 8 > len(data):
            raise BadInput("truncated", f"{found} of {ntracks} tracks present, file ends at byte {len(data)}")
        size = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        if pos + 8 + size > len(data):
            raise BadInput("truncated", f"chunk {found + 1} of {ntracks} needs {size} bytes, "
                                        f"{len(data) - pos - 8} present")
        if data[pos:pos + 4] == b"MTrk":
            found += 1
        pos += 8 + size
    return data
