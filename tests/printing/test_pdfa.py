"""Archived PDFs are PDF/A-2b by construction (issue 13, item 6), read back with pikepdf.

This is a STRUCTURAL check of what PDF/A-2b requires and Kefu controls — version, XMP with the PDF/A
identification and Dublin Core, Info and XMP agreeing, an sRGB output intent with its ICC profile,
every font embedded, no encryption, the true creation date, the archive's own metadata. It is not a
full PDF/A validation (veraPDF checks hundreds of rules more, e.g. font programs and glyph widths)."""

import hashlib
import importlib
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy import select

from app import printing
from app.domain import records
from app.models import Complaint
from reports import pdfa

PRINTED_AT = datetime(2026, 11, 24, 10, 0)  # China time, as the domain stores it
CHINA = timezone(timedelta(hours=8))
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XMP = "{http://ns.adobe.com/xap/1.0/}"
KEFU = "{https://kefu.example/ns/archive/1.0/}"


def stored(app, record) -> Path:
    return Path(app.config["KEFU_ARCHIVE_DIR"]) / record.file_path


def font_dictionaries(pdf: pikepdf.Pdf):
    """Every font the pages use, through form XObjects (the QR code is one) and Type0 descendants."""
    seen = set()

    def walk(resources):
        if resources is None:
            return
        for font in (resources.get("/Font") or {}).values():
            if font.objgen not in seen:
                seen.add(font.objgen)
                yield font
                yield from font.get("/DescendantFonts") or []
        for xobject in (resources.get("/XObject") or {}).values():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                yield from walk(xobject.get("/Resources"))

    for page in pdf.pages:
        yield from walk(page.obj.get("/Resources"))


def assert_pdfa_2b(data: bytes, record, company: str) -> None:
    assert data.startswith(b"%PDF-1.")
    assert int(data[7:8]) >= 4, data[:8]  # version 1.4 or later
    assert data.split(b"\n")[1][:1] == b"%" and all(b > 127 for b in data.split(b"\n")[1][1:5])  # binary marker
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.is_encrypted and "/Encrypt" not in pdf.trailer
        assert "/ID" in pdf.trailer

        # XMP: uncompressed, PDF/A-2b identified, Dublin Core, the archive's own properties
        stream = pdf.Root.Metadata
        assert stream.Type == "/Metadata" and stream.Subtype == "/XML" and "/Filter" not in stream
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            xmp = dict(meta)
        assert xmp[PDFAID + "part"] == "2" and xmp[PDFAID + "conformance"] == "B"
        form = importlib.import_module(f"reports.forms.{record.form}")
        assert xmp[DC + "title"] == f"{form.TITLE} {record.number}"
        assert xmp[DC + "creator"] == [company] and company
        created = record.printed_at.replace(tzinfo=CHINA).isoformat(timespec="seconds")
        assert xmp[DC + "date"] == [created] and xmp[XMP + "CreateDate"] == created
        assert xmp[KEFU + "ArchiveNumber"] == record.number
        assert xmp[KEFU + "FormCode"].startswith(record.form_code + " ")
        assert xmp[KEFU + "Retention"] == record.retention_label
        assert xmp[KEFU + "Record"]  # e.g. "complaint TS2026-000012"

        # the Info dictionary says the same (PDF/A requires them to agree), and the true date
        info = pdf.docinfo
        assert str(info.Title) == xmp[DC + "title"] and str(info.Author) == xmp[DC + "creator"][0]
        assert str(info.Keywords) == xmp["{http://ns.adobe.com/pdf/1.3/}Keywords"]
        assert record.number in str(info.Keywords)
        stamp = record.printed_at.strftime("D:%Y%m%d%H%M%S") + "+08'00'"
        assert str(info.CreationDate) == stamp and str(info.ModDate) == stamp
        assert not str(info.CreationDate).startswith("D:2000")

        # an sRGB output intent carrying its ICC profile
        intents = pdf.Root.OutputIntents
        assert len(intents) == 1
        intent = intents[0]
        assert intent.Type == "/OutputIntent" and intent.S == "/GTS_PDFA1"
        assert "sRGB" in str(intent.OutputConditionIdentifier)
        profile = intent.DestOutputProfile
        icc = profile.read_bytes()
        assert int(profile.N) == 3 and icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
        assert len(icc) == int.from_bytes(icc[:4], "big")

        # every font embedded
        fonts = list(font_dictionaries(pdf))
        assert fonts, "no font found"
        for font in fonts:
            if font.get("/Subtype") in ("/Type0", "/Type3"):
                continue  # composite: its descendant carries the program; Type 3: glyphs are content
            descriptor = font.FontDescriptor
            assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), font.BaseFont


def test_every_archived_kind_of_form_is_pdfa_2b(app, ctx, users):
    complaint = ctx.scalars(select(Complaint).where(Complaint.state == "fed_back").order_by(Complaint.id)).first()
    with records.unit_of_work(ctx):
        filed = [
            printing.print_complaint_record(ctx, complaint, users["cs_staff"], False, printed_at=PRINTED_AT),
            printing.print_blank(ctx, "visit_record", users["cs_staff"], printed_at=PRINTED_AT),
            printing.print_blank(ctx, "opinion_sheet", users["cs_staff"], printed_at=PRINTED_AT),
            printing.print_ledger(ctx, "2026-11", users["cs_manager"], printed_at=PRINTED_AT),
        ]
    for record in filed:
        data = stored(app, record).read_bytes()
        # the archive's fixity values are of the filed bytes, computed here independently
        assert hashlib.sha256(data).hexdigest() == record.sha256
        assert hashlib.new("sm3", data).hexdigest() == record.sm3 and len(record.sm3) == 64
        assert_pdfa_2b(data, record, app.config["COMPANY_NAME"])


def test_the_creation_date_is_the_moment_printed_not_2000(app, ctx, users):
    with records.unit_of_work(ctx):
        record = printing.print_blank(ctx, "visit_record", users["cs_staff"])  # now
    with pikepdf.open(stored(app, record)) as pdf:
        created = str(pdf.docinfo.CreationDate)
    now = datetime.now(CHINA)
    printed = datetime.strptime(created[2:16], "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    assert abs((now - printed).total_seconds()) < 300, created


def test_a_missing_icc_profile_is_named(monkeypatch):
    monkeypatch.setenv("KEFU_SRGB_ICC", "/nonexistent/sRGB.icc")
    pdfa.srgb_profile.cache_clear()
    try:
        with pytest.raises(pdfa.ProfileMissing, match="icc-profiles-free"):
            pdfa.srgb_profile()
    finally:
        monkeypatch.delenv("KEFU_SRGB_ICC")
        pdfa.srgb_profile.cache_clear()
    assert pdfa.srgb_profile()[36:40] == b"acsp"


def test_the_xmp_reader_takes_elements_and_attributes():
    as_attributes = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                     b'<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="2" '
                     b'pdfaid:conformance="B"/></rdf:RDF></x:xmpmeta>')
    assert pdfa.read_xmp(as_attributes) == {"pdfaid:part": "2", "pdfaid:conformance": "B"}
    with pytest.raises(ValueError):
        pdfa.read_xmp(b"<not xml")
