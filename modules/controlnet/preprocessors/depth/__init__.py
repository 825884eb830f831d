"""Depth preprocessors with network weights: MiDaS DPT-Hybrid (the extension's `depth`, shown as depth_midas)."""
