"""PDF/A-2b (ISO 19005-2, GB/T 23286) by construction, for every printed form.

What ReportLab does not do by itself, added to the document before it is written:
- XMP metadata (uncompressed, as PDF/A asks) with the PDF/A identification (part 2, conformance B),
  Dublin Core title, creator, description, date and identifier, the same values as the Info
  dictionary (which PDF/A requires to agree), and the archive's own properties — archive number, form
  code, record, retention — in the `kefu:` namespace, declared by a PDF/A extension schema;
- an sRGB output intent with its ICC profile (Debian `icc-profiles-free`): every colour on the forms
  is DeviceRGB or DeviceGray, which an RGB output intent makes device-independent;
- the true creation date: the moment printed (China time), not ReportLab's invariant 2000-01-01.
ReportLab's invariant mode stays on: the same data printed at the same moment gives the same bytes.
Fonts are embedded by reports/base.py; nothing here encrypts.

This is PDF/A by construction; tests/printing/test_pdfa.py checks its structure with pikepdf, which
is not a full validation (veraPDF would be).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from xml.sax.saxutils import escape

from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase.pdfdoc import XMP, PDFArray, PDFDictionary, PDFName, PDFStream, PDFString, PDFZCompress

CHINA = timezone(timedelta(hours=8), "CST")
LANG = "zh-CN"
PDF_VERSION = (1, 7)  # PDF/A-2 is built on ISO 32000-1 (PDF 1.7)
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
# KEFU_SRGB_ICC names another sRGB profile file.
ICC_CANDIDATES = (
    "/usr/share/color/icc/sRGB.icc",  # icc-profiles-free
    "/usr/share/color/icc/colord/sRGB.icc",  # colord-data
)
NS = "https://kefu.example/ns/archive/1.0/"
PROPERTIES = (  # the archive's own XMP properties: name, description
    ("ArchiveNumber", "Archive number of this printed copy"),
    ("FormCode", "Form code and edition"),
    ("Record", "The record printed"),
    ("Retention", "Retention period"),
)


class ProfileMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    configured = os.environ.get("KEFU_SRGB_ICC")
    for path in ((configured,) if configured else ICC_CANDIDATES):
        if path and os.path.exists(path):
            with open(path, "rb") as handle:
                return handle.read()
    raise ProfileMissing("No sRGB ICC profile for the PDF/A output intent: apt-get install icc-profiles-free "
                         "(or set KEFU_SRGB_ICC to an sRGB .icc file)")


@dataclass(frozen=True)
class ArchiveFacts:
    archive_number: str
    form_code: str
    record: str
    retention: str


def china_time(moment: datetime) -> datetime:
    """A naive time is China time (what the domain stores); an aware one is converted."""
    return moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment.astimezone(CHINA)


def timestamp(moment: datetime) -> TimeStamp:
    """ReportLab's TimeStamp of `moment`, for the Info dictionary's CreationDate and ModDate."""
    moment = china_time(moment)
    stamp = TimeStamp.__new__(TimeStamp)
    stamp.t = moment.timestamp()
    stamp.lt = moment.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh, stamp.dmm, stamp.tzname = 8, 0, "CST"
    return stamp


def apply(canvas, moment: datetime, facts: ArchiveFacts) -> None:
    """Make the canvas's document PDF/A-2b: call right after the canvas is made, before it is saved."""
    doc = canvas._doc
    doc._timeStamp = timestamp(moment)
    catalog = doc.Catalog
    catalog.Metadata = XMP(creator=lambda document: xmp_packet(document, china_time(moment), facts))
    catalog.OutputIntents = PDFArray([output_intent()])
    # PDFCatalog writes only the keys it lists (a class attribute): OutputIntents is not among them.
    if "OutputIntents" not in catalog.__NoDefault__:
        catalog.__NoDefault__ = [*catalog.__NoDefault__, "OutputIntents"]


