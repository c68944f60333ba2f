"""The gallery's knobs, as one frozen value built from Settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GalleryOptions:
    licence: str = "CC BY 4.0"  # returned with every public image
    page_size: int = 24  # items per page when the caller names no limit
    max_page_size: int = 100
    report_hide_threshold: int = 3  # distinct reporters that hide an image until an admin looks
    max_title_chars: int = 120
    max_tags: int = 10
    max_tag_chars: int = 32
    max_reason_chars: int = 500
