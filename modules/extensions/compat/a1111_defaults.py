"""A1111 1.10 settings Easel has no row for, with A1111's defaults: extensions read `shared.opts.<key>` for many of
them (grid colours, filename patterns, return_grid …) and would crash on an AttributeError otherwise. Reading gives
the default; writing one adds it to the settings table as a hidden row, so it is kept in config.json."""
from __future__ import annotations

A1111_DEFAULTS: dict[str, object] = {
    # saving
    "samples_filename_pattern": "", "save_images_add_number": True, "save_images_replace_action": "Replace",
    "grid_extended_filename": False, "grid_only_if_multiple": True, "grid_prevent_empty_spots": False,
    "grid_zip_filename_pattern": "", "n_rows": -1, "font": "", "grid_text_active_color": "#000000",
    "grid_text_inactive_color": "#999999", "grid_background_color": "#ffffff", "save_images_before_face_restoration":
    False, "save_images_before_highres_fix": False, "save_images_before_color_correction": False, "save_mask": False,
    "save_mask_composite": False, "jpeg_quality": 80, "webp_lossless": False, "export_for_4chan": True,
    "img_downscale_threshold": 4.0, "target_side_length": 4000, "img_max_size_mp": 200,
    "use_original_name_batch": True, "use_upscaler_name_as_suffix": False, "save_selected_only": True,
    "save_init_img": False, "temp_dir": "", "clean_temp_dir_at_start": False, "save_incomplete_images": False,
    "notification_audio": True, "notification_volume": 100, "outdir_samples": "", "outdir_grids": "",
    "outdir_save": "log/images", "outdir_init_images": "outputs/init-images", "save_to_dirs": True,
    "grid_save_to_dirs": True, "use_save_to_dirs_for_ui": False, "directories_filename_pattern": "[date]",
    "directories_max_prompt_words": 8, "save_txt": False, "return_grid": True, "do_not_show_images": False,
    # face restoration, upscaling
    "face_restoration": False, "face_restoration_model": "CodeFormer", "code_former_weight": 0.5,
    "face_restoration_unload": False, "set_scale_by_when_changing_upscaler": False,
    "upscaling_max_images_in_cache": 5, "postprocessing_enable_in_main_ui": [],
    "postprocessing_operation_order": [], "postprocessing_existing_caption_action": "Ignore",
    # system
    "auto_launch_browser": "Local", "show_warnings": False, "show_gradio_deprecation_warnings": True,
    "memmon_poll_rate": 8, "samples_log_stdout": False, "multiple_tqdm": True, "enable_upscale_progressbar": True,
    "print_hypernet_extra": False, "list_hidden_files": True, "disable_mmap_load_safetensors": False,
    "hide_ldm_prints": True, "dump_stacks_on_signal": False, "api_forbid_local_requests": True, "api_useragent": "",
    # stable diffusion
    "sd_checkpoint_cache": 0, "sd_vae_checkpoint_cache": 0, "sd_vae_overrides_per_model_preferences": True,
    "auto_vae_precision": True, "auto_vae_precision_bfloat16": False, "sd_vae_encode_method": "Full",
    "sd_vae_decode_method": "Full", "sd_unet": "Automatic", "sd_hypernetwork": "None", "sd_checkpoints_limit": 1,
    "sd_checkpoints_keep_in_cpu": True, "cross_attention_optimization": "Automatic", "s_min_uncond": 0.0,
    "s_min_uncond_all": False, "token_merging_ratio": 0.0, "token_merging_ratio_img2img": 0.0,
    "token_merging_ratio_hr": 0.0, "persistent_cond_cache": True, "batch_cond_uncond": True, "fp8_storage":
    "Disable", "cache_fp16_weight": False, "enable_quantization": False, "enable_batch_seeds": True,
    "sdxl_clip_l_skip": False, "upcast_attn": False, "tiling": False, "hires_fix_refiner_pass": "second pass",
    "sd_refiner_checkpoint": "None", "img2img_color_correction": False,
    "img2img_editor_height": 720, "img2img_sketch_default_brush_color": "#ffffff",
    "img2img_inpaint_mask_brush_color": "#ffffff", "img2img_inpaint_sketch_default_brush_color": "#ffffff",
    "return_mask": False, "return_mask_composite": False, "img2img_batch_show_results_limit": 32,
    "overlay_inpaint": True, "sd_noise_schedule": "Default", "always_discard_next_to_last_sigma": False,
    "sgm_noise_multiplier": False, "uni_pc_variant": "bh1", "uni_pc_skip_type": "time_uniform", "uni_pc_order": 3,
    "uni_pc_lower_order_final": True,
    # compatibility switches (A1111's "use old …")
    "use_old_emphasis_implementation": False, "use_old_karras_scheduler_sigmas": False,
    "no_dpmpp_sde_batch_determinism": False, "use_old_hires_fix_width_height": False,
    "dont_fix_second_order_samplers_schedule": False, "hires_fix_use_firstpass_conds": False,
    "use_old_scheduling": False, "use_downcasted_alpha_bar": False, "refiner_switch_by_sample_steps": False,
    # user interface, infotext, extra networks
    "quicksettings_list": ["sd_model_checkpoint"], "ui_tab_order": [], "hidden_tabs": [],
    "ui_reorder_list": [], "gradio_theme": "Default", "gradio_themes_cache": True, "show_progressbar": True,
    "live_preview_content": "Prompt", "show_progress_type": "Approx NN", "live_preview_refresh_period": 1000,
    "live_preview_fast_interrupt": False, "js_live_preview_in_modal_lightbox": False,
    "keyedit_precision_attention": 0.1, "keyedit_precision_extra": 0.05, "keyedit_delimiters": r".,\/!?%^*;:{}=`~() ",
    "keyedit_delimiters_whitespace": ["Tab", "Carriage Return", "Line Feed"], "keyedit_move": True,
    "disable_token_counters": False, "js_modal_lightbox": True, "js_modal_lightbox_initially_zoomed": True,
    "js_modal_lightbox_gamepad": False, "show_progress_in_title": True, "samplers_in_dropdown": True,
    "dimensions_and_batch_together": True, "add_model_hash_to_info": True, "add_model_name_to_info": True,
    "add_user_name_to_info": False, "add_version_to_infotext": True, "disable_weights_auto_swap": True,
    "infotext_skip_pasting": [], "infotext_styles": "Apply if any", "show_progress_grid": True,
    "extra_networks_show_hidden_directories": True, "extra_networks_default_multiplier": 1.0,
    "extra_networks_card_width": 0, "extra_networks_card_height": 0, "extra_networks_add_text_separator": " ",
    "extra_networks_tree_view_default_enabled": True, "sd_lora": "None", "lora_preferred_name": "Alias from file",
    "lora_show_all": False, "lora_hide_unknown_for_versions": [], "lora_in_memory_limit": 0,
    "lora_not_found_warning_console": False, "lora_not_found_gradio_warning": False,
    "textual_inversion_print_at_load": False, "interrogate_keep_models_in_memory": False,
    "interrogate_return_ranks": False, "interrogate_clip_num_beams": 1, "interrogate_clip_min_length": 24,
    "interrogate_clip_max_length": 48, "interrogate_clip_dict_limit": 1500, "deepbooru_use_spaces": True,
    "deepbooru_escape": True, "deepbooru_filter_tags": "", "canvas_hotkey_zoom": "Alt",
    "canvas_hotkey_adjust": "Ctrl", "canvas_hotkey_move": "F", "canvas_hotkey_fullscreen": "S",
    "canvas_hotkey_reset": "R", "canvas_hotkey_overlap": "O", "canvas_show_tooltip": True,
    "canvas_auto_expand": True, "canvas_blur_prompt": False, "canvas_disabled_functions": ["Overlap"],
    "pin_memory": False, "save_optimizer_state": False, "training_image_repeats_per_epoch": 1,
}
