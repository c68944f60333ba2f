"""Pure image functions (PIL/numpy/OpenCV), no model state."""
