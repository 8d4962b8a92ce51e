"""The dashboard's place in the lake: `site/slo/index.html`, written through the lake's storage
(a file of the local lake's folder; an object of the lake bucket on `aws`, which people open
through the bank's network, see terraform/storage.tf and the ADR on the dashboard).

The site/ prefix holds pages for people, not tables: nothing in it is read back by the lake.
"""

from __future__ import annotations

from resources.storage import LakeStorage, ObjectInfo

SITE_PREFIX = "site/"
DASHBOARD_KEY = SITE_PREFIX + "slo/index.html"
# Served as a page, not downloaded: S3 would otherwise answer binary/octet-stream.
HTML = "text/html; charset=utf-8"


def publish_dashboard(html: str, storage: LakeStorage) -> ObjectInfo:
    """Replace the published dashboard with `html` in one write (a reader sees the old page or
    the new one, never half of one)."""
    return storage.put_bytes(DASHBOARD_KEY, html.encode("utf-8"), content_type=HTML)
