"""Easel's built-in model: a procedural world of coloured shapes (`world`, `scenes`, `render`), an analyzer that reads
pictures of it back (`analyzer`), the model configs (`configs`), VAE and UNet+text-encoder training (`train_vae`,
`train_unet`, driven by `train_builtin`), held-out evaluation (`evaluate`) and export to the single-file layout
(`export`)."""
