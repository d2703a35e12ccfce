/* The audit writer: group commit under many threads (every ticket committed, fewer
 * transactions than records), a tiny queue that blocks but never drops, the chain continuing
 * across restarts and across two writers (another connection, another process), export lines
 * and their reopening after rotation, stop draining, wait semantics, a failing database, and
 * bad options. Prints the measured throughput and the latency a waited record adds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "bulwark/audit.h"
#include "bulwark/log.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    char export_path[128];
    unsigned char key[32];
    int logfd;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/bw_audit_writer_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/audit.db", f->dir);
    snprintf(f->export_path, sizeof(f->export_path), "%s/audit.jsonl", f->dir);
    randombytes_buf(f->key, sizeof(f->key));
    f->logfd = memfd_create("bw_audit_log", 0);
    if (f->logfd < 0) {
        free(f);
        return -1;
    }
    bw_log_set_fd(f->logfd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[160];

    bw_audit_stop();
    bw_log_set_fd(2);
    (void)close(f->logfd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void start_opts(fixture *f, size_t cap, size_t batch, const char *export_path)
{
    bw_audit_options o = {.path = f->path,
                          .key = f->key,
                          .keylen = sizeof(f->key),
                          .queue_capacity = cap,
                          .batch_max = batch,
                          .export_path = export_path};
    char err[256] = "";

    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), 0);
}

static uint64_t push_one(const char *event, long long n)
{
    bw_log_field d[] = {BW_LOG_I("n", n)};
    bw_audit_event ev = {.event = event,
                         .outcome = BW_AUDIT_SUCCESS,
                         .actor = "tester",
                         .source = "127.0.0.1",
                         .request_id = "r-1",
                         .target = "t",
                         .detail = d,
                         .ndetail = 1};

    return bw_audit_push(&ev);
}

static bw_audit_verify_result verify(fixture *f)
{
    bw_audit_verify_result r;
    char err[256];
    sqlite3 *db = bw_audit_open_readonly(f->path, err, sizeof(err));

    assert_non_null(db);
    assert_int_equal(bw_audit_verify(db, f->key, sizeof(f->key), &r, err, sizeof(err)), 0);
    sqlite3_close(db);
    return r;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct job {
    int n;
    int wait_each; /* wait for every ticket (the audited-request pattern) */
    int failures;
    uint64_t max_ticket;
} job;

static void *pusher(void *arg)
{
    job *j = arg;
    int i;

    for (i = 0; i < j->n; i++) {
        uint64_t t = push_one("test.load", i);

        if (t == 0) {
            j->failures++;
            continue;
        }
        if (t > j->max_ticket)
            j->max_ticket = t;
        if (j->wait_each && bw_audit_wait(t) != 0)
            j->failures++;
    }
    return NULL;
}

static double run_threads(int nthreads, int per_thread, int wait_each, job *jobs)
{
    pthread_t th[32];
    double t0 = now_s();
    int i;

    assert_true(nthreads <= 32);
    for (i = 0; i < nthreads; i++) {
        jobs[i] = (job){.n = per_thread, .wait_each = wait_each};
        assert_int_equal(pthread_create(&th[i], NULL, pusher, &jobs[i]), 0);
    }
    for (i = 0; i < nthreads; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    return now_s() - t0;
}

static void test_group_commit(void **state)
{
    fixture *f = *state;
    bw_audit_stats s;
    job jobs[16];
    uint64_t sum = 0;
    double secs, one;
    int i;

    /* One thread, waiting for each record: one transaction (one fsync) per record. */
    start_opts(f, 4096, 256, NULL);
    one = now_s();
    for (i = 0; i < 200; i++)
        assert_int_equal(bw_audit_wait(push_one("test.single", i)), 0);
    one = (now_s() - one) / 200;
    /* 16 threads, each waiting for each of its records: they share transactions. */
    secs = run_threads(16, 500, 1, jobs);
    for (i = 0; i < 16; i++)
        assert_int_equal(jobs[i].failures, 0);
    bw_audit_stats_get(&s);
    assert_int_equal(s.committed, 200 + 16 * 500);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.queued, 0);
    assert_true(s.batches < s.committed - 200); /* group commit happened */
    for (i = 0; i < 10; i++)
        sum += s.commit_buckets[i];
    assert_int_equal(sum, s.batches);
    assert_true(s.commit_us_max > 0 && s.commit_us_sum >= s.commit_us_max);
    print_message("audit: 1 thread waiting each: %.0f us per record (%.0f records/s)\n", one * 1e6,
                  1 / one);
    print_message("audit: 16 threads waiting each: %.0f records/s, %.2f records per "
                  "transaction, mean commit %.0f us\n",
                  16 * 500 / secs, (double)(s.committed - 200) / (double)(s.batches - 200),
                  (double)s.commit_us_sum / (double)s.batches);
    bw_audit_stop();
    {
        bw_audit_verify_result r = verify(f);

        assert_true(r.ok);
        assert_int_equal(r.records, 200 + 16 * 500);
    }
}

