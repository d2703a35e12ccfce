/* GET /v1/admin/audit for an app to mount (permission audit:read): the newest records
 * first, filtered by event (or "prefix.*"), actor and time, in keyset pages. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "bulwark/audit.h"
#include "bulwark/config.h"
#include "bulwark/req.h"
#include "bulwark/res.h"

#define AUDIT_PAGE_DEFAULT 50
#define AUDIT_PAGE_MAX 100

static long long query_int(const json_t *q, const char *name, long long absent)
{
    const json_t *v = json_object_get(q, name);
    return json_is_integer(v) ? (long long)json_integer_value(v) : absent;
}

/* One record as the export writes it (bw_audit_record_json), as a JSON value. */
static json_t *record_value(const bw_audit_record *r, char *buf, size_t cap)
{
    int n = bw_audit_record_json(r, buf, cap);
    return n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
}

int bw_audit_handle_list(bw_req *req, bw_res *res)
{
    const json_t *q = bw_req_query_json(req);
    const bw_config *cfg = bw_req_config(req);
    long long limit = query_int(q, "limit", AUDIT_PAGE_DEFAULT);
    bw_audit_filter f = {
        .event = json_string_value(json_object_get(q, "event")),
        .actor = json_string_value(json_object_get(q, "actor")),
        .since_ms = query_int(q, "since", 0) * 1000,
        .until_ms = query_int(q, "until", 0) * 1000,
        .before_seq = query_int(q, "before", 0),
    };
    char path[4096], err[256];
    char *line = NULL;
    bw_audit_record *recs = NULL;
    json_t *items = NULL;
    sqlite3 *db = NULL;
    int n, rc;

    /* The schema bounds them; checked again because the handler must not trust its mount. */
    if (limit < 1 || limit > AUDIT_PAGE_MAX || f.since_ms < 0 || f.until_ms < 0 || f.before_seq < 0)
        return bw_res_problem(res, 400, "limit, since, until or before is out of range.");
    if (bw_config_path_in_data(cfg, cfg->audit.file, path, sizeof(path)) == NULL ||
        (db = bw_audit_open_readonly(path, err, sizeof(err))) == NULL)
        return bw_res_problem(res, 503, "The audit trail cannot be read right now.");
    recs = calloc((size_t)limit, sizeof(*recs));
    line = malloc(BW_AUDIT_JSON_MAX); /* worker stacks are small */
    n = recs != NULL && line != NULL ? bw_audit_query(db, &f, recs, (size_t)limit, err, sizeof(err))
                                     : -1;
    sqlite3_close(db);
    items = n >= 0 ? json_array() : NULL;
    for (int i = 0; items != NULL && i < n; i++) {
        json_t *v = record_value(&recs[i], line, BW_AUDIT_JSON_MAX);
        if (v == NULL || json_array_append_new(items, v) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    free(line);
    if (items == NULL) {
        free(recs);
        return bw_res_problem(res, 500, NULL);
    }
    /* A full page may have more behind it: the next page starts below its last seq. */
    rc = bw_res_json(
        res, 200,
        json_pack("{s:o, s:o}", "items", items, "next_before",
                  n == limit ? json_integer((json_int_t)recs[n - 1].seq) : json_null()));
    free(recs);
    return rc;
}
