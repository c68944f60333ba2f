"""The community gallery: publishing one's images, finding public ones, likes, reports, moderation
and remixing. Dialect-specific full-text search lives in search.py; everything else is plain SQL."""
