/* The public headers compile as C89 (-ansi -pedantic -Wall -Wextra -Werror). */

#if defined(__STDC_VERSION__)
#error "c89.c must be compiled as C89/C90 (-ansi)"
#endif

#include "headers_body.h"
