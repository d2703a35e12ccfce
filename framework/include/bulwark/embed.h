/* Files compiled into the executable at build time (cmake/embed_files.cmake). */
#ifndef BULWARK_EMBED_H
#define BULWARK_EMBED_H

#include <stddef.h>

typedef struct bw_embedded_file {
    const char *name; /* "note_create.json" */
    const char *data; /* len bytes, NUL-terminated */
    size_t len;
} bw_embedded_file;

/* The configuration file's own schema, config/schema.json (in the library). */
extern const bw_embedded_file bw_config_schema_file[];
extern const size_t bw_config_schema_file_count;

#endif
