"""Operating a pipeline: status, live view, replay."""