static void test_tiny_queue(void **state)
{
    fixture *f = *state;
    bw_audit_stats s;
    job jobs[16];
    double secs;
    int i;

    start_opts(f, 64, 64, NULL);
    secs = run_threads(16, 2000, 0, jobs);
    for (i = 0; i < 16; i++)
        assert_int_equal(jobs[i].failures, 0);
    bw_audit_stop();
    bw_audit_stats_get(&s);
    assert_int_equal(s.committed, 32000);
    assert_int_equal(s.failed, 0);
    print_message("audit: queue 64, 16 threads without waiting: %.0f records/s (%.1f per "
                  "transaction)\n",
                  32000 / secs, (double)s.committed / (double)s.batches);
    {
        bw_audit_verify_result r = verify(f);

        assert_true(r.ok);
        assert_int_equal(r.records, 32000);
    }
    /* The tickets of all threads were handed out densely: the largest is the last one. */
    {
        uint64_t max = 0;

        for (i = 0; i < 16; i++)
            if (jobs[i].max_ticket > max)
                max = jobs[i].max_ticket;
        assert_int_equal(bw_audit_wait(max), 0);
        assert_int_equal(bw_audit_wait(max + 1), -1); /* never handed out */
    }
}

/* Appends n records through a separate connection: what another process's writer does. */
static void append_other(fixture *f, sqlite3 *db, int n)
{
    crypto_auth_hmacsha256_state keyed;
    char err[256];
    int i;

    bw_audit_mac_key(&keyed, f->key, sizeof(f->key));
    for (i = 0; i < n; i++) {
        bw_audit_row row, *rows[1] = {&row};
        const char *text[BW_AT_COUNT] = {"test.other", "info", "cli", "", "", "", "{}"};
        int k;

        memset(&row, 0, sizeof(row));
        row.ts_ms = 1;
        for (k = 0; k < BW_AT_COUNT; k++) {
            row.text[k] = text[k];
            row.len[k] = strlen(text[k]);
        }
        assert_int_equal(bw_audit_db_append(db, &keyed, rows, 1, err, sizeof(err)), 0);
    }
}

static void test_chain_continues(void **state)
{
    fixture *f = *state;
    char err[256];
    sqlite3 *other;
    int round, i;
    pid_t child;
    int go[2], status;

    /* Across stop and start. */
    for (round = 0; round < 3; round++) {
        start_opts(f, 16, 4, NULL);
        for (i = 0; i < 5; i++)
            assert_int_equal(bw_audit_wait(push_one("test.restart", i)), 0);
        bw_audit_stop();
    }
    assert_true(verify(f).ok);
    assert_int_equal(verify(f).records, 15);

    /* Two writers alternating: ours and another connection. */
    other = bw_audit_db_open(f->path, err, sizeof(err));
    assert_non_null(other);
    start_opts(f, 16, 4, NULL);
    for (round = 0; round < 5; round++) {
        assert_int_equal(bw_audit_wait(push_one("test.ours", round)), 0);
        append_other(f, other, 2);
    }
    assert_int_equal(bw_audit_wait(push_one("test.ours", 99)), 0);
    bw_audit_stop();
    sqlite3_close(other);
    assert_true(verify(f).ok);
    assert_int_equal(verify(f).records, 15 + 16);

    /* Two processes at once. The child is forked before our writer thread exists (a
     * single-threaded fork), opens its own connection and appends while we do. */
    assert_int_equal(pipe(go), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char c;
        sqlite3 *db;

        (void)close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        db = bw_audit_db_open(f->path, err, sizeof(err));
        if (db == NULL)
            _exit(4);
        append_other(f, db, 300);
        sqlite3_close(db);
        _exit(0);
    }
    (void)close(go[0]);
    start_opts(f, 64, 8, NULL);
    assert_int_equal(write(go[1], "g", 1), 1);
    {
        job jobs[4];

        (void)run_threads(4, 75, 1, jobs);
        for (i = 0; i < 4; i++)
            assert_int_equal(jobs[i].failures, 0);
    }
    bw_audit_stop();
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    (void)close(go[1]);
    assert_true(verify(f).ok);
    assert_int_equal(verify(f).records, 31 + 300 + 300);
}

