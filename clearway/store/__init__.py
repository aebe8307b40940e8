"""The persistence seam: one interface per aggregate (``base``), one SQL implementation (``sql``)."""
