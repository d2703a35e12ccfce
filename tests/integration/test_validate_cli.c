/* `notes validate --schema FILE --instance FILE`: exit 0 and "valid", exit 1 with one line per
 * failure (pointer, keyword, message, never the value), exit 2 for a bad schema or usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char *dir;

static char *write_file(const char *name, const char *text)
{
    size_t cap = strlen(dir) + strlen(name) + 2;
    char *path = malloc(cap);
    assert_non_null(path);
    assert_true(snprintf(path, cap, "%s/%s", dir, name) < (int)cap);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void run_validate(const char *schema, const char *instance, bw_run_result *res)
{
    const char *argv[] = {"validate", "--schema", schema, "--instance", instance, NULL};
    assert_int_equal(bw_run(argv, NULL, BW_RUN_TIMEOUT_MS, res), 0);
    assert_false(res->timed_out);
}

static void test_validate(void **state)
{
    (void)state;
    dir = bw_tmpdir_create();
    assert_non_null(dir);
    char schema[600];
    snprintf(schema, sizeof schema, "%s/app/schemas/note_create.json", BW_SOURCE_DIR);
    char *good = write_file("good.json", "{\"title\":\"t\",\"body\":\"b\"}");
    char *bad = write_file("bad.json", "{\"title\":\"\",\"body\":\"secret-value-42\",\"x\":1}");
    char *bad_schema = write_file("s.json", "{\"type\":\"strin\"}");
    char *not_json = write_file("nj.json", "{\"title\":");
    bw_run_result res;

    run_validate(schema, good, &res);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "valid\n");
    bw_run_free(&res);

    run_validate(schema, bad, &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.out, "/title: minLength"));
    assert_non_null(strstr(res.out, "/x: additionalProperties"));
    assert_null(strstr(res.out, "secret-value-42"));
    bw_run_free(&res);

    run_validate(bad_schema, good, &res);
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, "/type"));
    bw_run_free(&res);

    run_validate(schema, not_json, &res);
    assert_int_equal(res.status, 2);
    bw_run_free(&res);

    const char *usage[] = {"validate", "--schema", schema, NULL};
    assert_int_equal(bw_run(usage, NULL, BW_RUN_TIMEOUT_MS, &res), 0);
    assert_int_equal(res.status, 2);
    bw_run_free(&res);

    free(good);
    free(bad);
    free(bad_schema);
    free(not_json);
    bw_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_validate)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
