/* The support library's API: everything below the IR that every layer uses. */
#ifndef LATHE_SUPPORT_SUPPORT_H
#define LATHE_SUPPORT_SUPPORT_H

#include "support/arena.h"
#include "support/hashmap.h"
#include "support/mapped_file.h"
#include "support/status.h"
#include "support/strbuf.h"

#endif
