"""Saving outputs where A1111 users look for them: `outputs/<kind>-images/YYYY-MM-DD/NNNNN-SEED.png`.

Names follow A1111 1.10's `save_image`: a running number (`NNNNN`, or `grid-NNNN` for grids), then `-` and a
decoration (the seed now; a filename pattern such as `[seed]-[prompt_spaces]` produces it later, see
`seed_decoration`), then a suffix. Each file is written to a temporary file in the same folder and then linked
into place under its final name, so no reader ever sees half a file and two savers never take the same number.
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from modules.errors import EaselError, InvalidInput
from modules.imaging.metadata import image_with_infotext_bytes, pil_format

if TYPE_CHECKING:
    from modules.imaging.save_naming import SavingSettings

OUTPUT_KINDS: tuple[str, ...] = ("txt2img", "img2img", "extras")
DATE_FORMAT = "%Y-%m-%d"  # A1111's `[date]`, the default `directories_filename_pattern`
GRID_BASENAME = "grid"
MAX_NAME_TRIES = 500  # A1111 tries this many numbers past the next one before giving up

# A1111's `sanitize_filename_part`: characters no file name may hold, and what may not start or end one.
INVALID_FILENAME_CHARS = '#<>:"/\\|?*\n\r\t'
UNIX_INVALID_FILENAME_CHARS = "/"  # A1111's --unix-filenames-sanitization
INVALID_FILENAME_PREFIX = " "
INVALID_FILENAME_POSTFIX = " ."
MAX_FILENAME_PART_LENGTH = 128  # A1111's --filenames-max-length default


@dataclass(frozen=True)
class FilenameRules:
    """How text from a prompt or a setting becomes part of a file name: A1111's `sanitize_filename_part`, with its
    two command-line flags (`--unix-filenames-sanitization` keeps every character but `/`,
    `--filenames-max-length` cuts each part)."""

    invalid_chars: str = INVALID_FILENAME_CHARS
    max_length: int = MAX_FILENAME_PART_LENGTH

    @classmethod
    def from_flags(cls, unix: bool = False, max_length: int | None = None) -> FilenameRules:
        if max_length is not None and max_length < 1:
            raise InvalidInput("--filenames-max-length", f"{max_length} is too small", "a length of 1 or more")
        return cls(UNIX_INVALID_FILENAME_CHARS if unix else INVALID_FILENAME_CHARS,
                   MAX_FILENAME_PART_LENGTH if max_length is None else max_length)

    def sanitize(self, text: str, replace_spaces: bool = False) -> str:
        """`text` made safe for a file name.

        >>> FilenameRules().sanitize(' a/b: "c"?#. '), FilenameRules.from_flags(unix=True).sanitize('a:b/c?')
        ('a_b_ _c___', 'a:b_c?')
        >>> FilenameRules(max_length=3).sanitize("abcdef")
        'abc'
        """
        if replace_spaces:
            text = text.replace(" ", "_")
        text = text.translate({ord(c): "_" for c in self.invalid_chars})
        text = text.lstrip(INVALID_FILENAME_PREFIX)[:self.max_length]
        return text.rstrip(INVALID_FILENAME_POSTFIX)


DEFAULT_RULES = FilenameRules()


def output_dir(outputs_dir: Path, kind: str, grid: bool = False) -> Path:
    """`outputs/txt2img-images`, `outputs/img2img-grids`, ....

    >>> output_dir(Path("outputs"), "txt2img").as_posix(), output_dir(Path("outputs"), "img2img", grid=True).name
    ('outputs/txt2img-images', 'img2img-grids')
    """
    if kind not in OUTPUT_KINDS:
        raise InvalidInput("output kind", f"{kind!r} is unknown", ", ".join(OUTPUT_KINDS))
    return Path(outputs_dir) / f"{kind}-{'grids' if grid else 'images'}"


def date_folder(folder: Path, now: datetime) -> Path:
    """The day's subfolder, `YYYY-MM-DD`."""
    return Path(folder) / now.strftime(DATE_FORMAT)


