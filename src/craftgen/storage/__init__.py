"""Blob storage for uploads and outputs: an interface and one file per backend."""
