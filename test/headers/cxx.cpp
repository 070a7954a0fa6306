// The public headers compile as C++20 (-Wall -Wextra -Werror), as the
// library itself and C++ clients include them.

#if __cplusplus < 202002L
#error "cxx.cpp must be compiled as C++20"
#endif

#include "headers_body.h"
