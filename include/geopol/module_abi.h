/*
 * module_abi.h - the one C symbol every geopol module exports.
 *
 * A module is a shared object that exports exactly one symbol,
 * geopol_module_entry(), returning a pointer to a static descriptor. The
 * loader checks the descriptor (ABI number, struct size, name, build tag)
 * before it calls create(), so a module built against another version of
 * these headers is refused with a clear message instead of crashing.
 *
 * The real interface is the C++ class geopol::Module (module.hpp) returned
 * by create(). That is safe because every module is built in-tree by the
 * same compiler as the core; the build tag enforces it.
 */
#pragma once

#include <stdint.h>

#include "geopol_version.h"

/* Bump on any incompatible change to this file or to any header under
 * include/geopol/ (module.hpp, request.hpp, facts.hpp, host.hpp, ...). The
 * build tag also carries a digest of those headers (meson.build), so a module
 * built against any other version of them is refused even if nobody bumped
 * this number. */
/* 2: Request keeps its attributes in one buffer; Attribute holds views. */
/* 3: PolicyQuery takes a QueryMode; Verdict carries the lists of the policy. */
#define GEOPOL_MODULE_ABI 3

#define GEOPOL_MODULE_ENTRY_SYMBOL "geopol_module_entry"

#if defined(__GNUC__)
#define GEOPOL_EXPORT __attribute__((visibility("default")))
#else
#define GEOPOL_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct geopol_module_info {
    uint32_t abi;          /* GEOPOL_MODULE_ABI at build time */
    uint32_t size;         /* sizeof(struct geopol_module_info) */
    const char *name;      /* "memory-store": folder, YAML name, file stem */
    const char *build_tag; /* GEOPOL_BUILD_TAG at build time */
    void *(*create)(void); /* a new geopol::Module*, owned by the core; NULL on failure */
};

typedef const struct geopol_module_info *(*geopol_module_entry_fn)(void);

#ifdef __cplusplus
}
#endif