/* Reads a file of JSON lines; checks each parses and that seqs run first..first+n-1. */
static int check_export(const char *path, int64_t first)
{
    FILE *fp = fopen(path, "r");
    char line[BW_AUDIT_JSON_MAX + 2];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strlen(line);
        json_t *j;

        assert_true(len > 1 && line[len - 1] == '\n');
        j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "seq")), first + n);
        assert_int_equal(strlen(json_string_value(json_object_get(j, "mac"))), 64);
        assert_non_null(json_object_get(json_object_get(j, "detail"), "n"));
        json_decref(j);
        n++;
    }
    fclose(fp);
    return n;
}

static void test_export_and_reopen(void **state)
{
    fixture *f = *state;
    char rotated[160], err[256];
    bw_audit_record rec;
    struct stat st;
    sqlite3 *db;
    int i;

    start_opts(f, 64, 8, f->export_path);
    for (i = 0; i < 20; i++)
        assert_int_equal(bw_audit_wait(push_one("test.export", i)), 0);
    assert_int_equal(stat(f->export_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(rotated, sizeof(rotated), "%s.1", f->export_path);
    assert_int_equal(rename(f->export_path, rotated), 0);
    assert_int_equal(bw_audit_reopen_export(), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(bw_audit_wait(push_one("test.export", i)), 0);
    bw_audit_stop();
    assert_int_equal(check_export(rotated, 1), 20);
    assert_int_equal(check_export(f->export_path, 21), 5);
    /* The export line equals what the database gives back. */
    db = bw_audit_open_readonly(f->path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(bw_audit_query(db, &(bw_audit_filter){0}, &rec, 1, err, sizeof(err)), 1);
    sqlite3_close(db);
    {
        char line[BW_AUDIT_JSON_MAX], want[BW_AUDIT_JSON_MAX + 2];
        FILE *fp = fopen(f->export_path, "r");
        int n = bw_audit_record_json(&rec, line, sizeof(line));

        assert_true(n > 0);
        assert_non_null(fp);
        for (i = 0; i < 5; i++)
            assert_non_null(fgets(want, sizeof(want), fp));
        fclose(fp);
        assert_int_equal(strncmp(want, line, (size_t)n), 0);
    }
    /* Without an export file, reopen is a no-op. */
    assert_int_equal(bw_audit_reopen_export(), 0);
}

static void test_reopen_failure(void **state)
{
    fixture *f = *state;
    char sub[160], path[200];

    snprintf(sub, sizeof(sub), "%s/logs", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/audit.jsonl", sub);
    start_opts(f, 64, 8, path);
    assert_int_equal(bw_audit_wait(push_one("test.export", 1)), 0);
    /* The file is moved away and a folder takes its name: reopen fails (even for root),
     * lines keep going to the old descriptor. */
    {
        char moved[220];

        snprintf(moved, sizeof(moved), "%s/old.jsonl", sub);
        assert_int_equal(rename(path, moved), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(bw_audit_reopen_export(), -1);
        assert_int_equal(bw_audit_wait(push_one("test.export", 2)), 0);
        assert_int_equal(rmdir(path), 0);
        bw_audit_stop();
        assert_int_equal(check_export(moved, 1), 2);
        assert_int_equal(access(path, F_OK), -1);
    }
}

static void test_stop_drains(void **state)
{
    fixture *f = *state;
    bw_audit_stats s;
    uint64_t first = 0, last = 0;
    int i;

    start_opts(f, 1000, 1, NULL); /* one record per transaction: slow to drain */
    for (i = 0; i < 300; i++) {
        last = push_one("test.drain", i);
        assert_true(last > 0);
        if (first == 0)
            first = last;
    }
    bw_audit_stop();
    bw_audit_stats_get(&s);
    assert_int_equal(s.committed, 300);
    assert_int_equal(s.batches, 300);
    assert_int_equal(s.queued, 0);
    assert_int_equal(verify(f).records, 300);
    /* Waiting after stop still answers; pushing after stop queues nothing. */
    assert_int_equal(bw_audit_wait(first), 0);
    assert_int_equal(bw_audit_wait(last), 0);
    assert_int_equal(push_one("test.drain", 0), 0);
    assert_int_equal(bw_audit_wait(0), 0);
    bw_audit_stop(); /* a second stop is a no-op */
}

static void test_wait_semantics(void **state)
{
    fixture *f = *state;

    assert_int_equal(bw_audit_wait(0), 0); /* no writer: nothing to wait for */
    assert_int_equal(push_one("test.none", 1), 0);
    start_opts(f, 8, 8, NULL);
    assert_int_equal(bw_audit_wait(0), -1); /* writer running: ticket 0 was not recorded */
    assert_int_equal(bw_audit_wait(UINT64_MAX), -1);
    assert_int_equal(bw_audit_push(NULL), 0);
    assert_int_equal(bw_audit_push(&(bw_audit_event){.event = NULL}), 0);
    assert_int_equal(bw_audit_wait(push_one("test.ok", 1)), 0);
    bw_audit_stop();
    bw_audit_stats_get(NULL); /* no crash */
}

static void test_write_failure(void **state)
{
    fixture *f = *state;
    char err[256], logbuf[4096];
    bw_audit_stats s;
    sqlite3 *db;
    uint64_t t;
    ssize_t n;

    start_opts(f, 8, 8, NULL);
    assert_int_equal(bw_audit_wait(push_one("test.ok", 1)), 0);
    /* Someone removes the table under the writer: every attempt fails. */
    db = bw_audit_db_open(f->path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE audit_log", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    t = push_one("test.lost", 2);
    assert_true(t > 0);
    assert_int_equal(bw_audit_wait(t), -1);
    bw_audit_stats_get(&s);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.committed, 1);
    bw_audit_stop();
    assert_int_equal(bw_audit_wait(t), -1); /* still known as failed */
    assert_int_equal(lseek(f->logfd, 0, SEEK_SET), 0);
    n = read(f->logfd, logbuf, sizeof(logbuf) - 1);
    assert_true(n > 0);
    logbuf[n] = '\0';
    assert_non_null(strstr(logbuf, "\"audit.write_failed\""));
    assert_non_null(strstr(logbuf, "\"count\":1"));
}

static void test_bad_options(void **state)
{
    fixture *f = *state;
    unsigned char key[32] = {0};
    char err[256], bad_export[160];
    bw_audit_options ok = {
        .path = f->path, .key = key, .keylen = 32, .queue_capacity = 8, .batch_max = 8};
    bw_audit_options o;

    assert_int_equal(bw_audit_start(NULL, err, sizeof(err)), -1);
    o = ok;
    o.path = "";
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    o = ok;
    o.keylen = 15;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    o = ok;
    o.key = NULL;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    o = ok;
    o.queue_capacity = 0;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    o = ok;
    o.batch_max = 0;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    o = ok;
    snprintf(bad_export, sizeof(bad_export), "%s/no/such/dir/x.jsonl", f->dir);
    o.export_path = bad_export;
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "export"));
    o = ok;
    o.path = "/nonexistent-dir/audit.db";
    assert_int_equal(bw_audit_start(&o, err, sizeof(err)), -1);
    /* After all those failures a good start works, and a second one is refused. */
    assert_int_equal(bw_audit_start(&ok, err, sizeof(err)), 0);
    assert_int_equal(bw_audit_start(&ok, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already"));
    bw_audit_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tiny_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
