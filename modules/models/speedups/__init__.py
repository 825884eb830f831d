"""Options that make a UNet call cheaper at a small cost in fidelity: token merging, HyperTile, feature caching.

Each is a typed value (`options.UnetPatches`) that a pass hands to the model; `run.UnetRun` applies them to one
diffusers UNet call at a time and takes them off again, so a run without them takes today's exact path
(docs/performance.md).
"""
