/* The public headers compile as C99 (-std=c99 -pedantic -Wall -Wextra -Werror). */

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ != 199901L
#error "c99.c must be compiled as C99 (-std=c99)"
#endif

#include "headers_body.h"
