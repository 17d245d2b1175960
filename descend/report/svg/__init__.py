"""Hand-written SVG charts: line charts (linear or log axes, legend, markers) and log-scale heat-maps.

Each chart function returns one <svg> element as a string, sized by its viewBox so it scales to its
container. Inline in HTML it needs no namespace; `standalone=True` adds the xmlns for a file of its own.
Non-finite values (and values <= 0 on a log axis) are gaps in a line, never an error; an empty chart says
"No data".

Modules: base (colours, Series/Marker, number labels, ticks, SVG text), axis (data-to-pixel mapping, grid and
axis labels), legend, markers, series (the data lines and dots), line (line_chart), heatmap.
"""

from descend.report.svg.base import (AXIS, FONT, GRID, MISSING, MUTED, NONFINITE, PALETTE, TEXT, ZERO, Marker,
                                     Series, fmt, linear_ticks, log_ticks)
from descend.report.svg.heatmap import MAX_COLUMNS, heatmap, viridis
from descend.report.svg.line import line_chart
from descend.report.svg.series import MAX_POINTS

__all__ = ["AXIS", "FONT", "GRID", "MAX_COLUMNS", "MAX_POINTS", "MISSING", "MUTED", "NONFINITE", "PALETTE",
           "TEXT", "ZERO", "Marker", "Series", "fmt", "heatmap", "line_chart", "linear_ticks", "log_ticks",
           "viridis"]
