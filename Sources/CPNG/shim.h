// libpng (Debian libpng-dev): the simplified png_image read/write API, which reports errors through
// png_image.message instead of longjmp. Only Sources/Engine/ImageCodec.swift calls into it.
#include <png.h>
