"""Build .xlsx files in memory for the import tests."""

import io
from datetime import date, timedelta

from openpyxl import Workbook

HEADERS = ["姓名", "客户阶段", "身份证号码", "手机", "项目", "楼栋", "房号"]


def check_digit(first17: str) -> str:
    # GB 11643 written out here, independently of app.domain.validation.
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def id_number(n: int) -> str:
    born = date(1970, 1, 1) + timedelta(days=n % 12_000)
    first17 = f"330106{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_digit(first17)


def xlsx(rows, headers=HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(list(row))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # typed in as text, as Excel keeps '=... entered as text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
