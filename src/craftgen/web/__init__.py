"""The studio: web pages for crafters (home, one page per tool, my images, sign-in) over the v1 API."""
