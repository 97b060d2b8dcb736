"""The self-contained HTML report (plotly bundled, works offline)."""

from barrage.report.html import write_report

__all__ = ["write_report"]
