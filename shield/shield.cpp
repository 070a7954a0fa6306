// The shield keeps no state of its own yet; this unit anchors the module.
#include "shield/shield.hpp"