def output_intent() -> PDFDictionary:
    profile = PDFStream(PDFDictionary({"N": 3}), srgb_profile(), filters=[PDFZCompress])
    return PDFDictionary({
        "Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": PDFString(OUTPUT_CONDITION), "Info": PDFString(OUTPUT_CONDITION),
        "RegistryName": PDFString("http://www.color.org"), "DestOutputProfile": profile,
    })


def _text(value) -> str:
    return escape("" if value is None else str(value))


def _xmp_date(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def xmp_packet(document, moment: datetime, facts: ArchiveFacts) -> bytes:
    """The XMP packet, from the document's own Info values (so that the two always agree)."""
    info = document.info
    when = _xmp_date(moment)
    fields = "".join(f"<kefu:{name}>{_text(getattr(facts, attr))}</kefu:{name}>"
                     for (name, _), attr in zip(PROPERTIES, ("archive_number", "form_code", "record", "retention"), strict=False))
    declared = "".join(
        f'<rdf:li rdf:parseType="Resource"><pdfaProperty:name>{name}</pdfaProperty:name>'
        f"<pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description></rdf:li>"
        for name, description in PROPERTIES)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{_text(info.title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{_text(info.author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{_text(info.subject)}</rdf:li></rdf:Alt></dc:description>
<dc:date><rdf:Seq><rdf:li>{when}</rdf:li></rdf:Seq></dc:date>
<dc:identifier>{_text(facts.archive_number)}</dc:identifier>
<dc:language><rdf:Bag><rdf:li>{LANG}</rdf:li></rdf:Bag></dc:language>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
<xmp:CreateDate>{when}</xmp:CreateDate><xmp:ModifyDate>{when}</xmp:ModifyDate><xmp:MetadataDate>{when}</xmp:MetadataDate>
<xmp:CreatorTool>{_text(info.creator)}</xmp:CreatorTool>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<pdf:Producer>{_text(info.producer)}</pdf:Producer><pdf:Keywords>{_text(info.keywords)}</pdf:Keywords>
<pdf:Trapped>{_text(info.trapped)}</pdf:Trapped>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:kefu="{NS}">
{fields}
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" \
xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>Kefu archive record</pdfaSchema:schema><pdfaSchema:namespaceURI>{NS}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>kefu</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>{declared}</rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""
    return packet.encode("utf-8")


def xmp_date(moment: datetime) -> str:
    """How a moment is written in the XMP (China time, to the second)."""
    return _xmp_date(china_time(moment))


PREFIXES = {
    "http://www.aiim.org/pdfa/ns/id/": "pdfaid", "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/": "xmp", "http://ns.adobe.com/pdf/1.3/": "pdf", NS: "kefu",
}
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def read_xmp(packet: bytes) -> dict[str, str]:
    """The simple properties of an XMP packet as {"prefix:Name": text}, for the namespaces above,
    whether written as elements or as attributes of rdf:Description (both are valid XMP); for an
    array (dc:title, dc:creator, ...) its first item. Raises ValueError on a packet that is not XML."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(packet.strip(b"\x00 \r\n\t"))
    except ElementTree.ParseError as exc:
        raise ValueError(f"XMP metadata is not well-formed XML: {exc}") from exc
    found: dict[str, str] = {}

    def key(tag: str) -> str | None:
        if not tag.startswith("{"):
            return None
        uri, _, local = tag[1:].partition("}")
        prefix = PREFIXES.get(uri)
        return f"{prefix}:{local}" if prefix else None

    for description in root.iter(f"{RDF}Description"):
        for name, value in description.attrib.items():
            if key(name):
                found.setdefault(key(name), value.strip())
        for child in description:
            name = key(child.tag)
            if not name:
                continue
            item = next(child.iter(f"{RDF}li"), None)
            text = (item.text if item is not None else child.text) or ""
            found.setdefault(name, text.strip())
    return found
