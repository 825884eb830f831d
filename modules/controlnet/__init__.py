"""ControlNet: units and their API forms, preprocessors, models and their injection into the UNet."""
