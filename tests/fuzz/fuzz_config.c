/* libFuzzer harness: bytes as the config file. A config that loads must dump
 * to JSON that loads again to the same dump (the dump is a faithful config). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/config.h"

static char *dump_string(const bw_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    if (bw_config_dump(c, f) != 0)
        abort();
    if (fclose(f) != 0)
        abort();
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *no_env[] = {NULL};
    char err[512], path[64];
    bw_config *c = NULL;
    if (bw_config_load_buffer((const char *)data, size, "fuzz", no_env, &c, err, sizeof(err)) !=
        0) {
        /* Errors are always one NUL-terminated line. */
        if (c != NULL || memchr(err, '\0', sizeof(err)) == NULL || strchr(err, '\n') != NULL)
            abort();
        return 0;
    }
    const char *items[8];
    size_t n = bw_config_risky(c, items, 8);
    for (size_t i = 0; i < n && i < 8; i++) {
        if (items[i] == NULL || items[i][0] == '\0')
            abort();
    }
    (void)bw_config_path_in_data(c, c->store.file, path, sizeof(path));
    (void)bw_config_listen_is_loopback(c->server.listen);

    char *first = dump_string(c);
    bw_config *again = NULL;
    if (bw_config_load_buffer(first, strlen(first), "dump", no_env, &again, err, sizeof(err)) != 0)
        abort();
    char *second = dump_string(again);
    if (strcmp(first, second) != 0)
        abort();
    free(first);
    free(second);
    bw_config_free(again);
    bw_config_free(c);
    return 0;
}
