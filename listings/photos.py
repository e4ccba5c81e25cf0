"""The photo pipeline: check an upload, make it safe, make smaller sizes.

Uploads come from anyone, so nothing about them is trusted:

- the byte size is capped before Pillow sees the data (PHOTO_MAX_BYTES);
- the content, not the file name, decides what it is (a text file renamed
  .jpg is "not an image");
- the pixel count is read from the header and refused *before* decoding, so a
  small file that claims 50 megapixels never allocates them (Pillow's own
  decompression-bomb guard is turned into an error as a second line);
- the image is decoded fully (`load()`), so a truncated or corrupt file is
  refused now instead of breaking thumbnails later;
- the EXIF orientation is applied to the pixels and then every bit of
  metadata (EXIF incl. GPS, XMP, comments) is dropped by re-encoding, so a
  seller's home address never leaves with a photo of their sofa.

Pure functions over bytes: no database and no storage here.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.errors import ValidationFailed

logger = logging.getLogger(__name__)

# MPO is what many phone cameras write: a JPEG with extra frames.
BASE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
THUMBNAIL_EDGE = 320
MEDIUM_EDGE = 1024
# The stored "original" is capped: nobody needs 40 megapixels of a used bike.
ORIGINAL_MAX_EDGE = 4096
JPEG_QUALITY = 85
VARIANT_QUALITY = 80


class PhotoRejected(ValidationFailed):
    """An upload that is not an acceptable photo (HTTP 400 on `image`)."""

    def __init__(self, message: str, *, code: str = "invalid_image") -> None:
        super().__init__({"image": [message]}, code=code)


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes  # a clean JPEG, no metadata
    width: int
    height: int
    source_format: str


def allowed_formats() -> frozenset[str]:
    """JPEG, PNG and WebP always; HEIC/HEIF when a Pillow plugin can read it."""
    extra = {"HEIF"} if "HEIF" in Image.OPEN else set()
    return BASE_FORMATS | extra


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _read(upload: IO[bytes] | bytes, max_bytes: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > max_bytes:
            raise PhotoRejected(
                f"The file is too big ({_megabytes(size)}); the limit is {_megabytes(max_bytes)}.",
                code="image_too_big",
            )
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoRejected(
            f"The file is too big; the limit is {_megabytes(max_bytes)}.", code="image_too_big"
        )
    if not data:
        raise PhotoRejected("The file is empty.", code="not_an_image")
    return data


def _too_many_pixels(width: int, height: int, max_pixels: int) -> PhotoRejected:
    return PhotoRejected(
        f"The image is too large: {width}x{height} pixels "
        f"({width * height / 1_000_000:.1f} megapixels); "
        f"the limit is {max_pixels / 1_000_000:g} megapixels.",
        code="image_too_many_pixels",
    )


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert an embedded colour profile to sRGB, since the profile itself is dropped."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, target, outputMode=mode)
        return converted if converted is not None else img
    except Exception as exc:  # noqa: BLE001 - a broken profile only costs colour accuracy
        logger.info("photo: ignoring unusable colour profile: %s", exc)
        return img


def _flatten_to_rgb(img: Image.Image) -> Image.Image:
    """JPEG has no alpha: put transparent images on white, convert the rest to RGB."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    img.info = {}  # belt and braces: nothing from the source may ride along
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality, progressive=True, exif=b"")
    return out.getvalue()


def process_upload(
    upload: IO[bytes] | bytes,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> ProcessedPhoto:
    """Check an uploaded photo and return it as a clean, upright JPEG.

    Raises PhotoRejected (a ValidationFailed on the `image` field) with the
    reason: too big, not an image, a format we do not take, too many
    pixels, truncated or corrupt.
    """
    max_bytes = max_bytes or settings.PHOTO_MAX_BYTES
    max_pixels = max_pixels or settings.PHOTO_MAX_PIXELS
    data = _read(upload, max_bytes)
    formats = allowed_formats()
    with warnings.catch_warnings():
        # Pillow warns (not raises) between MAX_IMAGE_PIXELS and twice that.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img: Any = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRejected(
                "The image has too many pixels; "
                f"the limit is {max_pixels / 1_000_000:g} megapixels.",
                code="image_too_many_pixels",
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise PhotoRejected(
                "This file is not an image we can read; upload a JPEG, PNG or WebP photo.",
                code="not_an_image",
            ) from None
        source_format = img.format or "unknown"
        if source_format not in formats:
            readable = ", ".join(sorted(f for f in formats if f != "MPO"))
            raise PhotoRejected(
                f"{source_format} images are not accepted; use {readable}.",
                code="image_format",
            )
        width, height = img.size
        # Decided from the header alone: the pixels are never allocated.
        if width * height > max_pixels:
            raise _too_many_pixels(width, height, max_pixels)
        if width < 1 or height < 1:
            raise PhotoRejected("The image has no pixels.", code="not_an_image")
        try:
            if source_format in ("JPEG", "MPO"):
                # Decode big JPEGs at a reduced scale straight away (much faster).
                img.draft(img.mode, (ORIGINAL_MAX_EDGE, ORIGINAL_MAX_EDGE))
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(width, height, max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError):
            raise PhotoRejected(
                "The image is truncated or corrupt; please upload it again.",
                code="image_corrupt",
            ) from None

    try:
        upright = ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - malformed EXIF: keep the pixels as they are
        logger.info("photo: could not apply EXIF orientation: %s", exc)
        upright = img
    if upright is None:  # only with in_place=True; keeps type checkers calm
        upright = img
    clean = _flatten_to_rgb(_to_srgb(upright))
    if max(clean.size) > ORIGINAL_MAX_EDGE:
        clean.thumbnail((ORIGINAL_MAX_EDGE, ORIGINAL_MAX_EDGE), Image.Resampling.LANCZOS)
    content = _encode_jpeg(clean, JPEG_QUALITY)
    return ProcessedPhoto(
        content=content, width=clean.width, height=clean.height, source_format=source_format
    )


def make_variant(original: bytes, max_edge: int) -> tuple[bytes, int, int]:
    """A smaller JPEG of a stored (already clean) original: (bytes, width, height)."""
    img: Any = Image.open(io.BytesIO(original))
    img.draft(img.mode, (max_edge, max_edge))
    img = _flatten_to_rgb(img)
    img.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    return _encode_jpeg(img, VARIANT_QUALITY), img.width, img.height
