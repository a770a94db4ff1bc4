"""Hostile inputs made on the spot: slow PDFs, damaged copies of real PDFs."""

from __future__ import annotations

import random
import zlib
from pathlib import Path


def make_slow_pdf(path: Path, operators: int = 400_000) -> Path:
    """A valid one-page PDF whose compressed content stream holds ``operators`` text
    operations: tiny on disk, but pypdf takes many seconds to extract its text."""
    content = b"BT /F1 12 Tf 72 720 Td " + b"(slow) Tj 1 0 Td " * operators + b"ET"
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def damaged_copies(source: Path, folder: Path, seed: int = 7) -> list[Path]:
    """Truncated copies (10%, 50%, 90%, 99%) and copies with bytes flipped at seeded places."""
    data = source.read_bytes()
    rng = random.Random(seed)
    made = []
    for share in (0.1, 0.5, 0.9, 0.99):
        path = folder / f"{source.stem}-cut{int(share * 100)}.pdf"
        path.write_bytes(data[: int(len(data) * share)])
        made.append(path)
    for number in range(3):
        damaged = bytearray(data)
        for _ in range(20):
            position = rng.randrange(len(damaged))
            damaged[position] = rng.randrange(256)
        path = folder / f"{source.stem}-flipped{number}.pdf"
        path.write_bytes(bytes(damaged))
        made.append(path)
    return made
