"""The settings table: one row per setting, with A1111's keys so config.json files and API clients carry over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting. `kind` is the Python type values are checked against; `choices` restricts strings."""

    key: str
    default: Any
    label: str
    section: str
    kind: type = str
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    restart: bool = False
    hidden: bool = False  # kept in config.json and /options, changed elsewhere than the Settings tab (A1111's hidden)
    reload: bool = False  # takes effect when the page is loaded again (A1111's needs_reload_ui)
    widget: str | None = None  # "radio": choices shown as radio buttons (an A1111 option built with gr.Radio)


def _s(key, default, label, section, kind=None, choices=None, minimum=None, maximum=None, restart=False,
       hidden=False, reload=False):
    return Setting(key, default, label, section, kind or type(default), choices, minimum, maximum, restart, hidden,
                   reload)


SAVING = "Saving images"
SD = "Stable Diffusion"
SDXL = "Stable Diffusion XL"
SAMPLER = "Sampler parameters"
UI = "User interface"
UPSCALING = "Upscaling"
EXTENSIONS = "Extensions"
FACES = "Face restoration"
INTERROGATE = "Interrogate"
OPTIMIZATIONS = "Optimizations"
HYPERTILE = "Hypertile"
INFOTEXT = "Infotext"
IMG2IMG = "img2img"

