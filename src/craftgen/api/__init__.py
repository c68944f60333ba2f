"""The HTTP API (v1): a FastAPI app factory, its dependencies, and one router per resource."""