def next_sequence_number(names: Iterable[str], basename: str = "") -> int:
    """1 + the largest leading number among file names (after `basename-`), 0 when there is none.

    A1111's `get_next_sequence_number`: the part before the first `-` of the name without extension, read by int().

    >>> next_sequence_number([]), next_sequence_number(["00000-1.png", "00007-9.png", "notes.txt", "3.jpg"])
    (0, 8)
    >>> next_sequence_number(["grid-0004.png", "00009-1.png"], "grid")
    5
    """
    prefix = f"{basename}-" if basename else ""
    result = -1
    for name in names:
        if name.startswith(prefix):
            first = os.path.splitext(name[len(prefix):])[0].split("-")[0]
            try:
                result = max(int(first), result)
            except ValueError:
                continue
    return result + 1


def sequence_name(number: int, basename: str = "") -> str:
    """`00012` for images, `grid-0012` when a basename is given (A1111's widths).

    >>> sequence_name(12), sequence_name(12, "grid"), sequence_name(123456)
    ('00012', 'grid-0012', '123456')
    """
    return f"{number:05}" if not basename else f"{basename}-{number:04}"


def sanitize_filename_part(text: str, replace_spaces: bool = False, rules: FilenameRules = DEFAULT_RULES) -> str:
    """A piece of text made safe for a file name, as A1111's `sanitize_filename_part` (see FilenameRules).

    >>> sanitize_filename_part(' a/b: "c"?. ')
    'a_b_ _c__'
    """
    return rules.sanitize(text, replace_spaces)


def seed_decoration(seed: int | None) -> str:
    """The decoration after the number: the seed, as A1111's default pattern `[seed]` when saving to date folders.

    A filename-pattern function (`[seed]`, `[date]`, `[prompt_spaces]`, `[model_name]`...) replaces this later and
    hands its result to `ImageSaver.save_bytes` as `decoration`.
    """
    return "" if seed is None else str(seed)


def file_name(number: int, ext: str, basename: str = "", decoration: str = "",
              rules: FilenameRules = DEFAULT_RULES) -> str:
    """The full file name: number, `-decoration` when there is one, extension.

    >>> file_name(3, "png", decoration="1234"), file_name(3, "png", basename="grid"), file_name(0, "jpg")
    ('00003-1234.png', 'grid-0003.png', '00000.jpg')
    """
    decoration = sanitize_filename_part(decoration, rules=rules)
    return f"{sequence_name(number, basename)}{'-' + decoration if decoration else ''}.{ext}"


