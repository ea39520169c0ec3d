"""The citizen web portal: inbox, message view, attachment downloads, login and logout."""

from __future__ import annotations

from gateway.web.app import create_app

__all__ = ["create_app"]
