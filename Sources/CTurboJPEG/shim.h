// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev): decoding with error codes and messages
// instead of libjpeg's longjmp-based error handling. Only Sources/Engine/ImageCodec.swift calls it.
#include <turbojpeg.h>