def write_temp(folder: Path, data: bytes) -> Path:
    """`data` in a hidden temporary file of `folder`, flushed to disk (its name never looks like an output)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".easel-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def place_without_overwrite(temp: Path, target: Path) -> bool:
    """Give `temp` the name `target` unless that name exists; True when placed.

    A hard link fails when the target exists, which makes the claim atomic even against other processes; where the
    file system has no hard links, an existence check and `os.replace` are used (safe within one ImageSaver's lock).
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        return False
    except OSError:
        if target.exists():
            return False
        os.replace(temp, target)
        return True
    os.unlink(temp)
    return True


@dataclass(frozen=True)
class JpegCopy:
    """A1111's `export_for_4chan`: beside a saved image whose file is over `max_mb` (img_downscale_threshold) or
    whose width or height is over `max_side` (target_side_length), a JPEG copy under the same name, downscaled to
    fit `max_side` when too large. `replace` is save_images_replace_action's "Replace" (a `.jpg` original is then
    replaced by its copy, as in A1111)."""

    max_mb: float = 4.0
    max_side: float = 4000
    quality: int = 80
    replace: bool = True

    def size(self, width: int, height: int, file_bytes: int) -> tuple[int, int] | None:
        """The copy's size, or None when no copy is due.

        >>> c = JpegCopy()
        >>> c.size(5000, 2500, 10), c.size(2000, 5000, 10), c.size(64, 64, 5 * 2**20), c.size(64, 64, 10)
        ((4000, 2000), (1600, 4000), (64, 64), None)
        """
        oversize = width > self.max_side or height > self.max_side
        if not oversize:
            return (width, height) if file_bytes > self.max_mb * 1024 * 1024 else None
        if width / height > 1:
            return round(self.max_side), round(height * self.max_side / width)
        return round(width * self.max_side / height), round(self.max_side)


def jpeg_copy_setting(opts) -> JpegCopy | None:
    """A1111's export_for_4chan, img_downscale_threshold and target_side_length as the saver takes them; None when
    off. `opts`: the settings (Options), a run's Snapshot, or any `.get(key)` (unknown keys: A1111's defaults)."""
    def get(key: str, default):
        try:
            value = opts.get(key)
        except (KeyError, InvalidInput):
            return default
        return default if value is None else value

    if not get("export_for_4chan", True):
        return None
    return JpegCopy(float(get("img_downscale_threshold", 4.0)), float(get("target_side_length", 4000)),
                    int(get("jpeg_quality", 80)), get("save_images_replace_action", "Replace") == "Replace")


class ImageSaver:
    """Saves images into output folders; owns the lock that makes number-picking safe across threads.

    One saver is created by the App and shared by every job; tests make their own. No module state is involved.
    """

    def __init__(self, lock: threading.Lock | None = None, rules: FilenameRules = DEFAULT_RULES):
        self._lock = lock or threading.Lock()
        self.rules = rules  # the command line's file name rules (--unix-filenames-sanitization and its pair)

    def save_bytes(self, data: bytes, folder: Path, ext: str, *, basename: str = "", decoration: str = "") -> Path:
        """Write an encoded file as the next free `NNNNN[-decoration].ext` in `folder` (created if missing)."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temp = write_temp(folder, data)
        except OSError as exc:
            raise EaselError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from exc
        try:
            with self._lock:
                return self._claim_name(temp, folder, ext, basename, decoration)
        finally:
            temp.unlink(missing_ok=True)

    def save_named(self, data: bytes, path: Path, replace: bool = True) -> Path:
        """Write an encoded file under a name the caller chose (A1111's forced file names). An existing file is
        replaced, or, with `replace` False (A1111's `save_images_replace_action` "Add number suffix"), the file
        goes to the first free `stem-1.ext`, `stem-2.ext`, …; returns where it went."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = write_temp(path.parent, data)
        except OSError as exc:
            raise EaselError(f"cannot write to output folder {path.parent}: {exc.strerror or exc}") from exc
        try:
            with self._lock:
                if replace:
                    os.replace(temp, path)
                    return path
                for n in range(MAX_NAME_TRIES):
                    target = path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")
                    if place_without_overwrite(temp, target):
                        return target
            raise EaselError(f"no free file name for {path} after {MAX_NAME_TRIES} tries")
        finally:
            temp.unlink(missing_ok=True)

    def _claim_name(self, temp: Path, folder: Path, ext: str, basename: str, decoration: str) -> Path:
        first = next_sequence_number(os.listdir(folder), basename)
        for number in range(first, first + MAX_NAME_TRIES):
            target = folder / file_name(number, ext, basename, decoration, self.rules)
            if place_without_overwrite(temp, target):
                return target
        raise EaselError(f"no free file name in {folder} after {MAX_NAME_TRIES} tries from number {first}")

    def save_image(
        self,
        image: Image.Image,
        folder: Path,
        seed: int | None,
        infotext: str | None,
        fmt: str = "png",
        prefix_date: bool = True,
        now: datetime | None = None,
        *,
        suffix: str = "",
        decoration: str | None = None,
        quality: int = 80,
        lossless: bool = False,
        text_key: str = "parameters",
        extra_text: Mapping[str, object] | None = None,
        watermark: str | None = None,
        jpeg_copy: JpegCopy | None = None,
    ) -> Path:
        """Save one output image as `folder/YYYY-MM-DD/NNNNN-SEED.<fmt>` with its infotext; returns the path.

        `decoration` replaces the seed part (where a filename pattern's result goes); `suffix` is appended to it
        (A1111's `-before-highres-fix` and the like). `seed=None` and no decoration gives `NNNNN.<fmt>`.
        `watermark`: a text to mark invisibly into the saved file (modules/imaging/watermark.py); None: no mark.
        `jpeg_copy`: the large-image JPEG copy (A1111's export_for_4chan); None: none.
        """
        if watermark is not None:
            from modules.imaging.watermark import embed

            image = embed(image, watermark)
        data = image_with_infotext_bytes(
            image, infotext, fmt, quality=quality, lossless=lossless, text_key=text_key, extra_text=extra_text
        )
        target = date_folder(folder, now or datetime.now()) if prefix_date else Path(folder)
        decoration = (seed_decoration(seed) if decoration is None else decoration) + suffix
        path = self.save_bytes(data, target, file_ext(fmt), decoration=decoration)
        self.save_jpeg_copy(image, path, infotext, jpeg_copy)
        return path

    def save_output(self, image: Image.Image, folder: Path, infotext: str | None, fmt: str,
                    settings: SavingSettings, values: Mapping[str, object], *, grid: bool = False, suffix: str = "",
                    replace: bool = True, watermark: str | None = None, jpeg_copy: JpegCopy | None = None,
                    now: datetime | None = None) -> Path:
        """Save a generated image (or, with `grid`, a grid) where and as A1111's `save_image` names it from the
        saving settings and the file name pattern's `values` (seed, prompt, steps, …): see save_naming.py. A name
        without a running number that exists already is replaced, or with `replace` False numbered `-1`, `-2` …
        (save_images_replace_action). With `save_txt`, the infotext also goes to a `.txt` beside it."""
        now = now or datetime.now()
        target = Path(folder) / settings.subfolder(values, now, grid=grid, rules=self.rules)
        if watermark is not None:
            from modules.imaging.watermark import embed

            image = embed(image, watermark)
        data = image_with_infotext_bytes(image, infotext, fmt, quality=settings.jpeg_quality,
                                         lossless=settings.webp_lossless)
        ext = file_ext(fmt)
        short = grid and not settings.grid_extended_filename
        decoration = settings.decoration(values, now, short=short, rules=self.rules) + suffix
        decoration = decoration[:max(name_limit(target) - len(ext) - 12, 1)]  # room for "NNNNN-", ".ext", "-N"
        if settings.numbered(decoration):
            path = self.save_bytes(data, target, ext, basename=GRID_BASENAME if grid else "", decoration=decoration)
        else:
            path = self.save_named(data, target / f"{self.rules.sanitize(decoration)}.{ext}", replace)
        self.save_jpeg_copy(image, path, infotext, jpeg_copy)
        if settings.save_txt and infotext is not None:
            self.save_named(f"{infotext}\n".encode(), path.with_suffix(".txt"))
        return path

    def save_grid(
        self,
        image: Image.Image,
        folder: Path,
        infotext: str | None,
        fmt: str = "png",
        prefix_date: bool = True,
        now: datetime | None = None,
        *,
        quality: int = 80,
        lossless: bool = False,
        jpeg_copy: JpegCopy | None = None,
    ) -> Path:
        """Save a grid as `folder/YYYY-MM-DD/grid-NNNN.<fmt>` (A1111's short grid file name)."""
        data = image_with_infotext_bytes(image, infotext, fmt, quality=quality, lossless=lossless)
        target = date_folder(folder, now or datetime.now()) if prefix_date else Path(folder)
        path = self.save_bytes(data, target, file_ext(fmt), basename=GRID_BASENAME)
        self.save_jpeg_copy(image, path, infotext, jpeg_copy)
        return path

    def save_jpeg_copy(self, image: Image.Image, path: Path, infotext: str | None,
                       copy: JpegCopy | None) -> Path | None:
        """The JPEG copy of the file just saved at `path` when `copy` says one is due; where it went, or None."""
        size = None if copy is None else copy.size(image.width, image.height, Path(path).stat().st_size)
        if copy is None or size is None:
            return None
        if size != image.size:
            try:
                image = image.resize(size, Image.Resampling.LANCZOS)
            except ValueError:  # a mode LANCZOS cannot take (e.g. I;16)
                image = image.resize(size)
        data = image_with_infotext_bytes(image, infotext, "jpg", quality=copy.quality)
        return self.save_named(data, Path(path).with_suffix(".jpg"), copy.replace)


def name_limit(folder: Path) -> int:
    """The longest file name the file system of `folder` (or of its nearest existing parent) takes; 255 where the
    system does not say (A1111 cuts names to this too)."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return os.statvfs(probe).f_namemax
    except (AttributeError, OSError):
        return 255


def file_ext(fmt: str) -> str:
    """The file extension for a format as the user wrote it (`jpg` stays `jpg`); unknown formats are refused."""
    pil_format(fmt)
    return fmt.lower().lstrip(".")


def save_image(
    image: Image.Image,
    folder: Path,
    seed: int | None,
    infotext: str | None,
    fmt: str = "png",
    prefix_date: bool = True,
    now: datetime | None = None,
    *,
    lock: threading.Lock | None = None,
    suffix: str = "",
) -> Path:
    """Save one output image (see `ImageSaver.save_image`); pass the caller's `lock` to share it between threads.

    Without a lock the hard-link claim still keeps two savers off one name on file systems that have hard links.
    """
    return ImageSaver(lock).save_image(image, folder, seed, infotext, fmt, prefix_date, now, suffix=suffix)
