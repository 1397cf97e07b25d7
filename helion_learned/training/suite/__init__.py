"""The kernel suite and shape lists used to collect benchmark data (training side only)."""
