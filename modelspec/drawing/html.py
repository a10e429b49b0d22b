"""The picture as one HTML page: the interactive SVG inline, nothing loaded from elsewhere."""

from __future__ import annotations

from html import escape

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ margin: 0; background: #ffffff; }} svg {{ display: block; }}</style>
</head>
<body>
{svg}</body>
</html>
"""


def render_html(svg: str, title: str) -> str:
    """A page holding ``svg`` (with its script), titled ``title``."""
    return PAGE.format(title=escape(title), svg=svg)
