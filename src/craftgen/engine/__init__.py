"""Diffusion for crafters: models, the seven tools, and the Engine that runs them."""