SETTINGS: tuple[Setting, ...] = (
    _s("samples_save", True, "Always save all generated images", SAVING),
    _s("samples_format", "png", "File format for images", SAVING, choices=("png", "jpg", "webp")),
    _s("grid_save", True, "Always save all generated image grids", SAVING),
    _s("grid_format", "png", "File format for grids", SAVING, choices=("png", "jpg", "webp")),
    _s("grid_extended_filename", False, "Add extended info (seed, prompt) to filename when saving grid", SAVING),
    # where and under which name images are saved (modules/imaging/save_naming.py)
    _s("samples_filename_pattern", "", "Images filename pattern ([seed], [prompt_spaces], [steps] …; empty: [seed])",
       SAVING),
    _s("save_images_add_number", True, "Add number to filename when saving", SAVING),
    _s("save_to_dirs", True, "Save images to a subdirectory", SAVING),
    _s("grid_save_to_dirs", True, "Save grids to a subdirectory", SAVING),
    _s("directories_filename_pattern", "[date]", "Directory name pattern", SAVING),
    _s("directories_max_prompt_words", 8, "Max prompt words for [prompt_words] pattern", SAVING, int, minimum=1,
       maximum=20),
    _s("jpeg_quality", 80, "Quality for saved jpeg and avif images", SAVING, int, minimum=1, maximum=100),
    _s("webp_lossless", False, "Use lossless compression for webp images", SAVING),
    _s("save_txt", False, "Create a text file with infotext next to every image", SAVING),
    _s("outdir_samples", "", "Output directory for images; if empty, defaults to the directories below", SAVING),
    _s("outdir_grids", "", "Output directory for grids; if empty, defaults to the directories below", SAVING),
    _s("grid_only_if_multiple", True, "Do not save grids consisting of one picture", SAVING),
    _s("grid_prevent_empty_spots", False, "Prevent empty spots in grid (when set to autodetect)", SAVING),
    _s("n_rows", -1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size", SAVING, int,
       minimum=-1, maximum=16),
    _s("return_grid", True, "Show grid in gallery", UI),
    _s("grid_zip_filename_pattern", "", "Archive filename pattern", SAVING),
    _s("outdir_save", "log/images", "Directory for saving images using the Save button", SAVING),
    _s("save_selected_only", True, "When using 'Save' button, only save a single selected image", SAVING),
    _s("save_write_log_csv", True, "Write log.csv when saving images using 'Save' button", SAVING),
    _s("use_save_to_dirs_for_ui", False, "When using \"Save\" button, save images to a subdirectory", SAVING),
    _s("enable_invisible_watermark", False, "Mark saved images with an invisible watermark (DWT, the original SD "
       "scripts' \"StableDiffusionV1\"; survives PNG and lossless WebP, not JPEG)", SAVING),
    _s("enable_pnginfo", True, "Save text information about generation parameters as chunks to png files", SAVING),
    # which optional entries the infotext carries (modules/pipeline/params.py InfotextKeys)
    _s("add_model_name_to_info", True, "Add model name to infotext", INFOTEXT),
    _s("add_model_hash_to_info", True, "Add model hash to infotext", INFOTEXT),
    _s("add_vae_name_to_info", True, "Add VAE name to infotext", INFOTEXT),
    _s("add_vae_hash_to_info", True, "Add VAE hash to infotext", INFOTEXT),
    _s("add_user_name_to_info", False, "Add user name to infotext when authenticated (page login or --api-auth)",
       INFOTEXT),
    _s("add_version_to_infotext", True, "Add program version to infotext", INFOTEXT),
    # how a pasted infotext is read (modules/imaging/paste_rules.py)
    _s("disable_weights_auto_swap", True, "Disregard checkpoint information from pasted infotext (API: a pasted "
       "Model hash does not switch the checkpoint)", INFOTEXT),
    _s("infotext_skip_pasting", (), "Disregard fields from pasted infotext (infotext keys)", INFOTEXT, tuple),
    _s("infotext_styles", "Apply if any", "Infer styles from prompts of pasted infotext", INFOTEXT,
       choices=("Ignore", "Apply", "Discard", "Apply if any")),
    _s("outdir_txt2img_samples", "outputs/txt2img-images", "Output directory for txt2img images", SAVING),
    _s("outdir_img2img_samples", "outputs/img2img-images", "Output directory for img2img images", SAVING),
    _s("outdir_extras_samples", "outputs/extras-images", "Output directory for images from extras tab", SAVING),
    _s("outdir_txt2img_grids", "outputs/txt2img-grids", "Output directory for txt2img grids", SAVING),
    _s("outdir_img2img_grids", "outputs/img2img-grids", "Output directory for img2img grids", SAVING),
    _s("sd_model_checkpoint", "", "Stable Diffusion checkpoint", SD),
    _s("sd_vae", "Automatic", "SD VAE", SD),
    _s("sd_vae_encode_method", "Full", "VAE type for encode (img2img, hires fix, inpainting; TAESD needs "
       "models/VAE-taesd/taesd_encoder.pth or taesdxl_encoder.pth)", SD, choices=("Full", "TAESD")),
    _s("sd_vae_decode_method", "Full", "VAE type for decode (TAESD needs models/VAE-taesd/taesd_decoder.pth or "
       "taesdxl_decoder.pth; the built-in model ships its own)", SD, choices=("Full", "TAESD")),
    _s("sd15_download_url", "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/"
       "v1-5-pruned-emaonly.safetensors", "Download Stable Diffusion 1.5 from this URL", SD),
    _s("sd15_download_sha256", "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
       "Expected sha256 of that download (empty: do not check)", SD),
    _s("CLIP_stop_at_last_layers", 1, "Clip skip", SD, int, minimum=1, maximum=12),
    _s("sdxl_clip_l_skip", False, "Clip skip SDXL: apply Clip skip to SDXL's CLIP-L text encoder too (no effect on "
       "SD 1.x or 2.x)", SD),
    _s("emphasis", "Original", "Emphasis mode", SD, choices=("Original", "No norm", "Ignore", "None")),
    _s("comma_padding_backtrack", 20, "Prompt word wrap length limit (tokens)", SD, int, minimum=0, maximum=74),
    _s("pad_cond_uncond", False, "Pad prompt/negative prompt to be same length", SD),
    _s("pad_cond_uncond_v0", False, "Pad prompt/negative prompt (v0): A1111 before 1.6 with DDIM; repeats the "
       "negative prompt's last token or cuts it; overrides the above", SD),
    _s("enable_prompt_comments", True, "Enable comments: # hides the rest of its line from the generation", SD),
    # SDXL conditioning (modules/models/engines/sdxl.py): A1111's keys, defaults and ranges
    _s("sdxl_crop_top", 0, "SDXL crop top coordinate", SDXL, int, minimum=0, maximum=512),
    _s("sdxl_crop_left", 0, "SDXL crop left coordinate", SDXL, int, minimum=0, maximum=512),
    _s("sdxl_refiner_low_aesthetic_score", 2.5, "SDXL low aesthetic score (the refiner's negative prompt)", SDXL,
       float, minimum=0.0, maximum=10.0),
    _s("sdxl_refiner_high_aesthetic_score", 6.0, "SDXL high aesthetic score (the refiner's prompt)", SDXL, float,
       minimum=0.0, maximum=10.0),
    _s("tiling", False, "Tiling (produce a tileable picture)", SD),
    # speed options (docs/performance.md); A1111's keys where A1111 has them, SD.Next's for feature caching
    _s("token_merging_ratio", 0.0, "Token merging ratio (0 = off; higher = faster, less detail)", OPTIMIZATIONS,
       float, minimum=0.0, maximum=0.9),
    _s("token_merging_ratio_img2img", 0.0, "Token merging ratio for img2img (used if non-zero)", OPTIMIZATIONS,
       float, minimum=0.0, maximum=0.9),
    _s("token_merging_ratio_hr", 0.0, "Token merging ratio for high-res pass (used if non-zero)", OPTIMIZATIONS,
       float, minimum=0.0, maximum=0.9),
    _s("fp8_storage", "Disable", "FP8 weight: keep the UNet's and text encoders' Linear/Conv weights as 8-bit "
       "floats (half the memory of 16-bit weights; a change reloads the model)", OPTIMIZATIONS,
       choices=("Disable", "Enable for SDXL", "Enable")),
    _s("cache_fp16_weight", False, "Cache FP16 weight for LoRA (with FP8: LoRAs land on the exact weights; more "
       "memory)", OPTIMIZATIONS),
    _s("deep_cache_interval", 1, "DeepCache interval: full UNet every N steps, shallow layers only in between "
       "(1 = off)", OPTIMIZATIONS, int, minimum=1, maximum=10),
    _s("hypertile_enable_unet", False, "Enable Hypertile U-Net (tiled self-attention, all passes)", HYPERTILE),
    _s("hypertile_enable_unet_secondpass", False, "Enable Hypertile U-Net for hires fix second pass", HYPERTILE),
    _s("hypertile_max_depth_unet", 3, "Hypertile U-Net max depth", HYPERTILE, int, minimum=0, maximum=3),
    _s("hypertile_max_tile_unet", 256, "Hypertile U-Net max tile size (pixels)", HYPERTILE, int, minimum=0,
       maximum=512),
    _s("hypertile_swap_size_unet", 3, "Hypertile U-Net swap size", HYPERTILE, int, minimum=0, maximum=64),
    _s("hypertile_enable_vae", False, "Enable Hypertile VAE (tiled attention in the VAE decoder)", HYPERTILE),
    _s("hypertile_max_depth_vae", 3, "Hypertile VAE max depth", HYPERTILE, int, minimum=0, maximum=3),
    _s("hypertile_max_tile_vae", 128, "Hypertile VAE max tile size (pixels)", HYPERTILE, int, minimum=0,
       maximum=512),
    _s("hypertile_swap_size_vae", 3, "Hypertile VAE swap size", HYPERTILE, int, minimum=0, maximum=64),
    _s("s_min_uncond", 0.0, "Negative Guidance minimum sigma (skip the negative prompt on some late steps; 0: off)",
       SAMPLER, float, minimum=0.0, maximum=15.0),
    _s("s_min_uncond_all", False, "Negative Guidance minimum sigma all steps (not only every other step)", SAMPLER),
    # A1111 1.10 reads ddim_discretize nowhere (its DDIM and PLMS space their steps uniformly): "quad" would be
    # accepted and ignored there, so only "uniform" is accepted here
    _s("ddim_discretize", "uniform", "img2img DDIM discretize (A1111 1.10 always spaces DDIM's steps uniformly)",
       SAMPLER, choices=("uniform",)),
    _s("sd_noise_schedule", "Default", "Noise schedule for sampling (Zero Terminal SNR: for models trained with "
       "it)", SAMPLER, choices=("Default", "Zero Terminal SNR")),
    _s("enable_quantization", False, "Enable quantization in K samplers for sharper and cleaner results (the UNet "
       "gets whole training timesteps)", SD),
    _s("use_old_scheduling", False, "Use old prompt editing timelines (A1111 before 1.6: [a:b:N] counts N < 1 as a "
       "fraction, and the hires pass its own steps)", "Compatibility"),
    _s("no_dpmpp_sde_batch_determinism", False, "Do not make DPM++ SDE deterministic across different batch sizes "
       "(one noise tree for the whole batch, as A1111 before 1.2)", "Compatibility"),
    _s("use_old_hires_fix_width_height", False, "For hires fix, use width/height sliders to set final resolution "
       "rather than first pass (disables Upscale by, Resize width/height to)", "Compatibility"),
    _s("hires_fix_use_firstpass_conds", False, "For hires fix, calculate conds of second pass using extra networks "
       "of first pass", "Compatibility"),
    _s("auto_backcompat", True, "Automatic backward compatibility: a pasted infotext of an older A1111 version "
       "turns on the compatibility settings it was made with", "Compatibility"),
    _s("use_downcasted_alpha_bar", False, "Downcast model alphas_cumprod to fp16 before sampling (reproduces seeds "
       "of A1111 before 1.7)", "Compatibility"),
    _s("skip_early_cond", 0.0, "Ignore negative prompt during early sampling (the first fraction of steps run "
       "without CFG; 0: none, 1: all)", SAMPLER, float, minimum=0.0, maximum=1.0),
    _s("lora_add_hashes_to_infotext", True, "Add Lora hashes to infotext", "Extra Networks"),
    _s("extra_networks_default_multiplier", 1.0, "Default multiplier for extra networks (a Lora card's weight)",
       "Extra Networks", float, minimum=0.0, maximum=2.0),
    _s("extra_networks_add_text_separator", " ", "Extra networks separator: text put before a card's tag",
       "Extra Networks"),
    _s("extra_networks_card_width", 0, "Card width for Extra Networks (px, 0: default)", "Extra Networks", int,
       minimum=0, reload=True),
    _s("extra_networks_card_height", 0, "Card height for Extra Networks (px, 0: default)", "Extra Networks", int,
       minimum=0, reload=True),
    _s("extra_networks_card_text_scale", 1.0, "Card text scale", "Extra Networks", float, minimum=0.0,
       maximum=2.0, reload=True),
    _s("extra_networks_card_show_desc", True, "Show description on card", "Extra Networks", reload=True),
    _s("extra_networks_card_description_is_html", False, "Treat card description as HTML", "Extra Networks",
       reload=True),
    _s("extra_networks_hidden_models", "When searched", "Show cards for models in hidden directories (names "
       "starting with a dot)", "Extra Networks", choices=("Always", "When searched", "Never"), reload=True),
    _s("extra_networks_card_order_field", "Path", "Default order field for Extra Networks cards", "Extra Networks",
       choices=("Path", "Name", "Date Created", "Date Modified"), reload=True),
    _s("extra_networks_card_order", "Ascending", "Default order for Extra Networks cards", "Extra Networks",
       choices=("Ascending", "Descending"), reload=True),
    _s("extra_networks_tree_view_default_enabled", True, "Show the folder buttons of Extra Networks by default",
       "Extra Networks", reload=True),
    _s("extra_networks_show_hidden_directories", True, "Show folder buttons for hidden directories (names starting "
       "with a dot)", "Extra Networks", reload=True),
    _s("ui_extra_networks_tab_reorder", "", "Extra networks tab order (comma-separated parts of tab names)",
       "Extra Networks", reload=True),
    _s("textual_inversion_add_hashes_to_infotext", True, "Add Textual Inversion hashes to infotext", SD),
    _s("randn_source", "GPU", "Random number generator source", SD, choices=("GPU", "CPU")),
    _s("eta_noise_seed_delta", 0, "Eta noise seed delta (ENSD)", SAMPLER, int, minimum=0),
    _s("eta_ancestral", 1.0, "Eta for k-diffusion samplers", SAMPLER, float, minimum=0.0),
    _s("eta_ddim", 0.0, "Eta for DDIM", SAMPLER, float, minimum=0.0),
    _s("s_churn", 0.0, "sigma churn", SAMPLER, float, minimum=0.0, maximum=100.0),
    _s("s_tmin", 0.0, "sigma tmin", SAMPLER, float, minimum=0.0),
    _s("s_tmax", 0.0, "sigma tmax (0 = infinity)", SAMPLER, float, minimum=0.0),
    _s("s_noise", 1.0, "sigma noise", SAMPLER, float, minimum=0.0),
    _s("persistent_cond_cache", True, "Persistent cond cache: do not recalculate conds from prompts if prompts have "
       "not changed since previous calculation", OPTIMIZATIONS),
    _s("batch_cond_uncond", True, "Batch cond/uncond: the prompt's and the negative prompt's UNet passes in one call "
       "(off: one call per row, less memory at the peak, a little slower)", OPTIMIZATIONS),
    _s("exact_batches", True, "Compute the images of a batch one by one, so each equals a single run with its "
       "seed bit for bit (a little slower on GPUs)", SAMPLER),
    _s("sigma_min", 0.0, "sigma min (0 = model default)", SAMPLER, float, minimum=0.0),
    _s("sigma_max", 0.0, "sigma max (0 = model default)", SAMPLER, float, minimum=0.0),
    _s("rho", 0.0, "rho (0 = scheduler default)", SAMPLER, float, minimum=0.0),
    _s("sgm_noise_multiplier", False, "SGM noise multiplier: txt2img start noise scaled by sqrt(1 + sigma_max^2) "
       "as the official SDXL code does (reproducing images only)", SAMPLER),
    # UniPC (modules/sampling/unipc.py); A1111's vary_coeff variant is not available
    _s("uni_pc_variant", "bh1", "UniPC variant", SAMPLER, choices=("bh1", "bh2")),
    _s("uni_pc_skip_type", "time_uniform", "UniPC skip type (spacing of its steps with schedule type Automatic)",
       SAMPLER, choices=("time_uniform", "time_quadratic", "logSNR")),
    _s("uni_pc_order", 3, "UniPC order (should be < sampling steps; shorter passes run at their step count)",
       SAMPLER, int, minimum=1, maximum=50),
    _s("uni_pc_lower_order_final", True, "UniPC lower order final", SAMPLER),
    _s("hires_fix_refiner_pass", "second pass", "Hires fix: which pass to enable refiner for", SD,
       choices=("first pass", "second pass", "both passes")),
    _s("refiner_switch_by_sample_steps", False, "Switch to refiner by sampling steps instead of model timesteps "
       "(the old behaviour)", SD),
    _s("img2img_fix_steps", False, "With img2img, do exactly the amount of steps the slider specifies", SD),
    _s("initial_noise_multiplier", 1.0, "Noise multiplier for img2img", SD, float, minimum=0.0, maximum=1.5),
    _s("img2img_extra_noise", 0.0, "Extra noise multiplier for img2img and hires fix (0 = disabled; should be "
       "lower than denoising strength)", SD, float, minimum=0.0, maximum=1.0),
    _s("inpainting_mask_weight", 1.0, "Inpainting conditioning mask strength", SD, float, minimum=0.0,
       maximum=1.0),
    _s("img2img_background_color", "#ffffff", "With img2img, fill transparent parts of the input image with this "
       "color", SD),
    # inpainting's extra outputs (modules/pipeline/extra_outputs.py)
    _s("return_mask", False, "For inpainting, include the greyscale mask in results for web", IMG2IMG),
    _s("return_mask_composite", False, "For inpainting, include masked composite in results for web", IMG2IMG),
    _s("overlay_inpaint", True, "Overlay original for inpaint (off: the sampled result as it is, an \"only "
       "masked\" crop not pasted back)", IMG2IMG),
    _s("save_mask", False, "For inpainting, save a copy of the greyscale mask", SAVING),
    _s("save_mask_composite", False, "For inpainting, save a masked composite", SAVING),
    _s("img2img_color_correction", False, "Apply color correction to img2img results to match original colors",
       IMG2IMG),
    _s("save_images_before_color_correction", False, "Save a copy of image before applying color correction to "
       "img2img results", SAVING),
    _s("save_images_before_face_restoration", False, "Save a copy of image before doing face restoration", SAVING),
    _s("save_images_before_highres_fix", False, "Save a copy of image before applying highres fix", SAVING),
    _s("save_init_img", False, "Save init images when using img2img (as <md5>.png, also when the results are not "
       "saved)", SAVING),
    _s("outdir_init_images", "outputs/init-images", "Directory for saving init images when using img2img", SAVING),
    _s("save_images_replace_action", "Replace", "Saving the image to an existing file (init images, names without "
       "a number)", SAVING, choices=("Replace", "Add number suffix")),
    _s("export_for_4chan", True, "Save copy of large images as JPG (if the file size is above the limit, or either "
       "width or height are above the limit)", SAVING),
    _s("img_downscale_threshold", 4.0, "File size limit for the above option, MB", SAVING, float, minimum=0.0),
    _s("target_side_length", 4000, "Width/height limit for the above option, in pixels", SAVING, float, minimum=1.0),
    _s("upscaler_for_img2img", "None", "Upscaler for img2img", UPSCALING),
    _s("ESRGAN_tile", 192, "Tile size for upscaler models (0 = no tiling)", UPSCALING, int, minimum=0,
       maximum=1024),
    _s("ESRGAN_tile_overlap", 8, "Tile overlap for upscaler models, in pixels", UPSCALING, int, minimum=0,
       maximum=64),
    # the restorers Easel knows (modules/upscalers/faces); each works once its model files are in models/
    _s("face_restoration", False, "Restore faces", FACES),
    _s("face_restoration_model", "CodeFormer", "Face restoration model", FACES,
       choices=("CodeFormer", "GFPGAN", "RestoreFormer")),
    _s("code_former_weight", 0.5, "CodeFormer weight (0 = maximum effect, 1 = minimum effect)", FACES, float,
       minimum=0.0, maximum=1.0),
    _s("face_restoration_unload", False, "Unload the face restoration models after each use (frees memory, "
       "reloads next time)", FACES),
    # interrogation (modules/interrogate, docs/interrogate.md): A1111's keys and defaults
    _s("interrogate_keep_models_in_memory", False, "Keep interrogation models in VRAM", INTERROGATE),
    _s("interrogate_return_ranks", False, "Include ranks of model tags matches in results", INTERROGATE),
    _s("interrogate_clip_num_beams", 1, "BLIP: num_beams", INTERROGATE, int, minimum=1, maximum=16),
    _s("interrogate_clip_min_length", 24, "BLIP: minimum description length", INTERROGATE, int, minimum=1,
       maximum=128),
    _s("interrogate_clip_max_length", 48, "BLIP: maximum description length", INTERROGATE, int, minimum=1,
       maximum=256),
    _s("interrogate_clip_dict_limit", 1500, "CLIP: maximum number of lines in text file (0 = no limit)",
       INTERROGATE, int, minimum=0),
    _s("interrogate_clip_skip_categories", (), "CLIP: skip inquire categories (models/interrogate/*.txt names)",
       INTERROGATE, tuple),
    _s("interrogate_deepbooru_score_threshold", 0.5, "deepbooru: score threshold", INTERROGATE, float,
       minimum=0.0, maximum=1.0),
    _s("deepbooru_sort_alpha", True, "deepbooru: sort tags alphabetically (if not: by score)", INTERROGATE),
    _s("deepbooru_use_spaces", True, "deepbooru: use spaces in tags (if not: underscores)", INTERROGATE),
    _s("deepbooru_escape", True, "deepbooru: escape (\\) brackets, so they are literal and not emphasis",
       INTERROGATE),
    _s("deepbooru_filter_tags", "", "deepbooru: filter out those tags (separate by comma)", INTERROGATE),
    # choices: "None" and the localizations/*.json found (modules/ui/localization lists them; files come and go)
    _s("localization", "None", "Localization", UI, reload=True),
    _s("live_previews_enable", True, "Show live previews of the created image", UI),
    _s("show_progress_every_n_steps", 10, "Live preview display period (steps)", UI, int, minimum=-1, maximum=32),
    # docs/previews.md: "Approx NN" uses the TAESD file when present (Easel has no separate Approx NN network)
    _s("show_progress_type", "Approx NN", "Live preview method", UI,
       choices=("Full", "Approx NN", "Approx cheap", "TAESD")),
    _s("quicksettings_list", ("sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"),
       "Quicksettings list (setting keys shown at the top of the page)", UI, tuple, restart=True),
    _s("api_enable_requests", False, "Allow http:// and https:// URLs for input images in the API", "API"),
    _s("api_forbid_local_requests", True, "Forbid URLs to local and private network addresses", "API"),
    _s("api_max_request_mb", 40.0, "Largest API request body, in MB", "API", float, minimum=1.0, maximum=1024.0),
    _s("disabled_extensions", (), "Disable these extensions", EXTENSIONS, tuple, restart=True, hidden=True),
    _s("disable_all_extensions", "none", "Disable all extensions (preserves the list of disabled extensions)",
       EXTENSIONS, choices=("none", "extra", "all"), restart=True, hidden=True),
    _s("extensions_index_url", "https://raw.githubusercontent.com/AUTOMATIC1111/stable-diffusion-webui-extensions/"
       "master/index.json", "URL of the extension index (Extensions → Available)", EXTENSIONS),
    _s("control_net_unit_count", 3, "ControlNet: number of units (tabs) on txt2img and img2img", "ControlNet", int,
       minimum=1, maximum=10, reload=True),
    _s("control_net_no_detectmap", False, "ControlNet: do not append the detected maps to the API's images",
       "ControlNet"),
)
