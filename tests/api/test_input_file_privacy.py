"""Input uploads stay private: a published image's settings and a remix body never carry the
author's `image` or `mask` upload ids."""

from __future__ import annotations

from craftgen.gallery.publish import public_settings


def test_public_settings_leave_out_every_input_file() -> None:
    shown = public_settings({"tool": "inpaint", "image": "a" * 32, "mask": "b" * 32, "prompt": "moss", "blend": 4})
    assert shown == {"tool": "inpaint", "prompt": "moss", "blend": 4}
