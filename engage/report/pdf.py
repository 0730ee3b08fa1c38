"""The report as PDF: the same HTML, laid out for A4 by WeasyPrint (its own CSS and SVG engine).

WeasyPrint needs no browser, but Pango (a system library: `libpango-1.0-0 libpangoft2-1.0-0` on
Debian, installed by the Dockerfile). Its fetcher only accepts `data:` URLs and fails the
rendering on anything else, so making the PDF never touches the network or the disk.
"""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    import weasyprint  # heavy (Pango through cffi, fontTools): only when a PDF is asked for

    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
